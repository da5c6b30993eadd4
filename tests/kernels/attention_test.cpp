// The attention row kernels (kernels/attention) against plain loops, with the exp accuracy attention.h states,
// and ai.kiln.ScaledDotProductAttention's prepared kernel against its reference: batch broadcasting, masks of
// every broadcast form (causal with -inf, padding, per head), fully masked rows, S != T, Dv != D, keys longer
// than one block (the online softmax), 1 and 2 threads identical, at every ISA tier this CPU has.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "../unit/nn_test_util.h"
#include "alloc_counter.h"
#include "kernels/attention/attention.h"
#include "prepared_compare.h"

namespace kiln::testing {
namespace {

using prep::float_attr;

class AttentionRows : public prep::TierTest {
 protected:
  const kernels::AttentionRowKernels& k() const {
    const kernels::AttentionRowKernels* rows = nullptr;
    for (const kernels::AttentionRowKernels* r : kernels::attention_row_kernels())
      if (r->tier == GetParam()) rows = r;
    EXPECT_TRUE(rows);
    return *rows;
  }
};
KILN_TIER_TESTS(AttentionRows);

// Distance in units in the last place between two finite floats of one sign.
int64_t ulp_distance(float a, float b) {
  return std::abs(static_cast<int64_t>(std::bit_cast<int32_t>(a)) - static_cast<int64_t>(std::bit_cast<int32_t>(b)));
}

TEST_P(AttentionRows, ExpOfNonPositiveArgumentsWithinTwoUlp) {
  // Every 61st float of [-87.3, 0] (about 18 million), through exp_sum with shift 0.
  std::vector<float> xs, buf;
  int64_t worst = 0;
  float worst_x = 0;
  const int32_t lo = std::bit_cast<int32_t>(-87.3f);
  for (int32_t bits = std::bit_cast<int32_t>(-0.0f); bits <= lo; bits += 61) xs.push_back(std::bit_cast<float>(bits));
  buf = xs;
  k().exp_sum(buf.data(), 0.0f, static_cast<int64_t>(buf.size()));
  for (size_t i = 0; i < xs.size(); ++i) {
    const float want = static_cast<float>(std::exp(static_cast<double>(xs[i])));
    const int64_t d = ulp_distance(buf[i], want);
    if (d > worst) worst = d, worst_x = xs[i];
  }
  EXPECT_LE(worst, 2) << "at x = " << worst_x;
  // Below the kept range the result is exactly 0; -inf gives 0; NaN stays NaN.
  float special[] = {-87.5f, -100.0f, -std::numeric_limits<float>::infinity(), std::nanf("")};
  k().exp_sum(special, 0.0f, 4);
  EXPECT_EQ(special[0], 0.0f);
  EXPECT_EQ(special[1], 0.0f);
  EXPECT_EQ(special[2], 0.0f);
  EXPECT_TRUE(std::isnan(special[3]));
}

TEST_P(AttentionRows, RowOperationsMatchPlainLoopsAtEveryLength) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  for (int64_t n = 0; n <= 70; ++n) {
    std::vector<float> s(static_cast<size_t>(n)), mask(static_cast<size_t>(n));
    for (float& v : s) v = u(rng);
    for (float& v : mask) v = u(rng);
    for (int mode = 0; mode < 3; ++mode) {  // no mask, one broadcast value, a row of values
      std::vector<float> got = s, want = s;
      const float* m = mode == 0 ? nullptr : mask.data();
      const int64_t step = mode == 2 ? 1 : 0;
      float want_max = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        if (m) want[static_cast<size_t>(j)] += m[j * step];
        want_max = std::max(want_max, want[static_cast<size_t>(j)]);
      }
      if (n == 0 && m) continue;  // a broadcast value needs an element to read
      const float got_max = k().add_mask_max(got.data(), m, step, n);
      EXPECT_EQ(got_max, want_max) << "n " << n << " mode " << mode;
      EXPECT_EQ(got, want) << "n " << n << " mode " << mode;
      double want_sum = 0;
      for (float& v : want) want_sum += std::exp(static_cast<double>(v - want_max)), v = std::exp(v - want_max);
      const float got_sum = k().exp_sum(got.data(), want_max, n);
      EXPECT_NEAR(got_sum, want_sum, 1e-6 * (1 + want_sum)) << "n " << n;
      for (int64_t j = 0; j < n; ++j) EXPECT_NEAR(got[static_cast<size_t>(j)], want[static_cast<size_t>(j)], 1e-6f);
      k().scale(got.data(), 0.5f, n);
      for (int64_t j = 0; j < n; ++j)
        EXPECT_NEAR(got[static_cast<size_t>(j)], 0.5f * want[static_cast<size_t>(j)], 1e-6f);
    }
  }
}

