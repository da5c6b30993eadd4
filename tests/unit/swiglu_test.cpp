// SwiGLU: hand-computed values (y = a * sigmoid(alpha * a) * b), every float type, symbolic inference, and
// the refusals (broadcasting, mixed types, integer inputs).

#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::error_of;
using kiln::testing::InferNode;
using kiln::testing::OpCall;

namespace {

TEST(SwiGLU, HandComputedValues) {
  const Tensor a = Tensor::from_vector<float>({3}, {1.f, -2.f, 0.f});
  const Tensor b = Tensor::from_vector<float>({3}, {2.f, 1.f, 5.f});
  const Tensor y = OpCall("SwiGLU", 28).run1({a, b});
  // sigmoid(1) = 0.7310585786, -2 * sigmoid(-2) = -0.2384058440.
  kiln::testing::expect_close(y, Tensor::from_vector<float>({3}, {1.4621171573f, -0.2384058440f, 0.f}));
}

TEST(SwiGLU, AlphaScalesOnlyTheSigmoid) {
  const Tensor a = Tensor::from_vector<float>({1, 2}, {2.f, -4.f});
  const Tensor b = Tensor::from_vector<float>({1, 2}, {1.f, 0.5f});
  const Tensor y = OpCall("SwiGLU", 28).attr("alpha", 0.5f).run1({a, b});
  // 2 * sigmoid(1) * 1 and -4 * sigmoid(-2) * 0.5.
  kiln::testing::expect_close(y, Tensor::from_vector<float>({1, 2}, {1.4621171573f, -0.2384058440f}));
}

TEST(SwiGLU, HalfAndDoubleRoundOnce) {
  Tensor a16(DType::kFloat16, {2}), b16(DType::kFloat16, {2});
  a16.data<Float16>()[0] = Float16(3.f), a16.data<Float16>()[1] = Float16(-1.f);
  b16.data<Float16>()[0] = Float16(0.5f), b16.data<Float16>()[1] = Float16(2.f);
  const Tensor y16 = OpCall("SwiGLU", 28).run1({a16, b16});
  ASSERT_EQ(y16.dtype(), DType::kFloat16);
  const double want0 = 3.0 / (1.0 + std::exp(-3.0)) * 0.5, want1 = -1.0 / (1.0 + std::exp(1.0)) * 2.0;
  EXPECT_EQ(float(y16.data<Float16>()[0]), float(Float16(float(want0))));
  EXPECT_EQ(float(y16.data<Float16>()[1]), float(Float16(float(want1))));

  const Tensor ad = Tensor::from_vector<double>({1}, {3.0});
  const Tensor bd = Tensor::from_vector<double>({1}, {0.5});
  EXPECT_DOUBLE_EQ(OpCall("SwiGLU", 28).run1({ad, bd}).data<double>()[0], want0);
}

TEST(SwiGLU, InferenceKeepsSymbolsAndTakesNumbersFromEitherInput) {
  auto out = InferNode("SwiGLU", 28)
                 .run({{DType::kFloat32, Shape({Dim::symbol("batch"), Dim(), Dim::symbol("seq")})},
                       {DType::kFloat32, Shape({Dim::symbol("batch"), Dim(11008), Dim()})}});
  EXPECT_EQ(out[0].shape, Shape({Dim::symbol("batch"), Dim(11008), Dim::symbol("seq")}));
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
}

TEST(SwiGLU, RefusesBroadcastingMixedTypesAndIntegers) {
  const Tensor a = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor row = Tensor::from_vector<float>({1, 3}, {1, 2, 3});
  std::string msg = error_of([&] { OpCall("SwiGLU", 28).run1({a, row}); });
  EXPECT_NE(msg.find("dim 0 is 2 in A and 1 in B"), std::string::npos) << msg;
  msg = error_of([&] { OpCall("SwiGLU", 28).run1({a, Tensor::from_vector<float>({6}, {1, 2, 3, 4, 5, 6})}); });
  EXPECT_NE(msg.find("does not broadcast"), std::string::npos) << msg;
  msg = error_of([&] { OpCall("SwiGLU", 28).run1({a, Tensor::from_vector<double>({2, 3}, {1, 2, 3, 4, 5, 6})}); });
  EXPECT_NE(msg.find("B is double but A is float"), std::string::npos) << msg;
  const Tensor ints = Tensor::from_vector<int32_t>({2}, {1, 2});
  msg = error_of([&] { OpCall("SwiGLU", 28).run1({ints, ints}); });
  EXPECT_NE(msg.find("A must be a float type"), std::string::npos) << msg;
}

}  // namespace
