// Adagrad, Adam and Momentum (domain ai.onnx.preview.training): values worked out by hand from the ONNX formulas
// (chosen so square roots come out whole), the order of outputs with several optimized tensors, and malformed nodes.

#include "op_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

const std::string kDomain = "ai.onnx.preview.training";

Tensor vec(std::vector<float> v) { return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v); }
Tensor rate(float r) { return Tensor::scalar<float>(r); }
Tensor step(int64_t t) { return Tensor::scalar<int64_t>(t); }

OpCall momentum(const std::string& mode) {
  return OpCall("Momentum", 1, kDomain)
      .attr("alpha", 0.5f)
      .attr("beta", 0.25f)
      .attr("norm_coefficient", 0.0f)
      .attr("mode", mode)
      .outputs(2);
}

}  // namespace

TEST(Optimizers, AdagradDecaysRateAndRegularizes) {
  // rate = 0.1 / (1 + 1 * 1) = 0.05; g' = 0.5 x + g is 1, 1, -2 and h + g'^2 = 4 everywhere, so
  // x_new = x - 0.05 * g' / 2.
  auto out = OpCall("Adagrad", 1, kDomain)
                 .attr("decay_factor", 1.0f)
                 .attr("epsilon", 0.0f)
                 .attr("norm_coefficient", 0.5f)
                 .outputs(2)
                 .run({rate(0.1f), step(1), vec({0, 2, -2}), vec({1, 0, -1}), vec({3, 3, 0})});
  ASSERT_EQ(out.size(), 2u);
  expect_close(out[0], vec({-0.025f, 1.975f, -1.95f}));
  expect_close(out[1], vec({4, 4, 4}));
}

TEST(Optimizers, AdagradKeepsDouble) {
  Tensor x = Tensor::from_vector<double>({1}, {1.0});
  Tensor g = Tensor::from_vector<double>({1}, {1.0});
  Tensor h = Tensor::from_vector<double>({1}, {3.0});
  auto out = OpCall("Adagrad", 1, kDomain).attr("epsilon", 0.0f).outputs(2).run({rate(0.1f), step(0), x, g, h});
  ASSERT_EQ(out[0].dtype(), DType::kFloat64);
  EXPECT_DOUBLE_EQ(out[0].data<double>()[0], 1.0 - double(0.1f) * 0.5);
}

TEST(Optimizers, AdamCorrectsBias) {
  // alpha 0.5, beta 0.75, T = 1: rate = 0.1 * sqrt(0.25) / 0.5 = 0.1.
  // element 0: v' = 0.5*0 + 0.5*2 = 1, h' = 0.75*0 + 0.25*4 = 1, x' = 1 - 0.1 * 1/1 = 0.9;
  // element 1: v' = 0.5*2 + 0.5*(-4) = -1, h' = 0.75*16 + 0.25*16 = 16, x' = 0 - 0.1 * (-1/4) = 0.025.
  auto call = [](float post) {
    return OpCall("Adam", 1, kDomain)
        .attr("alpha", 0.5f)
        .attr("beta", 0.75f)
        .attr("epsilon", 0.0f)
        .attr("norm_coefficient_post", post)
        .outputs(3)
        .run({rate(0.1f), step(1), vec({1, 0}), vec({2, -4}), vec({0, 2}), vec({0, 16})});
  };
  auto out = call(0.0f);
  ASSERT_EQ(out.size(), 3u);
  expect_close(out[0], vec({0.9f, 0.025f}));
  expect_close(out[1], vec({1, -1}));
  expect_close(out[2], vec({1, 16}));
  // norm_coefficient_post scales the updated X by (1 - post) and leaves the averages alone.
  auto post = call(0.5f);
  expect_close(post[0], vec({0.45f, 0.0125f}));
  expect_close(post[1], vec({1, -1}));
}

