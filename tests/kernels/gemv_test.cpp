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

constexpr ListedKernel kGemvKernels[] = {
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

// The side product (GemvSide) of every tier, fused into the product's full groups or on its own: the product as
// gemv_f32's kernel gives it (same bits), the side columns bit for bit the reference's (each a chain of fused
// multiply-adds in k order, then the bias): ragged N (a last tile cut inside either half), side K longer and
// shorter than the product's (whole tiles at one side term per two product terms, half tiles at one per two or one,
// or after the product), repeated X rows, unit ranges, M = 0 (the side alone),
// both orders. Writes stay within each Y row's N floats.
TEST_P(GemvKernel, SideProductRidesAlong) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const bool logic = std::string(k.name).ends_with("_logic");
  const GemvFn fn = logic ? gemv_f32_avx512_logic : gemv_kernel(k.tier);
  const GemvSideFn side_fn = logic ? gemv_side_f32_avx512_logic : gemv_side_kernel(k.tier);
  ASSERT_NE(side_fn, nullptr);
  std::mt19937 rng(79);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 120; ++iter) {
    GemvArgs g;
    g.M = iter % 9 == 0 ? 0 : pick(1, 700);
    g.K = pick(1, 300);
    g.descending = iter % 2 == 1;
    g.act = activation_of(iter);
    const auto w = random_floats(static_cast<size_t>(g.M * g.K), rng);
    const auto wp = gemv_pack(w.data(), g.M, g.K);
    const auto x = random_floats(static_cast<size_t>(g.K), rng);
    const auto bias = random_floats(static_cast<size_t>(g.M), rng);
    g.wp = wp.data(), g.x = x.data(), g.bias = iter % 3 ? bias.data() : nullptr;
    GemvSide sd;
    sd.N = iter % 4 == 0 ? pick(1, 40) : pick(1, 300);
    // Side K past the product's (no room: after it), in (K/2, K] (one per term), or at most K/3.
    sd.K = iter % 5 == 0   ? pick(g.K, g.K + 50)
           : iter % 5 == 1 ? pick(static_cast<int>(g.K / 2 + 1), static_cast<int>(g.K))
                           : pick(1, static_cast<int>(std::max<int64_t>(1, g.K / 3)));
    const auto sw = random_floats(static_cast<size_t>(sd.N * sd.K), rng);
    std::vector<float> swp(gemv_side_packed_floats(sd.N, sd.K));
    gemv_side_pack(sw.data(), sd.N, sd.K, swp.data());
    const auto sx = random_floats(static_cast<size_t>(kGemvSideRows * sd.K), rng);
    const auto sb = random_floats(static_cast<size_t>(sd.N), rng);
    sd.wp = swp.data(), sd.bias = iter % 3 != 1 ? sb.data() : nullptr;
    // Unit ranges starting and ending on either half of a tile (odd: half tiles only).
    const int64_t units = gemv_side_units(sd.N);
    sd.unit_begin = pick(0, static_cast<int>(units / 2));
    sd.unit_end = pick(static_cast<int>(sd.unit_begin), static_cast<int>(units));
    const size_t ld = static_cast<size_t>(sd.N) + 16;  // a guard zone past each row
    std::vector<float> sy_got(kGemvSideRows * ld, 7.0f), sy_want(sy_got.size(), 7.0f);
    std::vector<float> y_got(static_cast<size_t>(g.M), 7.0f), y_want(y_got.size(), 7.0f);
    for (int64_t r = 0; r < kGemvSideRows; ++r)  // rows 6 and 7 read row 5's x
      sd.x[r] = sx.data() + std::min<int64_t>(r, 5) * sd.K;
    for (float* out : {sy_got.data(), sy_want.data()}) {
      for (int64_t r = 0; r < kGemvSideRows; ++r) sd.y[r] = out + static_cast<size_t>(r) * ld;
      g.y = out == sy_got.data() ? y_got.data() : y_want.data();
      if (out == sy_got.data()) side_fn(g, 0, g.M, sd);
      else fn(g, 0, g.M);
    }
    const std::string what = std::string(k.name) + " M " + std::to_string(g.M) + " K " + std::to_string(g.K) +
                             " side N " + std::to_string(sd.N) + " K " + std::to_string(sd.K);
    ASSERT_EQ(y_got, y_want) << what;
    // The reference's side tiles, checked against W as given.
    for (int64_t r = 0; r < kGemvSideRows; ++r) sd.y[r] = sy_want.data() + static_cast<size_t>(r) * ld;
    GemvArgs none;
    gemv_side_f32_ref(none, 0, 0, sd);
    for (int64_t r = 0; r < kGemvSideRows; ++r)
      for (int64_t n = 0; n < sd.N; ++n) {
        const bool in = n >= sd.unit_begin * kGemvSideUnit && n < sd.unit_end * kGemvSideUnit;
        float acc = 0.0f;
        for (int64_t kk = 0; kk < sd.K; ++kk)
          acc = std::fma(sd.x[r][kk], sw[static_cast<size_t>(n * sd.K + kk)], acc);
        if (sd.bias) acc += sb[static_cast<size_t>(n)];
        ASSERT_EQ(sy_want[static_cast<size_t>(r) * ld + static_cast<size_t>(n)], in ? acc : 7.0f)
            << what << " reference row " << r << " column " << n;
      }
    ASSERT_EQ(sy_got, sy_want) << what;
  }
}

