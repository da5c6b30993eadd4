// Op-level: each prepared element-wise / normalisation / reduction fast path against the op's reference
// compute, at every tier this CPU has, on random shapes (ragged lengths, 1-sized and empty dims, broadcasts),
// with and without a thread pool (large tensors split into chunks).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "prepared_runner.h"
#include "../unit/nn_test_util.h"

namespace kiln::testing {
namespace {

using kernels::IsaTier;

Tensor scaled(Tensor t, float s) {
  for (float& v : t.span<float>()) v *= s;
  return t;
}
Tensor scalar(float v) { return Tensor::scalar<float>(v); }

class PreparedOps : public ::testing::TestWithParam<IsaTier> {
 protected:
  void SetUp() override {
    if (!kernels::isa_available(GetParam())) GTEST_SKIP() << "this CPU lacks " << kernels::isa_name(GetParam());
  }
  IsaTier tier() const { return GetParam(); }
  std::mt19937 rng{1234};
  kernels::ThreadPool pool{2};
};

const std::vector<std::vector<int64_t>> kShapes = {{}, {1}, {0}, {7}, {3, 17}, {2, 3, 4, 5}, {1, 67}, {4, 1, 33}};

TEST_P(PreparedOps, UnaryOpsMatchReference) {
  struct U {
    const char* op;
    int opset;
    float range;
  };
  const U ops[] = {{"Relu", 14, 6}, {"LeakyRelu", 16, 6}, {"Sigmoid", 13, 12}, {"Tanh", 13, 6},
                   {"HardSigmoid", 6, 6}, {"HardSwish", 14, 6}, {"Softplus", 1, 12}, {"Erf", 13, 4},
                   {"Exp", 13, 10}, {"Log", 13, 10}, {"Sqrt", 13, 10}, {"Neg", 13, 5}, {"Abs", 13, 5},
                   {"Gelu", 20, 6}};
  for (const U& u : ops)
    for (const auto& shape : kShapes) {
      Tensor x = scaled(random_tensor(shape, rng), u.range);
      if (std::string(u.op) == "Log" || std::string(u.op) == "Sqrt")
        for (float& v : x.span<float>()) v = std::fabs(v) + 1e-3f;
      PreparedCall(u.op, u.opset).compare({x}, tier(), nullptr, 2e-6, 1e-6);
    }
  Tensor x = scaled(random_tensor({3, 40}, rng), 5);
  PreparedCall("LeakyRelu", 16).attr("alpha", 0.3f).compare({x}, tier(), nullptr);
  PreparedCall("HardSigmoid", 6).attr("alpha", 0.3f).attr("beta", 0.4f).compare({x}, tier(), nullptr);
  PreparedCall("Gelu", 20).attr("approximate", std::string("tanh")).compare({x}, tier(), nullptr, 2e-6, 1e-6);
  PreparedCall("Gelu", 1, "ai.kiln").compare({x}, tier(), nullptr, 2e-6, 1e-6);
  PreparedCall("Gelu", 1, "ai.kiln").attr("approximate", std::string("tanh")).compare({x}, tier(), nullptr, 2e-6, 1e-6);
}

TEST_P(PreparedOps, ClipBoundsFromAttributesAndInputs) {
  Tensor x = scaled(random_tensor({5, 21}, rng), 4);
  PreparedCall("Clip", 6).attr("min", -1.0f).attr("max", 2.0f).compare({x}, tier(), nullptr, 0, 0);
  PreparedCall("Clip", 6).attr("max", 0.5f).compare({x}, tier(), nullptr, 0, 0);
  PreparedCall("Clip", 13).compare({x, scalar(-0.5f), scalar(1.5f)}, tier(), nullptr, 0, 0);
  PreparedCall("Clip", 13).compare({x, Tensor(), scalar(1.5f)}, tier(), nullptr, 0, 0);
  PreparedCall("Clip", 13).compare({x, scalar(-2.0f)}, tier(), nullptr, 0, 0);
  PreparedCall("Clip", 13).compare({x}, tier(), nullptr, 0, 0);
}

TEST_P(PreparedOps, NonFloatTypesAreLeftToTheReference) {
  Tensor x = random_tensor({4, 4}, rng, DType::kFloat64);
  EXPECT_FALSE(PreparedCall("Relu", 14).run_prepared({x}, tier(), nullptr).has_value());
  Tensor h = random_tensor({4, 4}, rng, DType::kFloat16);
  EXPECT_FALSE(PreparedCall("Add", 14).run_prepared({h, h}, tier(), nullptr).has_value());
  EXPECT_FALSE(PreparedCall("Softmax", 13).run_prepared({h}, tier(), nullptr).has_value());
}

TEST_P(PreparedOps, BinaryOpsWithEveryBroadcastPattern) {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}},  // same shape
      {{2, 3, 4, 5}, {}},            // scalar
      {{}, {3, 7}},                  // scalar first
      {{2, 3, 4, 5}, {3, 1, 1}},     // per channel
      {{1, 16, 7, 7}, {1, 16, 1, 1}},
      {{5, 37}, {37}},               // row broadcast (bias)
      {{37}, {5, 37}},
      {{6, 1}, {1, 9}},              // outer product
      {{4, 1}, {4, 9}},              // column broadcast
      {{2, 1, 4, 1}, {3, 1, 5}},     // general
      {{2, 3, 0}, {3, 1}},           // empty
      {{1, 1, 1}, {1}},
      {{3, 2, 5, 6}, {2, 1, 6}},
  };
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"})
    for (const auto& [sa, sb] : cases) {
      Tensor a = random_tensor(sa, rng), b = random_tensor(sb, rng);
      PreparedCall(op, 13).compare({a, b}, tier(), nullptr, 0, 0);  // exact IEEE results
    }
  // Legacy (opset < 7) broadcast with axis.
  Tensor a = random_tensor({2, 3, 4, 5}, rng), b = random_tensor({3}, rng);
  PreparedCall("Add", 6).attr("broadcast", int64_t{1}).attr("axis", int64_t{1}).compare({a, b}, tier(), nullptr, 0, 0);
}