// ---- ScaledDotProductAttention ----

class SdpaPrepared : public prep::TierTest {};
KILN_TIER_TESTS(SdpaPrepared);

struct SdpaCase {
  std::vector<int64_t> q, k, v, mask;  // mask empty: none
  bool causal = false;                 // -inf above the diagonal of the mask's last two dims
  bool scale = true;
};

Tensor make_mask(const std::vector<int64_t>& dims, bool causal, std::mt19937& rng) {
  Tensor m = random_tensor(dims, rng);
  if (!causal) return m;
  const int64_t s = dims.size() >= 2 ? dims[dims.size() - 2] : 1, t = dims.back();
  float* p = m.data<float>();
  for (int64_t i = 0; i < m.numel(); ++i) {
    const int64_t col = i % t, row = i / t % s;
    p[i] = col > row + (t - s) ? -std::numeric_limits<float>::infinity() : 0.0f;
  }
  return m;
}

void run_case(const SdpaCase& c, std::mt19937& rng) {
  PreparedNode n("ScaledDotProductAttention", 1, "ai.kiln");
  if (c.scale) n.attr(float_attr("scale", 0.3f));
  n.input(random_tensor(c.q, rng), false).input(random_tensor(c.k, rng)).input(random_tensor(c.v, rng));
  if (!c.mask.empty()) n.input(make_mask(c.mask, c.causal, rng));
  prep::expect_prepared_matches(n, 1, 2e-5,
                                "SDPA Q" + dims_str(c.q) + " K" + dims_str(c.k) + " V" + dims_str(c.v) + " mask" +
                                    dims_str(c.mask) + (c.causal ? " causal" : ""));
}

TEST_P(SdpaPrepared, ShapesAndMasksMatchTheReference) {
  std::mt19937 rng(99);
  const std::vector<SdpaCase> cases = {
      {{2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 6}, {}},
      {{1, 4, 17, 16}, {1, 4, 17, 16}, {1, 4, 17, 16}, {17, 17}, true},
      {{2, 2, 70, 32}, {2, 2, 70, 32}, {2, 2, 70, 32}, {2, 1, 1, 70}},
      {{2, 2, 9, 4}, {2, 2, 11, 4}, {2, 2, 11, 5}, {2, 2, 9, 11}},
      {{3, 9, 4}, {3, 11, 4}, {3, 11, 5}, {9, 1}},
      {{3, 9, 4}, {1, 11, 4}, {11, 5}, {11}},       // K and V broadcast across the batch
      {{2, 1, 6, 8}, {1, 3, 5, 8}, {1, 3, 5, 8}, {}},  // batch dims broadcast both ways
      {{1, 8}, {5, 8}, {5, 3}, {1, 5}, false, false},  // rank 2, scale defaulting to 1/sqrt(D)
      {{1, 1, 1, 64}, {1, 1, 300, 64}, {1, 1, 300, 64}, {}},  // one query (decoding)
      {{1, 2, 130, 64}, {1, 2, 130, 64}, {1, 2, 130, 64}, {130, 130}, true},  // several row tiles
      {{1, 1, 0, 8}, {1, 1, 4, 8}, {1, 1, 4, 8}, {}},  // no queries
      {{1, 1, 3, 8}, {1, 1, 0, 8}, {1, 1, 0, 8}, {}},  // no keys: zeros
      {{1, 3, 8}, {1, 5, 8}, {1, 5, 8}, {1, 1, 1}},   // scalar-like mask
  };
  for (const SdpaCase& c : cases) run_case(c, rng);
}