// The batch product (gemv_batch_f32) of every tier against its reference, bit for bit (each element one chain of
// fused multiply-adds in k order): batches of 1 to 8 (a last group short of the tile's 4 or 8 vectors), ragged M,
// K from 0, strided x and y rows, with and without bias, row ranges split at a panel, tiles walked in either order;
// nothing written outside y.
TEST_P(GemvKernel, BatchMatchesReference) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const GemvBatchFn fn = std::string(k.name).ends_with("_logic") ? gemv_batch_f32_avx512_logic
                                                                   : gemv_batch_kernel(k.tier);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(79);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 120; ++iter) {
    GemvArgs g;
    g.M = iter % 5 == 0 ? pick(1, 17) : pick(1, 300);
    g.K = iter % 7 == 0 ? pick(0, 3) : pick(1, 300);
    const int64_t batch = 1 + iter % kGemvBatchMax, ldx = g.K + pick(0, 3), ldy = g.M + pick(0, 5);
    const auto w = random_floats(static_cast<size_t>(g.M * g.K), rng);
    const auto wp = gemv_pack(w.data(), g.M, g.K);
    const auto x = random_floats(static_cast<size_t>(batch * ldx), rng);
    const auto bias = random_floats(static_cast<size_t>(g.M), rng);
    std::vector<float> got(static_cast<size_t>(batch * ldy) + 16, 7.0f), want(got.size(), 7.0f);
    g.wp = wp.data(), g.x = x.data(), g.bias = iter % 3 ? bias.data() : nullptr;
    g.descending = iter % 2 == 1;  // the reference ignores it: the same sums in either order
    const int64_t mid = std::min(g.M, pick(0, static_cast<int>(g.M / kGemvPanel + 1)) * kGemvPanel);
    g.y = got.data();
    fn(g, 0, mid, batch, ldx, ldy);
    fn(g, mid, g.M, batch, ldx, ldy);
    g.y = want.data();
    gemv_batch_f32_ref(g, 0, g.M, batch, ldx, ldy);
    const std::string what = std::string(k.name) + " M " + std::to_string(g.M) + " K " + std::to_string(g.K) +
                             " batch " + std::to_string(batch);
    // The reference against W as given (it reads the packing too), then the kernel against the reference.
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t m = 0; m < g.M; ++m) {
        float acc = 0.0f;
        for (int64_t kk = 0; kk < g.K; ++kk)
          acc = std::fma(w[static_cast<size_t>(m * g.K + kk)], x[static_cast<size_t>(b * ldx + kk)], acc);
        if (g.bias) acc += bias[static_cast<size_t>(m)];
        ASSERT_EQ(want[static_cast<size_t>(b * ldy + m)], acc) << what << " reference, vector " << b << " row " << m;
      }
    ASSERT_EQ(got, want) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, GemvKernel, ::testing::ValuesIn(kGemvKernels),
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