TEST_P(PreparedOps, BigTensorsSplitAcrossThreads) {
  Tensor x = scaled(random_tensor({1000, 2200}, rng), 5), bias = random_tensor({2200}, rng);  // > 2 Mi: every op splits
  PreparedCall("Add", 14).compare({x, bias}, tier(), &pool, 0, 0);
  PreparedCall("Mul", 14).compare({x, scalar(0.25f)}, tier(), &pool, 0, 0);
  PreparedCall("Relu", 14).compare({x}, tier(), &pool, 0, 0);
  PreparedCall("Sigmoid", 13).compare({x}, tier(), &pool, 2e-6, 1e-7);
  PreparedCall("Softmax", 13).compare({x}, tier(), &pool, 1e-5, 1e-8);
  Tensor c = random_tensor({2200}, rng);
  PreparedCall("LayerNormalization", 17).compare({x, c, bias}, tier(), &pool, 1e-4, 1e-5);
  PreparedCall("ReduceMean", 18).compare({x, Tensor::from_vector<int64_t>({1}, {-1})}, tier(), &pool, 1e-5, 1e-6);
}

TEST_P(PreparedOps, PowWithConstantExponentTwo) {
  Tensor x = scaled(random_tensor({3, 50}, rng), 100);
  PreparedCall("Pow", 15).constant(1).compare({x, scalar(2.0f)}, tier(), nullptr, 0, 0);
  EXPECT_FALSE(PreparedCall("Pow", 15).constant(1).run_prepared({x, scalar(3.0f)}, tier(), nullptr).has_value());
  EXPECT_FALSE(PreparedCall("Pow", 15).run_prepared({x, scalar(2.0f)}, tier(), nullptr).has_value());
}