TEST_P(SdpaPrepared, KeysLongerThanOneBlockUseTheOnlineSoftmax) {
  std::mt19937 rng(5);
  run_case({{1, 2, 3, 16}, {1, 2, 1500, 16}, {1, 2, 1500, 8}, {}}, rng);
  run_case({{1, 1, 5, 8}, {1, 1, 1300, 8}, {1, 1, 1300, 8}, {5, 1300}}, rng);
  // Causal over a long sequence: blocks entirely masked for the first queries.
  run_case({{1, 1, 700, 8}, {1, 1, 700, 8}, {1, 1, 700, 8}, {700, 700}, true}, rng);
}

TEST_P(SdpaPrepared, EqualRowTilesAndCausalTilesCoverEveryQuery) {
  std::mt19937 rng(8);
  // ViT's 197 tokens: two tiles of 99 and 98 rows; 33 and 65 causal rows: ragged causal tiles of at most 32 rows
  // (the first tiles stop after a few keys); a causal mask per head; S < T with the causal offset.
  run_case({{1, 3, 197, 16}, {1, 3, 197, 16}, {1, 3, 197, 16}, {}}, rng);
  run_case({{1, 2, 33, 8}, {1, 2, 33, 8}, {1, 2, 33, 8}, {33, 33}, true}, rng);
  run_case({{2, 65, 8}, {2, 65, 8}, {2, 65, 5}, {2, 65, 65}, true}, rng);
  run_case({{1, 2, 40, 8}, {1, 2, 90, 8}, {1, 2, 90, 8}, {1, 2, 40, 90}, true}, rng);
  // Kᵀ and V packed once per head and shared by its row tiles: K and V broadcast across the heads (each head packs
  // the same ones), and a padding mask alike in every row that hides the last keys from all of them (the tiles
  // stop early: they read a prefix of the packed Kᵀ and pack their rows of V themselves).
  run_case({{2, 150, 8}, {1, 150, 8}, {1, 150, 5}, {}}, rng);
  {
    PreparedNode n("ScaledDotProductAttention", 1, "ai.kiln");
    Tensor mask = random_tensor({1, 75}, rng);
    for (int64_t j = 41; j < 75; ++j) mask.data<float>()[j] = -std::numeric_limits<float>::infinity();
    Tensor full(DType::kFloat32, {150, 75});
    for (int64_t r = 0; r < 150; ++r) std::copy_n(mask.data<float>(), 75, full.data<float>() + r * 75);
    n.input(random_tensor({2, 150, 8}, rng)).input(random_tensor({2, 75, 8}, rng)).input(random_tensor({2, 75, 8}, rng));
    n.input(full);
    prep::expect_prepared_matches(n, 1, 2e-5, "SDPA with the last keys padded out of every row");
  }
  // Rows that end in -inf at scattered lengths, not a triangle: each tile stops at its own longest row.
  PreparedNode n("ScaledDotProductAttention", 1, "ai.kiln");
  Tensor mask = random_tensor({70, 50}, rng);
  for (int64_t r = 0; r < 70; ++r)
    for (int64_t j = 1 + (r * 37) % 50; j < 50; ++j) mask.data<float>()[r * 50 + j] = -std::numeric_limits<float>::infinity();
  n.input(random_tensor({1, 70, 8}, rng)).input(random_tensor({1, 50, 8}, rng)).input(random_tensor({1, 50, 8}, rng));
  n.input(mask);
  prep::expect_prepared_matches(n, 1, 2e-5, "SDPA with rows masked from scattered points");
}

