// Batch/Instance/Layer/Group/Lp normalization, LRN, MVN: reference fixtures, inference, refusals.

#include <cmath>
#include <optional>

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace normalization_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/normalization_cases.inc"
}  // namespace normalization_cases

Tensor filled(std::vector<int64_t> dims, float v) {
  Tensor t(DType::kFloat32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v;
  return t;
}
}  // namespace

KILN_FIXTURE_SUITE(NormalizationFixture, normalization_cases::kFixtureCases);

TEST(BatchNormalization, TrainingModeUsesBatchStatistics) {
  // Two channels over [N=2, C=2, 2]: channel 0 holds 1,3,5,7 (mean 4, variance 5), channel 1 is 2 everywhere.
  const Tensor x = Tensor::from_vector<float>({2, 2, 2}, {1, 3, 2, 2, 5, 7, 2, 2});
  const Tensor scale = Tensor::from_vector<float>({2}, {2, 1}), bias = Tensor::from_vector<float>({2}, {1, 0});
  const Tensor mean = Tensor::from_vector<float>({2}, {0, 10}), var = Tensor::from_vector<float>({2}, {1, 4});
  auto out = OpCall("BatchNormalization", 15)
                 .attr("training_mode", int64_t{1})
                 .attr("epsilon", 0.5f)
                 .attr("momentum", 0.75f)
                 .outputs(3)
                 .run({x, scale, bias, mean, var});
  const double inv = 1 / std::sqrt(5.0 + 0.5);  // channel 1 has variance 0: (2 - 2) / sqrt(0.5) = 0
  const std::vector<double> want_y{2 * -3 * inv + 1, 2 * -1 * inv + 1, 0, 0, 2 * 1 * inv + 1, 2 * 3 * inv + 1, 0, 0};
  for (size_t i = 0; i < want_y.size(); ++i) EXPECT_NEAR(out[0].data<float>()[i], want_y[i], 1e-6) << i;
  // running = input * momentum + batch * (1 - momentum)
  EXPECT_FLOAT_EQ(out[1].data<float>()[0], 0 * 0.75f + 4 * 0.25f);
  EXPECT_FLOAT_EQ(out[1].data<float>()[1], 10 * 0.75f + 2 * 0.25f);
  EXPECT_FLOAT_EQ(out[2].data<float>()[0], 1 * 0.75f + 5 * 0.25f);
  EXPECT_FLOAT_EQ(out[2].data<float>()[1], 4 * 0.75f + 0 * 0.25f);
  // Inference gives the statistics outputs the type and shape of mean and var (BatchNormalization-15's U).
  auto infos = InferCall("BatchNormalization", 15)
                   .attr(attr_i("training_mode", 1))
                   .run({vinfo(DType::kFloat16, Shape({sym("n"), Dim(3)})), vinfo(DType::kFloat32, Shape({Dim(3)})),
                         vinfo(DType::kFloat32, Shape({Dim(3)})), vinfo(DType::kFloat64, Shape({Dim(3)})),
                         vinfo(DType::kFloat64, Shape({Dim(3)}))},
                        3);
  EXPECT_EQ(infos[0].dtype, DType::kFloat16);
  EXPECT_EQ(infos[1].dtype, DType::kFloat64);
  EXPECT_EQ(infos[2].shape, Shape({Dim(3)}));
}

TEST(BatchNormalization, TrainingModeErrors) {
  Tensor x = filled({1, 2, 2}, 1), p = filled({2}, 1);
  auto code_of = [&](OpCall call) -> std::optional<ErrorCode> {
    try {
      call.run({x, p, p, p, p});
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  };
  // training_mode is 0 or 1; statistics outputs need training_mode=1.
  EXPECT_EQ(code_of(OpCall("BatchNormalization", 15).attr("training_mode", int64_t{2})), ErrorCode::kInvalidModel);
  EXPECT_EQ(code_of(OpCall("BatchNormalization", 15).outputs(3)), ErrorCode::kInvalidModel);
  // Before opset 14, listing the batch statistics outputs is what asks for training: still refused.
  EXPECT_EQ(code_of(OpCall("BatchNormalization", 9).outputs(3)), ErrorCode::kUnsupported);
  // Training with only Y listed is fine.
  EXPECT_EQ(code_of(OpCall("BatchNormalization", 14).attr("training_mode", int64_t{1})), std::nullopt);
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
