// GridSample (2-D and N-d, every mode × padding × align_corners) and AffineGrid against reference
// fixtures, plus inference and refusals.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace grid_sample_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/grid_sample_cases.inc"
}  // namespace grid_sample_cases
}  // namespace

KILN_FIXTURE_SUITE(GridSampleFixture, grid_sample_cases::kFixtureCases);

TEST(GridSample, InferenceTakesSpatialDimsFromGrid) {
  auto out = InferCall("GridSample", 20).run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(3), sym("h"), sym("w")})),
                                              vinfo(DType::kFloat32, Shape({sym("n"), Dim(7), Dim(9), Dim(2)}))});
  EXPECT_EQ(out[0].shape, Shape({sym("n"), Dim(3), Dim(7), Dim(9)}));
  // The grid's last dim must be the number of spatial dims.
  EXPECT_THROW(InferCall("GridSample", 20).run({vinfo(DType::kFloat32, Shape({Dim(1), Dim(3), Dim(4), Dim(4)})),
                                                vinfo(DType::kFloat32, Shape({Dim(1), Dim(2), Dim(2), Dim(3)}))}),
               Error);
  // Opset 16 is 4-D only and uses the old mode names.
  EXPECT_THROW(InferCall("GridSample", 16).run({vinfo(DType::kFloat32, Shape({Dim(1), Dim(3), Dim(4), Dim(4), Dim(4)})),
                                                vinfo(DType::kFloat32, Shape({Dim(1), Dim(2), Dim(2), Dim(2), Dim(3)}))}),
               Error);
  EXPECT_THROW(InferCall("GridSample", 16).attr(attr_s("mode", "linear")).run(
                   {vinfo(DType::kFloat32, Shape({Dim(1), Dim(3), Dim(4), Dim(4)})),
                    vinfo(DType::kFloat32, Shape({Dim(1), Dim(2), Dim(2), Dim(2)}))}),
               Error);
}

TEST(GridSample, NaNGridReadsPadding) {
  Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor grid = Tensor::from_vector<float>({1, 1, 1, 2}, {NAN, 0});
  EXPECT_EQ(OpCall("GridSample", 20).run1({x, grid}).data<float>()[0], 0.0f);
}

TEST(GridSample, BatchMismatchIsBadInput) {
  Tensor x(DType::kFloat32, {2, 1, 2, 2});
  Tensor grid(DType::kFloat32, {1, 1, 1, 2});
  EXPECT_THROW(OpCall("GridSample", 20).run({x, grid}), Error);
}

TEST(AffineGrid, InferenceFromSizeValueOrLength) {
  Tensor size = Tensor::from_vector<int64_t>({4}, {2, 3, 5, 7});
  auto known = InferCall("AffineGrid", 20).run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(2), Dim(3)})),
                                                vinfo(DType::kInt64, Shape({Dim(4)}), &size)});
  EXPECT_EQ(known[0].shape, Shape({Dim(2), Dim(5), Dim(7), Dim(2)}));
  auto rank_only = InferCall("AffineGrid", 20).run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(3), Dim(4)})),
                                                    vinfo(DType::kInt64, Shape({Dim(5)}))});
  EXPECT_EQ(rank_only[0].shape, Shape({sym("n"), Dim(), Dim(), Dim(), Dim(3)}));
}

TEST(AffineGrid, SinglePositionSitsAtCentreLikePyTorch) {
  // torch.nn.functional.affine_grid(theta, [1, 1, 1, 3], align_corners=True) for this theta gives
  // [-0.9, -0.5, 0.1, -0.2, 1.1, 0.1]: the lone row is at y = 0 (onnx.reference would put it at -1).
  Tensor theta = Tensor::from_vector<float>({1, 2, 3}, {1, 0.2f, 0.1f, 0.3f, 1, -0.2f});
  Tensor size = Tensor::from_vector<int64_t>({4}, {1, 1, 1, 3});
  Tensor g = OpCall("AffineGrid", 20).attr("align_corners", int64_t{1}).run1({theta, size});
  std::vector<float> want = {-0.9f, -0.5f, 0.1f, -0.2f, 1.1f, 0.1f};
  ASSERT_EQ(g.numel(), 6);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g.data<float>()[i], want[i], 1e-6) << i;
}

TEST(AffineGrid, ThetaMustMatchSize) {
  Tensor theta(DType::kFloat32, {1, 2, 3});
  EXPECT_THROW(OpCall("AffineGrid", 20).run({theta, Tensor::from_vector<int64_t>({5}, {1, 1, 2, 2, 2})}), Error);
  EXPECT_THROW(OpCall("AffineGrid", 20).run({theta, Tensor::from_vector<int64_t>({4}, {2, 1, 2, 2})}), Error);
}