TEST_P(PreparedOps, SoftmaxAnyAxisAndOpset) {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (int64_t n = 1; n <= 67; n += 3) {
      Tensor x = scaled(random_tensor({3, n}, rng), 20);
      PreparedCall(op, 13).compare({x}, tier(), nullptr, 1e-5, 1e-7);
    }
    Tensor x = scaled(random_tensor({3, 4, 5, 6}, rng), 10);
    for (int64_t axis : {0, 1, 2, 3, -1, -3}) {
      PreparedCall(op, 13).attr("axis", axis).compare({x}, tier(), nullptr, 1e-5, 1e-7);
      PreparedCall(op, 11).attr("axis", axis).compare({x}, tier(), nullptr, 1e-5, 1e-7);
    }
    Tensor wide = scaled(random_tensor({2, 9, 37}, rng), 10);  // columns of 37 across 9: ragged vector tail
    PreparedCall(op, 13).attr("axis", int64_t{1}).compare({wide}, tier(), nullptr, 1e-5, 1e-7);
    // Rows whose maximum is not finite take the reference's formula.
    Tensor special = random_tensor({4, 10}, rng);
    special.data<float>()[3] = INFINITY;
    for (int k = 10; k < 20; ++k) special.data<float>()[k] = -INFINITY;
    special.data<float>()[25] = NAN;
    auto got = PreparedCall(op, 13).run_prepared({special}, tier(), nullptr);
    auto want = PreparedCall(op, 13).run_reference({special});
    ASSERT_TRUE(got.has_value());
    for (int64_t i = 0; i < special.numel(); ++i) {
      const float g = got->at(0).data<float>()[i], w = want[0].data<float>()[i];
      if (std::isnan(w)) {
        EXPECT_TRUE(std::isnan(g)) << op << " " << i;
      } else if (std::isinf(w)) {
        EXPECT_EQ(g, w) << op << " " << i;
      } else {
        EXPECT_NEAR(g, w, 1e-6 + 1e-5 * std::fabs(w)) << op << " " << i;
      }
    }
  }
}

TEST_P(PreparedOps, LayerNormalizationBothDomains) {
  for (const char* domain : {"", "ai.kiln"}) {
    const int opset = domain[0] ? 1 : 17;
    for (int64_t n : {1, 5, 16, 33, 67, 768}) {
      Tensor x = scaled(random_tensor({4, n}, rng), 3), s = random_tensor({n}, rng), b = random_tensor({n}, rng);
      for (float& v : x.span<float>()) v += 2.0f;  // a mean far from 0
      PreparedCall("LayerNormalization", opset, domain).compare({x, s, b}, tier(), nullptr, 1e-4, 2e-5);
      PreparedCall("LayerNormalization", opset, domain).compare({x, s}, tier(), nullptr, 1e-4, 2e-5);
    }
    Tensor x = random_tensor({2, 3, 8}, rng), s = random_tensor({3, 8}, rng), b = random_tensor({1, 3, 8}, rng);
    PreparedCall("LayerNormalization", opset, domain).attr("axis", int64_t{1}).attr("epsilon", 1e-3f)
        .compare({x, s, b}, tier(), nullptr, 1e-4, 2e-5);
    // A Scale broadcast inside the block is the reference's job.
    Tensor s1 = random_tensor({1}, rng);
    PreparedCall("LayerNormalization", opset, domain).compare({x, s1}, tier(), nullptr, 1e-4, 2e-5);
  }
}

TEST_P(PreparedOps, BatchNormalizationFoldedOrAtRunTime) {
  for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{{2, 3, 4, 5}, {2, 3}, {1, 16, 7, 7}}) {
    const int64_t c = shape[1];
    Tensor x = random_tensor(shape, rng), s = random_tensor({c}, rng), b = random_tensor({c}, rng),
           m = random_tensor({c}, rng), v = random_tensor({c}, rng);
    for (float& e : v.span<float>()) e = std::fabs(e) + 0.1f;
    PreparedCall("BatchNormalization", 15).constant(1).constant(2).constant(3).constant(4)
        .compare({x, s, b, m, v}, tier(), nullptr, 1e-5, 1e-6);
    PreparedCall("BatchNormalization", 9).attr("epsilon", 1e-3f).compare({x, s, b, m, v}, tier(), nullptr, 1e-5, 1e-6);
  }
}

