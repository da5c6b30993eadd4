// CausalConvWithState: hand-computed causal depthwise convolutions (with and without a carried state, bias,
// the fused SiLU, an input shorter than the carry), symbolic inference, and the refusals.

#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::error_of;
using kiln::testing::expect_close;
using kiln::testing::f32;
using kiln::testing::InferNode;
using kiln::testing::OpCall;

namespace {

std::vector<Tensor> causal_conv(const std::vector<Tensor>& inputs, const std::string& activation = "none") {
  return OpCall("CausalConvWithState", 27).attr("activation", activation).outputs(2).run(inputs);
}

// weight [1, 10, 100]: the last tap multiplies the current position, the first the oldest.
TEST(CausalConvWithState, ZeroPaddedWithoutPastState) {
  const auto out = causal_conv({f32({1, 1, 3}, {1, 2, 3}), f32({1, 1, 3}, {1, 10, 100})});
  expect_close(out[0], f32({1, 1, 3}, {100, 210, 321}));  // 0+0+100, 0+10+200, 1+20+300
  expect_close(out[1], f32({1, 1, 2}, {2, 3}));
}

TEST(CausalConvWithState, PastStateFillsTheLeftPadAndBiasAdds) {
  const auto out = causal_conv({f32({1, 1, 3}, {1, 2, 3}), f32({1, 1, 3}, {1, 10, 100}), f32({1}, {0.5f}),
                                f32({1, 1, 2}, {5, 6})});
  expect_close(out[0], f32({1, 1, 3}, {165.5f, 216.5f, 321.5f}));  // 5+60+100, 6+10+200, 1+20+300
  expect_close(out[1], f32({1, 1, 2}, {2, 3}));
}

TEST(CausalConvWithState, ChannelsAndBatchesAreIndependent) {
  // Two channels with different kernels, two batches with different states; k = 2.
  const Tensor x = f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const Tensor w = f32({2, 1, 2}, {1, 0, 0, 2});  // channel 0 delays by one, channel 1 doubles
  const Tensor past = f32({2, 2, 1}, {-1, -2, -3, -4});
  const auto out = causal_conv({x, w, Tensor(), past});
  expect_close(out[0], f32({2, 2, 2}, {-1, 1, 6, 8, -3, 5, 14, 16}));
  expect_close(out[1], f32({2, 2, 1}, {2, 4, 6, 8}));
}

TEST(CausalConvWithState, SiluAndSwishAreTheSameFusedActivation) {
  const Tensor x = f32({1, 1, 3}, {0, 1, -1});
  const Tensor w = f32({1, 1, 2}, {0, 1});  // identity
  const Tensor want = f32({1, 1, 3}, {0.f, 0.7310585786f, -0.2689414214f});
  expect_close(causal_conv({x, w}, "silu")[0], want);
  expect_close(causal_conv({x, w}, "swish")[0], want);
  expect_close(causal_conv({x, w}, "none")[0], x);
}

TEST(CausalConvWithState, ShortInputCarriesPartOfThePastState) {
  // L = 1 < k - 1 = 3: the new carry is the old one shifted by one, then the input.
  const Tensor x = f32({1, 1, 1}, {9}), ones = f32({1, 1, 4}, {1, 1, 1, 1});
  const auto out = causal_conv({x, ones, Tensor(), f32({1, 1, 3}, {1, 2, 3})});
  expect_close(out[0], f32({1, 1, 1}, {15}));
  expect_close(out[1], f32({1, 1, 3}, {2, 3, 9}));
  // Without a past state the carry keeps some of the zero padding.
  const auto fresh = causal_conv({x, ones});
  expect_close(fresh[1], f32({1, 1, 3}, {0, 0, 9}));
}

TEST(CausalConvWithState, KernelSizeOneHasAnEmptyState) {
  const auto out = causal_conv({f32({1, 2, 2}, {1, 2, 3, 4}), f32({2, 1, 1}, {2, -1})});
  expect_close(out[0], f32({1, 2, 2}, {2, 4, -3, -4}));
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{1, 2, 0}));
}

TEST(CausalConvWithState, HalfPrecisionMatchesFloatWithinRounding) {
  Tensor x(DType::kFloat16, {1, 1, 3}), w(DType::kFloat16, {1, 1, 2});
  const float xs[] = {0.5f, 0.25f, -1.f}, ws[] = {1.5f, 2.f};
  for (int i = 0; i < 3; ++i) x.data<Float16>()[i] = Float16(xs[i]);
  for (int i = 0; i < 2; ++i) w.data<Float16>()[i] = Float16(ws[i]);
  const auto out = causal_conv({x, w}, "silu");
  ASSERT_EQ(out[0].dtype(), DType::kFloat16);
  const double conv[] = {1.0, 0.75 + 0.5, 0.375 - 2.0};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(float(out[0].data<Float16>()[i]), float(Float16(float(conv[i] / (1 + std::exp(-conv[i]))))));
  EXPECT_EQ(float(out[1].data<Float16>()[0]), -1.f);
}

