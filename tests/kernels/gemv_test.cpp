// The matrix-vector kernels of every tier (gemv_list.h) against the plain reference: random M (ragged against the
// 64-row panels) and K (0, odd, even), with and without bias and residual, every activation, row ranges split at a
// panel; the packing; and the dispatch at 1 and 2 threads.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemv/gemv.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "float_test_util.h"

namespace kiln::kernels {
namespace {

struct ListedKernel {
  const char* name;
  IsaTier tier;
};

constexpr ListedKernel kListed[] = {
#define KILN_GEMV(name, tier, simd) {#name, IsaTier::tier},
#include "kernels/gemv/gemv_list.h"
    // The AVX-512 kernel's logic on AVX2 instructions: checked on any AVX2 CPU.
    {"gemv_f32_avx512_logic", IsaTier::kAvx2},
};

// Within float summation error of the pre-activation value: K terms of at most 1 each, summed in another order.
void expect_near(const std::vector<float>& got, const std::vector<float>& want, int64_t K, const std::string& what) {
  expect_floats_near(got, want, 1e-6f * static_cast<float>(K + 3), 1e-6f, what);
}

class GemvKernel : public ::testing::TestWithParam<ListedKernel> {};

TEST_P(GemvKernel, MatchesReferenceOnRandomShapes) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const GemvFn fn = std::string(k.name).ends_with("_logic") ? gemv_f32_avx512_logic
                                                              : gemv_kernel(k.tier);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(77);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 300; ++iter) {
    GemvArgs g;
    g.M = iter % 5 == 0 ? pick(1, 17) : pick(1, 300);
    g.K = iter % 7 == 0 ? pick(0, 3) : pick(1, 400);
    g.act = activation_of(iter);
    const auto w = random_floats(static_cast<size_t>(g.M * g.K), rng);
    const auto wp = gemv_pack(w.data(), g.M, g.K);
    const auto x = random_floats(static_cast<size_t>(g.K), rng);
    const auto bias = random_floats(static_cast<size_t>(g.M), rng);
    const auto res = random_floats(static_cast<size_t>(g.M), rng);
    // A guard zone past y catches writes beyond it.
    std::vector<float> got(static_cast<size_t>(g.M) + 16, 7.0f), want(got.size(), 7.0f);
    g.wp = wp.data(), g.x = x.data();
    g.bias = iter % 3 ? bias.data() : nullptr;
    g.residual = iter % 4 < 2 ? res.data() : nullptr;
    g.y = got.data();
    // Two calls, split at a panel.
    const int64_t mid = std::min(g.M, pick(0, static_cast<int>(g.M / kGemvPanel + 1)) * kGemvPanel);
    fn(g, 0, mid);
    fn(g, mid, g.M);
    g.y = want.data();
    gemv_f32_ref(g, 0, g.M);
    // The reference reads the packing too: check it against W as given.
    for (int64_t m = 0; m < g.M; ++m) {
      float acc = 0.0f;
      for (int64_t k = 0; k < g.K; ++k) acc += w[static_cast<size_t>(m * g.K + k)] * x[static_cast<size_t>(k)];
      if (g.bias) acc += bias[static_cast<size_t>(m)];
      if (g.residual) acc += res[static_cast<size_t>(m)];
      float y = acc;
      apply_activation_f32_ref(g.act, &y, &y, 1);
      ASSERT_EQ(y, want[static_cast<size_t>(m)]) << "packing, row " << m;
    }
    expect_near(got, want, g.K,
                std::string(k.name) + " M " + std::to_string(g.M) + " K " + std::to_string(g.K) + " " +
                    activation_name(g.act.kind));
    if (HasFailure()) return;
  }
}

// A recurrence alternates the panel order step by step (GemvArgs::descending); each row's sum is the same, so the
// two orders must agree to the bit, on ragged M and on row ranges that start past the first panel.
TEST_P(GemvKernel, DescendingPanelsGiveTheSameBits) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const GemvFn fn = std::string(k.name).ends_with("_logic") ? gemv_f32_avx512_logic
                                                              : gemv_kernel(k.tier);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(78);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 60; ++iter) {
    GemvArgs g;
    g.M = pick(1, 600);
    g.K = pick(1, 300);
    g.act = activation_of(iter);
    const auto w = random_floats(static_cast<size_t>(g.M * g.K), rng);
    const auto wp = gemv_pack(w.data(), g.M, g.K);
    const auto x = random_floats(static_cast<size_t>(g.K), rng);
    const auto bias = random_floats(static_cast<size_t>(g.M), rng);
    std::vector<float> up(static_cast<size_t>(g.M) + 16, 7.0f), down(up.size(), 7.0f);
    g.wp = wp.data(), g.x = x.data(), g.bias = iter % 2 ? bias.data() : nullptr;
    const int64_t mid = std::min(g.M, pick(0, static_cast<int>(g.M / kGemvPanel + 1)) * kGemvPanel);
    for (bool descending : {false, true}) {
      g.descending = descending;
      g.y = descending ? down.data() : up.data();
      fn(g, 0, mid);
      fn(g, mid, g.M);
    }
    ASSERT_EQ(up, down) << k.name << " M " << g.M << " K " << g.K << " split at " << mid;
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, GemvKernel, ::testing::ValuesIn(kListed),
                         [](const ::testing::TestParamInfo<ListedKernel>& i) { return std::string(i.param.name); });

TEST(Gemv, DispatchGivesTheSameResultOnAnyThreadCount) {
  std::mt19937 rng(5);
  GemvArgs g;
  g.M = 1000, g.K = 333;  // several 128-row tasks, a ragged last one
  const auto w = random_floats(static_cast<size_t>(g.M * g.K), rng);
  const auto wp = gemv_pack(w.data(), g.M, g.K);
  const auto x = random_floats(static_cast<size_t>(g.K), rng);
  const auto bias = random_floats(static_cast<size_t>(g.M), rng);
  std::vector<float> one(static_cast<size_t>(g.M)), two(one.size()), want(one.size());
  g.wp = wp.data(), g.x = x.data(), g.bias = bias.data(), g.y = one.data();
  g.act.kind = Activation::kHardSigmoid, g.act.alpha = 1.0f / 6, g.act.beta = 0.5f;
  gemv_f32(g, nullptr);
  ThreadPool pool(2);
  g.y = two.data();
  gemv_f32(g, &pool);
  EXPECT_EQ(one, two);
  g.y = want.data();
  gemv_f32_ref(g, 0, g.M);
  expect_near(one, want, g.K, std::string("gemv_f32 ") + gemv_kernel_name());
  // Each thread's blocks last to first (mirrored within the pool's ranges, uneven with 3 threads): the same bits.
  ThreadPool three(3);
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool, &three}) {
    std::vector<float> down(one.size(), 7.0f);
    g.descending = true;
    g.y = down.data();
    gemv_f32(g, p);
    EXPECT_EQ(one, down) << (p ? p->threads() : 0) << " threads";
  }
}

}  // namespace
}  // namespace kiln::kernels