// gemv_side_f32 divides the side units among the pool's tasks: the same bits at 1, 2 and 3 threads, either order.
TEST(Gemv, SideDispatchGivesTheSameResultOnAnyThreadCount) {
  std::mt19937 rng(6);
  GemvArgs g;
  g.M = 1000, g.K = 256;
  const auto w = random_floats(static_cast<size_t>(g.M * g.K), rng);
  const auto wp = gemv_pack(w.data(), g.M, g.K);
  const auto x = random_floats(static_cast<size_t>(g.K), rng);
  GemvSide sd;
  sd.N = 777, sd.K = 80;
  const auto sw = random_floats(static_cast<size_t>(sd.N * sd.K), rng);
  std::vector<float> swp(gemv_side_packed_floats(sd.N, sd.K));
    gemv_side_pack(sw.data(), sd.N, sd.K, swp.data());
  const auto sx = random_floats(static_cast<size_t>(kGemvSideRows * sd.K), rng);
  const auto sb = random_floats(static_cast<size_t>(sd.N), rng);
  g.wp = wp.data(), g.x = x.data();
  sd.wp = swp.data(), sd.bias = sb.data(), sd.unit_begin = 3, sd.unit_end = gemv_side_units(sd.N);
  for (int64_t r = 0; r < kGemvSideRows; ++r) sd.x[r] = sx.data() + r * sd.K;
  auto run = [&](ThreadPool* p, bool descending) {
    std::vector<float> out(static_cast<size_t>(g.M + kGemvSideRows * sd.N), 7.0f);
    g.y = out.data();
    g.descending = descending;
    for (int64_t r = 0; r < kGemvSideRows; ++r) sd.y[r] = out.data() + g.M + r * sd.N;
    gemv_side_f32(g, sd, p);
    return out;
  };
  const auto one = run(nullptr, false);
  ThreadPool two(2), three(3);
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &two, &three})
    for (bool descending : {false, true})
      EXPECT_EQ(run(p, descending), one) << (p ? p->threads() : 1) << " threads, descending " << descending;
}

// gemv_batch_f32 splits rows over the pool: the same bits at 1, 2 and 3 threads, either order, and the reference's.
TEST(Gemv, BatchDispatchGivesTheSameResultOnAnyThreadCount) {
  std::mt19937 rng(7);
  GemvArgs g;
  g.M = 1000, g.K = 256;
  const int64_t batch = 7;
  const auto w = random_floats(static_cast<size_t>(g.M * g.K), rng);
  const auto wp = gemv_pack(w.data(), g.M, g.K);
  const auto x = random_floats(static_cast<size_t>(batch * g.K), rng);
  const auto bias = random_floats(static_cast<size_t>(g.M), rng);
  g.wp = wp.data(), g.x = x.data(), g.bias = bias.data();
  auto run = [&](ThreadPool* p, bool descending) {
    std::vector<float> out(static_cast<size_t>(batch * g.M), 7.0f);
    g.y = out.data();
    g.descending = descending;
    gemv_batch_f32(g, batch, g.K, g.M, p);
    return out;
  };
  std::vector<float> want(static_cast<size_t>(batch * g.M));
  g.y = want.data();
  gemv_batch_f32_ref(g, 0, g.M, batch, g.K, g.M);
  ThreadPool two(2), three(3);
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &two, &three})
    for (bool descending : {false, true})
      EXPECT_EQ(run(p, descending), want) << (p ? p->threads() : 1) << " threads, descending " << descending;
}

}  // namespace
}  // namespace kiln::kernels