TEST(CausalConvWithState, BFloat16StoresTheRoundedSum) {
  Tensor x(DType::kBFloat16, {1, 1, 3}), w(DType::kBFloat16, {1, 1, 3});
  const float xs[] = {1, 2, 3}, ws[] = {1, 10, 100};
  for (int i = 0; i < 3; ++i) x.data<BFloat16>()[i] = BFloat16(xs[i]), w.data<BFloat16>()[i] = BFloat16(ws[i]);
  const auto out = causal_conv({x, w});
  ASSERT_EQ(out[0].dtype(), DType::kBFloat16);
  // 321 needs 9 significant bits; bfloat16 keeps 8, so it is stored as 320.
  EXPECT_EQ(float(out[0].data<BFloat16>()[1]), 210.f);
  EXPECT_EQ(float(out[0].data<BFloat16>()[2]), 320.f);
}

TEST(CausalConvWithState, InferenceKeepsSymbolsAndDerivesTheCarry) {
  auto out = InferNode("CausalConvWithState", 27)
                 .run({{DType::kFloat16, Shape({Dim::symbol("batch"), Dim(8), Dim::symbol("seq")})},
                       {DType::kFloat16, Shape::from({8, 1, 4})}},
                      2);
  EXPECT_EQ(out[0].shape, Shape({Dim::symbol("batch"), Dim(8), Dim::symbol("seq")}));
  EXPECT_EQ(out[1].shape, Shape({Dim::symbol("batch"), Dim(8), Dim(3)}));
  EXPECT_EQ(out[1].dtype, DType::kFloat16);
  // Unknown input dims: the weight still gives the channels and the carry.
  out = InferNode("CausalConvWithState", 27)
            .run({{DType::kFloat32, Shape::unknown_rank()}, {DType::kFloat32, Shape::from({4, 1, 2})}}, 2);
  EXPECT_EQ(out[1].shape, Shape({Dim(), Dim(4), Dim(1)}));
}

TEST(CausalConvWithState, EmptyInputWithAHugeBatchReturnsAtOnce) {
  const auto out = causal_conv({Tensor(DType::kFloat32, {int64_t{1} << 40, 1, 0}), f32({1, 1, 1}, {2})});
  EXPECT_EQ(out[0].numel(), 0);
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{int64_t{1} << 40, 1, 0}));
}

TEST(CausalConvWithState, RefusesShapesThatDoNotFit) {
  const Tensor x = f32({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  std::string msg = error_of([&] { causal_conv({x, f32({3, 1, 2}, {1, 2, 3, 4, 5, 6})}); });
  EXPECT_NE(msg.find("weight dim 0 is 3, but it must be input's channels = 2"), std::string::npos) << msg;
  msg = error_of([&] { causal_conv({x, f32({2, 2, 1}, {1, 2, 3, 4})}); });
  EXPECT_NE(msg.find("weight dim 1 is 2"), std::string::npos) << msg;
  msg = error_of([&] { causal_conv({x, f32({2, 1, 2}, {1, 2, 3, 4}), Tensor(), f32({1, 2, 2}, {1, 2, 3, 4})}); });
  EXPECT_NE(msg.find("past_state dim 2 is 2, but it must be weight's kernel size k minus 1 = 1"), std::string::npos)
      << msg;
  msg = error_of([&] { causal_conv({x, f32({2, 1, 2}, {1, 2, 3, 4}), f32({3}, {1, 2, 3})}); });
  EXPECT_NE(msg.find("bias dim 0 is 3"), std::string::npos) << msg;
  msg = error_of([&] { causal_conv({f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2, 1, 2}, {1, 2, 3, 4})}); });
  EXPECT_NE(msg.find("input must be 3-D"), std::string::npos) << msg;
  msg = error_of([&] { causal_conv({x, Tensor(DType::kFloat32, {2, 1, 0})}); });
  EXPECT_NE(msg.find("at least 1"), std::string::npos) << msg;
}

TEST(CausalConvWithState, RefusesUnknownActivationAndOtherTypes) {
  const Tensor x = f32({1, 1, 2}, {1, 2});
  const Tensor w = f32({1, 1, 1}, {1});
  std::string msg = error_of([&] { causal_conv({x, w}, "relu"); });
  EXPECT_NE(msg.find("activation must be 'none', 'silu' or 'swish', not 'relu'"), std::string::npos) << msg;
  const Tensor x64 = Tensor::from_vector<double>({1, 1, 2}, {1, 2}), w64 = Tensor::from_vector<double>({1, 1, 1}, {1});
  msg = error_of([&] { causal_conv({x64, w64}); });
  EXPECT_NE(msg.find("float, float16 or bfloat16"), std::string::npos) << msg;
  msg = error_of([&] { causal_conv({x, w64}); });
  EXPECT_NE(msg.find("share one type"), std::string::npos) << msg;
}

}  // namespace