TEST(Optimizers, AdamSkipsBiasCorrectionAtStepZero) {
  // T = 0: rate stays 0.1 (no division by 1 - alpha**0 = 0).
  auto out = OpCall("Adam", 1, kDomain)
                 .attr("alpha", 0.5f)
                 .attr("beta", 0.75f)
                 .attr("epsilon", 0.0f)
                 .outputs(3)
                 .run({rate(0.1f), step(0), vec({1}), vec({2}), vec({0}), vec({0})});
  expect_close(out[0], vec({0.9f}));
}

TEST(Optimizers, MomentumStandardAndNesterov) {
  const std::vector<Tensor> first = {rate(0.1f), step(0), vec({1}), vec({2}), vec({4})};
  const std::vector<Tensor> later = {rate(0.1f), step(1), vec({1}), vec({2}), vec({4})};
  // T = 0 takes the whole gradient: v' = 0.5*4 + 1*2 = 4, x' = 1 - 0.1*4.
  auto a = momentum("standard").run(first);
  expect_close(a[0], vec({0.6f}));
  expect_close(a[1], vec({4}));
  // T = 1 scales it by beta: v' = 2 + 0.25*2 = 2.5, x' = 1 - 0.25.
  auto b = momentum("standard").run(later);
  expect_close(b[0], vec({0.75f}));
  expect_close(b[1], vec({2.5f}));
  // Nesterov steps along g + alpha * v' = 2 + 1.25.
  auto c = momentum("nesterov").run(later);
  expect_close(c[0], vec({0.675f}));
  expect_close(c[1], vec({2.5f}));
}

TEST(Optimizers, SeveralTensorsGiveXsThenStates) {
  // Two tensors of different shapes: outputs are X1', X2', V1', V2'.
  Tensor x2 = Tensor::from_vector<float>({2, 1}, {1, 1});
  Tensor g2 = Tensor::from_vector<float>({2, 1}, {2, 0});
  Tensor v2 = Tensor::from_vector<float>({2, 1}, {4, 0});
  auto out = momentum("standard").outputs(4).run({rate(0.1f), step(1), vec({1}), x2, vec({2}), g2, vec({4}), v2});
  ASSERT_EQ(out.size(), 4u);
  expect_close(out[0], vec({0.75f}));
  expect_close(out[1], Tensor::from_vector<float>({2, 1}, {0.75f, 1.0f}));
  expect_close(out[2], vec({2.5f}));
  expect_close(out[3], Tensor::from_vector<float>({2, 1}, {2.5f, 0.0f}));
}

TEST(Optimizers, MalformedNodesFail) {
  const Tensor r = rate(0.1f), t = step(0), x = vec({1, 2});
  // Adagrad needs 2 + 3n inputs: one X with G but no H.
  EXPECT_THROW(OpCall("Adagrad", 1, kDomain).outputs(2).run({r, t, x, x}), Error);
  // Two X, two G, one H.
  EXPECT_THROW(OpCall("Adagrad", 1, kDomain).outputs(2).run({r, t, x, x, x, x, x, x, x}), Error);
  // Adam with one tensor must list 3 outputs.
  EXPECT_THROW(OpCall("Adam", 1, kDomain).outputs(2).run({r, t, x, x, x, x}), Error);
  // Momentum's attributes are required, and mode is one of two words.
  EXPECT_THROW(OpCall("Momentum", 1, kDomain).outputs(2).run({r, t, x, x, x}), Error);
  EXPECT_THROW(momentum("heavy").run({r, t, x, x, x}), Error);
  // The gradient must be shaped like X.
  EXPECT_THROW(momentum("standard").run({r, t, x, vec({1, 2, 3}), x}), Error);
  // T is int64, R a scalar, X a float type.
  EXPECT_THROW(momentum("standard").run({r, Tensor::scalar<float>(0), x, x, x}), Error);
  EXPECT_THROW(momentum("standard").run({vec({0.1f, 0.2f}), t, x, x, x}), Error);
  Tensor xi = Tensor::from_vector<int64_t>({1}, {1});
  EXPECT_THROW(momentum("standard").run({r, t, xi, xi, xi}), Error);
}