TEST_P(PreparedOps, ReduceSumAndMeanOverTrailingAxes) {
  Tensor x = random_tensor({3, 4, 70}, rng);
  auto axes = [](std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); };
  for (int64_t keep : {0, 1}) {
    PreparedCall("ReduceMean", 18).attr("keepdims", keep).compare({x, axes({-1})}, tier(), nullptr, 1e-5, 1e-6);
    PreparedCall("ReduceMean", 18).attr("keepdims", keep).compare({x, axes({1, 2})}, tier(), nullptr, 1e-5, 1e-6);
    PreparedCall("ReduceMean", 18).attr("keepdims", keep).compare({x, axes({0})}, tier(), nullptr, 1e-5, 1e-6);
    PreparedCall("ReduceMean", 18).attr("keepdims", keep).compare({x}, tier(), nullptr, 1e-5, 1e-6);
    PreparedCall("ReduceMean", 13).attr("keepdims", keep).attr("axes", std::vector<int64_t>{2})
        .compare({x}, tier(), nullptr, 1e-5, 1e-6);
    PreparedCall("ReduceSum", 13).attr("keepdims", keep).compare({x, axes({2})}, tier(), nullptr, 1e-5, 1e-5);
    PreparedCall("ReduceSum", 11).attr("keepdims", keep).attr("axes", std::vector<int64_t>{-2, -1})
        .compare({x}, tier(), nullptr, 1e-5, 1e-5);
    PreparedCall("ReduceSum", 13).attr("keepdims", keep).attr("noop_with_empty_axes", int64_t{1})
        .compare({x}, tier(), nullptr, 0, 0);
  }
  Tensor empty = random_tensor({3, 0}, rng);
  PreparedCall("ReduceSum", 13).compare({empty, axes({1})}, tier(), nullptr, 0, 0);
}

// A middle block of axes (the global pool of an NHWC tensor, as to_channels_last writes it): sums of columns,
// with channel counts around the kernels' four-vector blocks and a plane of 112x112 (runs of 64 rows).
TEST_P(PreparedOps, ReduceMeanOverMiddleAxes) {
  auto axes = [](std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); };
  for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{
           {2, 7, 7, 1280}, {1, 3, 5, 7}, {3, 4, 4, 72}, {1, 112, 112, 33}, {2, 1, 1, 64}}) {
    Tensor x = random_tensor(shape, rng);
    for (int64_t keep : {0, 1}) {
      PreparedCall("ReduceMean", 18).attr("keepdims", keep).compare({x, axes({1, 2})}, tier(), nullptr, 1e-5, 1e-6);
      PreparedCall("ReduceMean", 13).attr("keepdims", keep).attr("axes", std::vector<int64_t>{1, 2})
          .compare({x}, tier(), nullptr, 1e-5, 1e-6);
      PreparedCall("ReduceSum", 13).attr("keepdims", keep).compare({x, axes({1})}, tier(), nullptr, 1e-5, 1e-5);
    }
  }
  Tensor x = random_tensor({2, 3, 4, 5}, rng);
  PreparedCall("ReduceMean", 18).compare({x, axes({1, 3})}, tier(), nullptr, 1e-5, 1e-6);  // not one block
}

// The same over a batch (squeeze-and-excitation at batch 8, large enough to split: an item per image): 1 and 2
// threads match the reference and give the same bits.
TEST_P(PreparedOps, ReduceMeanOverMiddleAxesSplitsImagesAcrossThreads) {
  const Tensor axes = Tensor::from_vector<int64_t>({2}, {1, 2});
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{8, 28, 28, 40}, {3, 56, 56, 24}, {8, 7, 7, 1152}, {2, 4, 4, 3}}) {
    Tensor x = random_tensor(shape, rng);
    PreparedCall("ReduceMean", 18).compare({x, axes}, tier(), &pool, 1e-5, 1e-6);
    auto one = PreparedCall("ReduceMean", 18).run_prepared({x, axes}, tier(), nullptr);
    auto two = PreparedCall("ReduceMean", 18).run_prepared({x, axes}, tier(), &pool);
    ASSERT_TRUE(one.has_value() && two.has_value());
    const Tensor &a = one->at(0), &b = two->at(0);
    ASSERT_EQ(a.numel(), b.numel());
    for (int64_t i = 0; i < a.numel(); ++i)
      ASSERT_EQ(std::bit_cast<uint32_t>(a.data<float>()[i]), std::bit_cast<uint32_t>(b.data<float>()[i]))
          << shape[0] << "x" << shape[1] << "x" << shape[3] << " at " << i << ": 2 threads differ from 1";
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, PreparedOps, ::testing::Values(IsaTier::kAvx2, IsaTier::kAvx512),
                         [](const auto& info) { return std::string(kernels::isa_name(info.param)); });

}  // namespace
}  // namespace kiln::testing
