// Batch/Instance/Layer/Group/Lp normalization, LRN, MVN: reference fixtures, inference, refusals.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
const std::vector<FxCase> kNormalizationCases = {
#include "fixtures/normalization_cases.inc"
};

Tensor filled(std::vector<int64_t> dims, float v) {
  Tensor t(DType::kFloat32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v;
  return t;
}
}  // namespace

KILN_FIXTURE_SUITE(NormalizationFixture, kNormalizationCases);

TEST(BatchNormalization, TrainingModeIsUnsupported) {
  Tensor x = filled({1, 2, 2}, 1), p = filled({2}, 1);
  try {
    OpCall("BatchNormalization", 15).attr("training_mode", int64_t{1}).run({x, p, p, p, p});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  // Before opset 14, listing the batch statistics outputs is what asks for training.
  try {
    OpCall("BatchNormalization", 9).outputs(3).run({x, p, p, p, p});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
}

TEST(BatchNormalization, ParameterCountMustMatchChannels) {
  Tensor x = filled({1, 3, 2}, 1), p = filled({2}, 1);
  EXPECT_THROW(OpCall("BatchNormalization", 15).run({x, p, p, p, p}), Error);
  auto ok = InferCall("BatchNormalization", 15).run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(3), sym("h")})),
                                                     vinfo(DType::kFloat32, Shape({Dim(3)})), vinfo(DType::kFloat32, Shape({Dim(3)})),
                                                     vinfo(DType::kFloat32, Shape({Dim(3)})), vinfo(DType::kFloat32, Shape({Dim(3)}))});
  EXPECT_EQ(ok[0].shape, Shape({sym("n"), Dim(3), sym("h")}));
  EXPECT_THROW(InferCall("BatchNormalization", 15).run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(3)})),
                                                        vinfo(DType::kFloat32, Shape({Dim(4)})), vinfo(DType::kFloat32, Shape({Dim(3)})),
                                                        vinfo(DType::kFloat32, Shape({Dim(3)})), vinfo(DType::kFloat32, Shape({Dim(3)}))}),
               Error);
}

TEST(LayerNormalization, InfersStatisticsShapeAndStashType) {
  auto out = InferCall("LayerNormalization", 17)
                 .attr(attr_i("axis", -2))
                 .run({vinfo(DType::kFloat16, Shape({sym("b"), sym("t"), Dim(4), Dim(8)})),
                       vinfo(DType::kFloat16, Shape({Dim(4), Dim(8)}))},
                      3);
  EXPECT_EQ(out[0].dtype, DType::kFloat16);
  EXPECT_EQ(out[0].shape, Shape({sym("b"), sym("t"), Dim(4), Dim(8)}));
  EXPECT_EQ(out[1].dtype, DType::kFloat32);
  EXPECT_EQ(out[1].shape, Shape({sym("b"), sym("t"), Dim(1), Dim(1)}));
  EXPECT_EQ(out[2].shape, out[1].shape);
  EXPECT_THROW(InferCall("LayerNormalization", 17).run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(8)})),
                                                        vinfo(DType::kFloat32, Shape({Dim(7)}))}),
               Error);
}

TEST(GroupNormalization, ChannelsMustDivideIntoGroups) {
  Tensor x = filled({1, 6, 2}, 1), p = filled({6}, 1);
  EXPECT_THROW(OpCall("GroupNormalization", 21).attr("num_groups", int64_t{4}).run({x, p, p}), Error);
  EXPECT_THROW(OpCall("GroupNormalization", 21).attr("num_groups", int64_t{0}).run({x, p, p}), Error);
  // Opset 21 wants one scale per channel; per-group values are refused.
  Tensor g = filled({3}, 1);
  EXPECT_THROW(OpCall("GroupNormalization", 21).attr("num_groups", int64_t{3}).run({x, g, g}), Error);
}

TEST(GroupNormalization, Opset18ScaleIsPerGroup) {
  // Two groups of two channels; group 0 is scaled by 2 and shifted by 10, group 1 scaled by 0.
  Tensor x = Tensor::from_vector<float>({1, 4, 2}, {1, 3, 1, 3, 5, 7, 9, 11});
  Tensor scale = Tensor::from_vector<float>({2}, {2, 0});
  Tensor bias = Tensor::from_vector<float>({2}, {10, -1});
  Tensor y = OpCall("GroupNormalization", 18).attr("num_groups", int64_t{2}).attr("epsilon", 0.0f).run1({x, scale, bias});
  // group 0 = {1,3,1,3}: mean 2, std 1 → ±1 → 10 ± 2
  std::vector<float> want = {8, 12, 8, 12, -1, -1, -1, -1};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(y.data<float>()[i], want[i], 1e-5) << i;
}

TEST(LpNormalization, RejectsOtherP) {
  EXPECT_THROW(OpCall("LpNormalization", 1).attr("p", int64_t{3}).run({filled({2, 2}, 1)}), Error);
}

TEST(LRN, RejectsNonPositiveSizeAndLowRank) {
  EXPECT_THROW(OpCall("LRN", 13).attr("size", int64_t{0}).run({filled({1, 2, 2}, 1)}), Error);
  EXPECT_THROW(OpCall("LRN", 13).attr("size", int64_t{3}).run({filled({2, 2}, 1)}), Error);
}

TEST(MeanVarianceNormalization, DefaultAxesNeedRank4) {
  EXPECT_THROW(OpCall("MeanVarianceNormalization", 13).run({filled({2, 3}, 1)}), Error);
}
