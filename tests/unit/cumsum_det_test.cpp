// CumSum (exclusive, reverse, every axis) and Det against reference fixtures.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace cumsum_det_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/cumsum_det_cases.inc"
}  // namespace cumsum_det_cases
}  // namespace

KILN_FIXTURE_SUITE(CumSumDetFixture, cumsum_det_cases::kFixtureCases);

TEST(CumSum, AxisMustBeScalarInRange) {
  Tensor x(DType::kFloat32, {2, 3});
  EXPECT_THROW(OpCall("CumSum", 14).run({x, Tensor::scalar<int64_t>(2)}), Error);
  EXPECT_THROW(OpCall("CumSum", 14).run({x, Tensor::from_vector<int64_t>({2}, {0, 1})}), Error);
  EXPECT_THROW(OpCall("CumSum", 14).run({x, Tensor::scalar<float>(0)}), Error);
}

TEST(CumSum, SpecExample) {
  Tensor x = Tensor::from_vector<float>({3}, {1, 2, 3});
  Tensor y = OpCall("CumSum", 14).attr("exclusive", int64_t{1}).attr("reverse", int64_t{1}).run1({x, Tensor::scalar<int32_t>(0)});
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 3), (std::vector<float>{5, 3, 0}));
}

TEST(Det, InferenceDropsMatrixDims) {
  auto out = InferCall("Det", 11).run({vinfo(DType::kFloat32, Shape({sym("b"), Dim(3), Dim(3)}))});
  EXPECT_EQ(out[0].shape, Shape({sym("b")}));
  EXPECT_THROW(InferCall("Det", 11).run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(3)}))}), Error);
  EXPECT_THROW(InferCall("Det", 11).run({vinfo(DType::kFloat32, Shape({Dim(3)}))}), Error);
}

TEST(Det, EmptyMatrixIsOne) {
  Tensor x(DType::kFloat32, {2, 0, 0});
  Tensor y = OpCall("Det", 22).run1({x});
  ASSERT_EQ(y.numel(), 2);
  EXPECT_EQ(y.data<float>()[0], 1.0f);
}