// A steady-state run allocates nothing (issue 8, item 7), also where a head's row tiles share its packed Kᵀ and V
// (ViT's 197 tokens: two row tiles per head). The harness allocates the outputs each run: so the second run of
// the shared-packing shape must make as many allocations as the second run of a one-tile shape (S = 64).
TEST_P(SdpaPrepared, SharedPackingAllocatesNothingInASteadyStateRun) {
  if (!kiln::cli::allocations_so_far())
    GTEST_SKIP() << "allocations cannot be counted in this build (a sanitizer runtime owns malloc)";
  std::mt19937 rng(11);
  auto second_run_allocations = [&](int64_t s) {
    PreparedNode n("ScaledDotProductAttention", 1, "ai.kiln");
    n.input(random_tensor({1, 3, s, 16}, rng)).input(random_tensor({1, 3, s, 16}, rng));
    n.input(random_tensor({1, 3, s, 16}, rng));
    auto k = n.prepare();
    EXPECT_TRUE(k);
    n.run(*k, {{1, 3, s, 16}}, nullptr);
    const auto before = *kiln::cli::allocations_so_far();
    n.run(*k, {{1, 3, s, 16}}, nullptr);
    return kiln::cli::allocations_so_far()->calls - before.calls;
  };
  EXPECT_EQ(second_run_allocations(197), second_run_allocations(64));
}

// seq_first = 1: Q [S, N, D], K [T, N, D], V [T, N, Dv], Y [S, N, Dv], each N possibly 1 (broadcast).
void run_seq_first(std::vector<int64_t> q, std::vector<int64_t> k, std::vector<int64_t> v, std::vector<int64_t> mask,
                   bool causal, std::mt19937& rng) {
  PreparedNode n("ScaledDotProductAttention", 1, "ai.kiln");
  n.attr(prep::int_attr("seq_first", 1));
  n.input(random_tensor(q, rng)).input(random_tensor(k, rng)).input(random_tensor(v, rng));
  if (!mask.empty()) n.input(make_mask(mask, causal, rng));
  prep::expect_prepared_matches(n, 1, 2e-5,
                                "SDPA seq_first Q" + dims_str(q) + " K" + dims_str(k) + " V" + dims_str(v) + " mask" +
                                    dims_str(mask) + (causal ? " causal" : ""));
}

TEST_P(SdpaPrepared, SequenceFirstOperandsAreReadInPlace) {
  std::mt19937 rng(9);
  run_seq_first({128, 4, 16}, {128, 4, 16}, {128, 4, 16}, {4, 1, 128}, false, rng);  // BERT's padding mask
  run_seq_first({197, 3, 8}, {197, 3, 8}, {197, 3, 8}, {}, false, rng);               // ViT: two row tiles
  run_seq_first({40, 2, 8}, {40, 2, 8}, {40, 2, 5}, {40, 40}, true, rng);             // causal tiles, Dv != D
  run_seq_first({5, 3, 8}, {7, 1, 8}, {7, 3, 6}, {3, 5, 7}, false, rng);              // K shared by the heads
  run_seq_first({3, 2, 16}, {700, 2, 16}, {700, 2, 8}, {}, false, rng);               // key blocks (online)
}

TEST_P(SdpaPrepared, FullyMaskedRowsGiveNanLikeTheReference) {
  std::mt19937 rng(6);
  PreparedNode n("ScaledDotProductAttention", 1, "ai.kiln");
  Tensor mask = random_tensor({4, 6}, rng);
  for (int64_t j = 0; j < 6; ++j) mask.data<float>()[6 + j] = -std::numeric_limits<float>::infinity();  // row 1
  n.input(random_tensor({1, 4, 8}, rng)).input(random_tensor({1, 6, 8}, rng)).input(random_tensor({1, 6, 8}, rng));
  n.input(mask);
  prep::expect_prepared_matches(n, 1, 2e-5, "SDPA with a fully masked row");
}

TEST_P(SdpaPrepared, ShapesItCannotHandleGoToTheReference) {
  std::mt19937 rng(7);
  PreparedNode n("ScaledDotProductAttention", 1, "ai.kiln");
  n.input(random_tensor({2, 4, 8}, rng)).input(random_tensor({2, 5, 7}, rng)).input(random_tensor({2, 5, 8}, rng));
  auto k = n.prepare();
  ASSERT_TRUE(k);
  kernels::ThreadPool pool(1);
  EXPECT_THROW(n.run(*k, {{2, 4, 8}}, &pool), Error);  // D differs: the reference refuses it, naming the shapes
}

}  // namespace
}  // namespace kiln::testing
