// The fast GEMM (kernels/gemm/gemm.h) against the reference gemm_f32_ref plus the epilogue written out, for every
// kernel of gemm_list.h this CPU can run (the others are skipped with the reason): random shapes with ragged
// tails and 1-sized dims, transposes, padded leading dimensions, prepacked operands, batches, both bias axes,
// residuals (C itself included), every activation, a B source, K = 0, and identical bits at 1 and 2 threads;
// Sigmoid and SiLU (applied in the tiles' registers) to vunary's ulp bounds, special values included.

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/activation.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_kernel.h"
#include "kernels/gemm_ref.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "kernels/vunary/vunary.h"
#include "ulp_util.h"

namespace kiln::kernels {
namespace {

constexpr Activation kActivations[] = {Activation::kNone,      Activation::kRelu,     Activation::kClip,
                                       Activation::kLeakyRelu, Activation::kSigmoid,  Activation::kTanh,
                                       Activation::kHardSigmoid, Activation::kHardSwish, Activation::kSilu,
                                       Activation::kGeluErf,   Activation::kGeluTanh};

enum class Residual { kNone, kSeparate, kIntoC };

struct GemmCase {
  int64_t M = 1, N = 1, K = 1, batch = 1;
  bool ta = false, tb = false;
  int64_t pad = 0;  ///< added to every leading dimension
  float alpha = 1.0f;
  bool bias = false;
  GemmEpilogue::BiasAxis axis = GemmEpilogue::BiasAxis::kPerColumn;
  Residual residual = Residual::kNone;
  float beta = 1.0f;
  ActivationParams act;
  bool pack_a = false, pack_b = false, source = false;
  bool shared_a = false, shared_b = false;  ///< batch entries read the same A / B (stride 0)

  std::string str() const {
    return "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
           " batch=" + std::to_string(batch) + " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) +
           " pad=" + std::to_string(pad) + " alpha=" + std::to_string(alpha) + " bias=" + std::to_string(bias) +
           (axis == GemmEpilogue::BiasAxis::kPerRow ? "/row" : "/col") +
           " residual=" + std::to_string(static_cast<int>(residual)) + " act=" + activation_name(act.kind) +
           " packA=" + std::to_string(pack_a) + " packB=" + std::to_string(pack_b) + " source=" + std::to_string(source) +
           " sharedA=" + std::to_string(shared_a) + " sharedB=" + std::to_string(shared_b);
  }
};

/// B produced on demand from a row-major K x N matrix; records the widest request.
struct Source {
  const float* b;
  int64_t ldb;
  mutable std::atomic<int64_t> widest{0};
  mutable std::atomic<int64_t> filled{0};  ///< elements written, over all calls
  static void fill(const void* ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) {
    const auto* s = static_cast<const Source*>(ctx);
    s->filled.fetch_add(kc * nc);
    int64_t w = s->widest.load();
    while (nc > w && !s->widest.compare_exchange_weak(w, nc)) {
    }
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t n = 0; n < nc; ++n) dst[k * ld + n] = s->b[(k0 + k) * s->ldb + n0 + n];
  }
};

/// The operands and outputs of one case, and the expected result computed with the reference.
struct Trial {
  GemmCase c;
  int64_t lda, ldb, ldc, ldr, sa, sb, sc, sr;
  std::vector<float> A, B, bias, R, C, want, scale;

  Trial(const GemmCase& cs, std::mt19937& rng) : c(cs) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
    const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
    lda = a_cols + c.pad;
    ldb = b_cols + c.pad;
    ldc = c.N + c.pad;
    ldr = c.residual == Residual::kIntoC ? ldc : c.N + 2 * c.pad;
    // Batch entries are spaced with a gap, so that a stride mix-up reads the wrong numbers.
    sa = c.shared_a || c.pack_a ? 0 : a_rows * lda + 3;
    sb = c.shared_b || c.pack_b || c.source ? 0 : b_rows * ldb + 5;
    sc = c.M * ldc + 7;
    sr = c.residual == Residual::kIntoC ? sc : c.M * ldr + 2;
    auto fill = [&](std::vector<float>& v, int64_t n) {
      v.resize(static_cast<size_t>(std::max<int64_t>(n, 1)));
      for (auto& x : v) x = u(rng);
    };
    fill(A, a_rows * lda + sa * (c.batch - 1));
    fill(B, b_rows * ldb + sb * (c.batch - 1));
    fill(bias, c.axis == GemmEpilogue::BiasAxis::kPerRow ? c.M : c.N);
    fill(R, c.M * ldr + sr * (c.batch - 1));
    // C starts as NaN (it must not be read) or, for an in-place residual, as the residual itself.
    C.assign(static_cast<size_t>(c.M * ldc + sc * (c.batch - 1)), NAN);
    if (c.residual == Residual::kIntoC) C = std::vector<float>(R.begin(), R.begin() + static_cast<int64_t>(C.size()));
    expect();
  }

  void expect() {
    want = C;
    scale.assign(C.size(), 0.0f);
    std::vector<float> absA(A.size()), absB(B.size());
    for (size_t i = 0; i < A.size(); ++i) absA[i] = std::fabs(A[i]);
    for (size_t i = 0; i < B.size(); ++i) absB[i] = std::fabs(B[i]);
    for (int64_t e = 0; e < c.batch; ++e) {
      float* w = want.data() + e * sc;
      float* s = scale.data() + e * sc;
      gemm_f32_ref(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data() + e * sa, lda, B.data() + e * sb, ldb, 0.0f, w, ldc);
      gemm_f32_ref(c.ta, c.tb, c.M, c.N, c.K, std::fabs(c.alpha), absA.data() + e * sa, lda, absB.data() + e * sb, ldb,
                   0.0f, s, ldc);
      for (int64_t m = 0; m < c.M; ++m) {
        for (int64_t n = 0; n < c.N; ++n) {
          float& x = w[m * ldc + n];
          if (c.bias) {
            const float b = c.axis == GemmEpilogue::BiasAxis::kPerRow ? bias[m] : bias[n];
            x += b;
            s[m * ldc + n] += std::fabs(b);
          }
          if (c.residual != Residual::kNone) {
            const float r = c.beta * R[e * sr + m * ldr + n];
            x += r;
            s[m * ldc + n] += std::fabs(r);
          }
        }
        apply_activation_f32_ref(c.act, w + m * ldc, w + m * ldc, c.N);
      }
    }
  }

  /// Runs the fast GEMM into C.
  void compute(ThreadPool* pool, int64_t* widest_fill = nullptr, int64_t* filled = nullptr) {
    PackedGemmOperand pa, pb;
    GemmArgs g;
    g.M = c.M;
    g.N = c.N;
    g.K = c.K;
    g.a = {A.data(), lda, c.ta};
    g.b = {B.data(), ldb, c.tb};
    if (c.pack_a) {
      pa = pack_gemm_operand(GemmSide::kA, g.a, c.M, c.K);
      g.packed_a = &pa;
      g.a = {};
    }
    if (c.pack_b) {
      pb = pack_gemm_operand(GemmSide::kB, g.b, c.K, c.N);
      g.packed_b = &pb;
      g.b = {};
    }
    Source src{B.data(), ldb};
    GemmBSource bs{&Source::fill, &src};
    if (c.source) {
      g.b_source = &bs;
      g.b = {};
    }
    g.c = C.data();
    g.ldc = ldc;
    g.epilogue.alpha = c.alpha;
    g.epilogue.bias = c.bias ? bias.data() : nullptr;
    g.epilogue.bias_axis = c.axis;
    g.epilogue.residual = c.residual == Residual::kIntoC ? C.data() : c.residual == Residual::kSeparate ? R.data() : nullptr;
    g.epilogue.ldr = ldr;
    g.epilogue.beta = c.beta;
    g.epilogue.activation = c.act;
    g.batch = c.batch;
    g.stride_a = sa;
    g.stride_b = sb;
    g.stride_c = sc;
    g.stride_residual = sr;
    gemm_f32(g, pool);
    if (widest_fill) *widest_fill = src.widest.load();
    if (filled) *filled = src.filled.load();
  }

  void check() const {
    // A K-term sum in float: both sides within ~K ulps of the scale; the activation (slope <= 1.5) and its own
    // approximation (a few ulps) on top.
    const double tol_scale = 2.5e-7 * static_cast<double>(c.K + 8);
    for (int64_t e = 0; e < c.batch; ++e)
      for (int64_t m = 0; m < c.M; ++m) {
        for (int64_t n = 0; n < ldc; ++n) {
          const size_t i = static_cast<size_t>(e * sc + m * ldc + n);
          if (n >= c.N) {  // padding: untouched
            ASSERT_TRUE(std::isnan(C[i]) || c.residual == Residual::kIntoC) << c.str() << " wrote padding " << m << "," << n;
            continue;
          }
          const double tol = 1e-6 + tol_scale * scale[i] + 1e-5 * std::fabs(want[i]);
          ASSERT_NEAR(C[i], want[i], tol) << c.str() << " at entry " << e << " (" << m << ", " << n << ")";
        }
      }
    if (c.residual == Residual::kIntoC) return;
    for (int64_t e = 0; e + 1 < c.batch; ++e)  // the gaps between entries: untouched
      for (int64_t i = c.M * ldc; i < sc; ++i) ASSERT_TRUE(std::isnan(C[static_cast<size_t>(e * sc + i)])) << c.str();
  }
};

class GemmF32 : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    const GemmKernelEntry& k = gemm_kernel_entries()[GetParam()];
    if (!isa_available(k.tier))
      GTEST_SKIP() << k.name << " needs " << isa_name(k.tier) << "; this CPU has " << isa_name(detected_isa());
    saved_ = active_isa();
    set_isa_cap(k.tier);
    ASSERT_EQ(gemm_active_kernel(), GetParam());
    ASSERT_STREQ(gemm_kernel_name(), k.name);
    restore_ = true;
  }
  void TearDown() override {
    if (restore_) set_isa_cap(saved_);
  }
  const GemmKernelEntry& kernel() const { return gemm_kernel_entries()[GetParam()]; }

  IsaTier saved_ = IsaTier::kRef;
  bool restore_ = false;
};

GemmCase random_case(std::mt19937& rng, int64_t max_dim) {
  auto pick = [&](std::initializer_list<int64_t> v) { return *(v.begin() + rng() % v.size()); };
  GemmCase c;
  c.M = std::min(max_dim, pick({1, 2, 3, 5, 6, 7, 11, 12, 13, 23, 25, 37, 64, 97}));
  c.N = std::min(max_dim, pick({1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 100, 271}));
  c.K = std::min(max_dim, pick({1, 2, 3, 4, 5, 16, 17, 63, 64, 130, 257, 300}));
  c.batch = pick({1, 1, 1, 2, 3});
  c.ta = rng() % 2;
  c.tb = rng() % 2;
  c.pad = pick({0, 0, 1, 3, 16});
  c.alpha = pick({1, 1, 2, 3}) == 1 ? 1.0f : 0.5f + static_cast<float>(rng() % 100) / 50.0f;
  c.bias = rng() % 2;
  c.axis = rng() % 2 ? GemmEpilogue::BiasAxis::kPerRow : GemmEpilogue::BiasAxis::kPerColumn;
  c.residual = static_cast<Residual>(rng() % 3);
  c.beta = rng() % 2 ? 1.0f : -0.75f;
  c.act.kind = kActivations[rng() % std::size(kActivations)];
  c.act.alpha = c.act.kind == Activation::kClip ? -0.5f : c.act.kind == Activation::kHardSigmoid ? 0.2f : 0.1f;
  c.act.beta = c.act.kind == Activation::kClip ? 0.7f : 0.5f;
  c.pack_a = rng() % 3 == 0;
  c.pack_b = rng() % 3 == 0;
  c.source = !c.pack_b && c.batch == 1 && !c.tb && rng() % 3 == 0;
  c.shared_a = rng() % 4 == 0;
  c.shared_b = rng() % 4 == 0;
  return c;
}

TEST_P(GemmF32, RandomShapesAgainstReference) {
  std::mt19937 rng(1234 + GetParam());
  const int cases = kernel().tier == IsaTier::kRef ? 120 : 400;
  for (int i = 0; i < cases; ++i) {
    Trial run(random_case(rng, 1 << 20), rng);
    run.compute(nullptr);
    run.check();
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemmF32, EveryTileShape) {
  // Every row count 1..2 MR and every width 1..2 NR + 1 against K spanning one and two K blocks, with A read in
  // place and packed in row panels (where the last 1..kGemmColumnTileCols columns take the column tiles, and a
  // panel of half its width plus that many the half-width tile and a column tile), with
  // the epilogue's every part: both bias axes, residuals, activations in registers and after the tiles.
  std::mt19937 rng(7);
  const GemmKernelEntry& k = kernel();
  constexpr Activation acts[] = {Activation::kNone, Activation::kRelu, Activation::kHardSwish, Activation::kSigmoid,
                                 Activation::kSilu, Activation::kGeluErf};
  int variant = 0;
  for (bool packed : {false, true})
    for (int64_t K : {1, 29, 300})
      for (int64_t M = 1; M <= 2 * k.mr; M += (K == 29 ? 1 : 3))
        for (int64_t N = 1; N <= 2 * k.nr + 1; N += (K == 29 ? 1 : 5)) {
          GemmCase c;
          c.M = M;
          c.N = N;
          c.K = K;
          c.ta = packed;
          c.bias = variant % 4 != 3;
          c.axis = variant % 2 ? GemmEpilogue::BiasAxis::kPerRow : GemmEpilogue::BiasAxis::kPerColumn;
          c.residual = variant % 3 == 0 ? Residual::kSeparate : variant % 3 == 1 ? Residual::kIntoC : Residual::kNone;
          c.alpha = variant % 5 == 4 ? -1.5f : 1.0f;
          c.act.kind = acts[variant % std::size(acts)];
          ++variant;
          Trial run(c, rng);
          run.compute(nullptr);
          run.check();
          if (HasFatalFailure()) return;
        }
}

TEST_P(GemmF32, LastPanelJustPastHalfWidthSplits) {
  // A last panel of half a panel plus 1..kGemmColumnTileCols columns (a 7x7 plane's 49 = 32 + 17 at avx512) runs
  // as the half-width tile beside the column tile: the shapes of a convolution on small planes (packed weights as
  // A; B packed, read in place, prepacked or from a source), one and several K blocks, every epilogue, batches,
  // row tails, and 1 and 2 threads giving the same bits.
  std::mt19937 rng(57);
  ThreadPool pool(2);
  const GemmKernelEntry& k = kernel();
  int variant = 0;
  for (int64_t extra = 1; extra <= kGemmColumnTileCols; ++extra)
    for (int64_t K : {7, 300, 520}) {
      GemmCase c;
      c.M = variant % 2 ? 2 * k.mr + 5 : 37;
      c.N = k.nr + k.nr / 2 + extra;  // 49..52 at nr 32
      c.K = K;
      c.pack_a = true;
      c.pack_b = variant % 4 == 1;
      c.source = variant % 4 == 2;
      c.tb = variant % 4 == 3;
      c.batch = variant % 3 == 2 && !c.source ? 3 : 1;
      c.pad = variant % 2 ? 3 : 0;
      c.bias = true;
      c.axis = variant % 2 ? GemmEpilogue::BiasAxis::kPerRow : GemmEpilogue::BiasAxis::kPerColumn;
      c.residual = variant % 3 == 0 ? Residual::kIntoC : variant % 3 == 1 ? Residual::kSeparate : Residual::kNone;
      c.act.kind = kActivations[variant % std::size(kActivations)];
      c.act.alpha = c.act.kind == Activation::kClip ? -0.5f : 0.1f;
      c.act.beta = c.act.kind == Activation::kClip ? 0.7f : 0.5f;
      ++variant;
      Trial one(c, rng);
      Trial two = one;
      one.compute(nullptr);
      two.compute(&pool);
      one.check();
      if (HasFatalFailure()) return;
      ASSERT_EQ(0, std::memcmp(one.C.data(), two.C.data(), one.C.size() * sizeof(float))) << c.str();
    }
}

TEST_P(GemmF32, RowMajorBReadInPlace) {
  // A in few row panels: gemm_f32 reads a row-major B in place (full-width panels) and packs only its last,
  // partial panel. One and several K blocks, ragged and exact widths, one and several column blocks (1100
  // columns: 3 or more blocks at the nc of an L2 up to 1 MiB, the last one ragged), leading dimensions past N,
  // batches, activations in registers and after the tiles, residuals. B is read in place only where it fits L2
  // (gemm_driver.cpp's read_b_in_place): K = 300 keeps several K blocks of several column blocks in place on a
  // 2 MiB L2, where 600 x 1100 is packed.
  std::mt19937 rng(31);
  const GemmKernelEntry& k = kernel();
  int variant = 0;
  for (int64_t K : {1, 16, 61, 256, 300, 600})
    for (int64_t N : {k.nr / 2, k.nr, 3 * k.nr + 5, 5 * k.nr, 1100})
      for (int64_t M : {1, k.mr + 1, 3 * k.mr}) {
        GemmCase c;
        c.M = M;
        c.N = N;
        c.K = K;
        c.ta = variant % 2 == 1;  // A in row panels: packed for the call or ahead of time
        c.pack_a = variant % 2 == 0;
        c.pad = variant % 2 ? 3 : 0;
        c.batch = variant % 4 == 3 ? 2 : 1;
        c.bias = true;
        c.axis = variant % 2 ? GemmEpilogue::BiasAxis::kPerRow : GemmEpilogue::BiasAxis::kPerColumn;
        c.residual = variant % 5 == 0 ? Residual::kIntoC : variant % 5 == 1 ? Residual::kSeparate : Residual::kNone;
        c.act.kind = variant % 3 == 0 ? Activation::kRelu : variant % 3 == 1 ? Activation::kSigmoid : Activation::kNone;
        ++variant;
        Trial run(c, rng);
        run.compute(nullptr);
        run.check();
        if (HasFatalFailure()) return;
      }
}

TEST_P(GemmF32, RowMajorAWithRowsInOneCacheSetIsCopied) {
  // A row-major A whose rows are 4 or 8 KiB apart (K = 1024: a transformer's MLP down projection) would crowd
  // one set of L1: each task copies its row panel's K blocks to rows that do not (2 KiB apart: in place). Against the reference,
  // over one and several K blocks and row tails, and bit for bit equal to the same A read in place at a leading
  // dimension that does not crowd (the same tiles, the same order), at 1 and 2 threads.
  std::mt19937 rng(77);
  ThreadPool pool(2);
  const GemmKernelEntry& k = kernel();
  for (int64_t lda : {512, 1024, 2048})
    for (int64_t M : {k.mr / 2 + 1, 2 * k.mr + 5}) {
      GemmCase c;
      c.M = M;
      c.N = 3 * k.nr + 7;
      c.K = lda - (M % 2 ? 24 : 0);
      c.pad = lda - c.K;
      c.bias = true;
      c.residual = M % 2 ? Residual::kSeparate : Residual::kIntoC;
      c.act.kind = Activation::kGeluErf;
      c.pack_b = M % 2 == 1;
      Trial crowded(c, rng);
      Trial spread = crowded;  // the same values, A's rows 8 floats further apart
      const int64_t ld = c.K + c.pad + 8;
      spread.A.assign(static_cast<size_t>(c.M * ld), NAN);
      for (int64_t m = 0; m < c.M; ++m) std::copy_n(crowded.A.data() + m * crowded.lda, c.K, spread.A.data() + m * ld);
      spread.lda = ld;
      Trial crowded2 = crowded;
      crowded.compute(nullptr);
      crowded2.compute(&pool);
      spread.compute(nullptr);
      crowded.check();
      if (HasFatalFailure()) return;
      ASSERT_EQ(0, std::memcmp(crowded.C.data(), spread.C.data(), crowded.C.size() * sizeof(float))) << c.str();
      ASSERT_EQ(0, std::memcmp(crowded.C.data(), crowded2.C.data(), crowded.C.size() * sizeof(float))) << c.str();
    }
}

TEST_P(GemmF32, EpiloguesAndActivations) {
  std::mt19937 rng(99);
  for (Activation a : kActivations)
    for (int variant = 0; variant < 4; ++variant) {
      GemmCase c;
      c.M = 19;
      c.N = 37;
      c.K = 270;  // two K blocks: the epilogue of the first, the accumulation of the second
      c.act.kind = a;
      c.act.alpha = a == Activation::kClip ? -0.3f : 0.2f;
      c.act.beta = a == Activation::kClip ? 0.4f : 0.5f;
      c.alpha = variant % 2 ? 1.0f : -1.5f;
      c.bias = variant != 0;
      c.axis = variant == 1 ? GemmEpilogue::BiasAxis::kPerRow : GemmEpilogue::BiasAxis::kPerColumn;
      c.residual = variant == 2 ? Residual::kIntoC : variant == 3 ? Residual::kSeparate : Residual::kNone;
      c.beta = variant == 3 ? 0.5f : 1.0f;
      Trial run(c, rng);
      run.compute(nullptr);
      run.check();
      if (HasFatalFailure()) return;
    }
}

TEST_P(GemmF32, ZeroK) {
  std::mt19937 rng(5);
  for (bool pack : {false, true}) {
    GemmCase c;
    c.M = 7;
    c.N = 20;
    c.K = 0;
    c.alpha = 2.0f;
    c.bias = true;
    c.residual = Residual::kSeparate;
    c.act.kind = Activation::kRelu;
    c.pack_a = c.pack_b = pack;
    Trial run(c, rng);
    run.compute(nullptr);
    run.check();
  }
}

TEST_P(GemmF32, ZeroKReadsNoOperand) {
  // K == 0: A and B may have no data at all; C gets the epilogue of zero (bias, then the activation).
  std::vector<float> c(6 * 40, NAN), bias(40);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<float>(i) - 20.0f;
  GemmArgs g;
  g.M = 6;
  g.N = 40;
  g.K = 0;
  g.c = c.data();
  g.ldc = 40;
  g.epilogue.bias = bias.data();
  g.epilogue.activation.kind = Activation::kRelu;
  gemm_f32(g, nullptr);
  for (int64_t m = 0; m < 6; ++m)
    for (int64_t n = 0; n < 40; ++n) ASSERT_EQ(c[static_cast<size_t>(m * 40 + n)], std::max(bias[n], 0.0f));
}

TEST_P(GemmF32, SigmoidSiluAndGeluInRegistersKeepVunarysAccuracy) {
  // The tiles apply Sigmoid, SiLU and GELU (erf) in registers with vunary's formulas: within vunary's bounds (3, 4
  // and 8 ulp) of the float64 value, NaN, inf and the lanes past ±87 included (a vector with such a lane takes
  // Sigmoid's and SiLU's general formula, the others the fast path); GELU below x = -1.3 within vunary's absolute
  // bound, 2e-7 |x| (1 + erf cancels there). K = 0 and a residual of the inputs make the pre-activation values exact.
  // 13 rows x 45 columns: row and column tails of every kernel; the first rows in [-20, 20] without specials
  // (whole vectors on the fast path), the rest a grid over [-90, 90] with inf, NaN and ±87.5 sprinkled in.
  constexpr int64_t M = 13, N = 45, kCalm = 5;
  std::vector<float> x(M * N);
  for (int64_t i = 0; i < M * N; ++i)
    x[i] = i < kCalm * N ? -20.0f + 40.0f * static_cast<float>(i) / (kCalm * N)
                         : -90.0f + 180.0f * static_cast<float>(i - kCalm * N) / ((M - kCalm) * N);
  for (int64_t i = kCalm * N; i < M * N; i += 37)
    x[i] = (i / 37) % 3 == 0 ? NAN : (i / 37) % 3 == 1 ? INFINITY : -INFINITY;
  for (int64_t i = kCalm * N + 5; i < M * N; i += 41) x[i] = (i / 41) % 2 ? 87.5f : -87.5f;
  for (Activation a : {Activation::kSigmoid, Activation::kSilu, Activation::kGeluErf}) {
    std::vector<float> c(M * N, 0.0f);
    GemmArgs g;
    g.M = M;
    g.N = N;
    g.K = 0;
    g.c = c.data();
    g.ldc = N;
    g.epilogue.residual = x.data();
    g.epilogue.ldr = N;
    g.epilogue.activation.kind = a;
    gemm_f32(g, nullptr);
    const UnaryOp op = unary_op_of(a);
    const double bound = a == Activation::kSigmoid ? 3 : a == Activation::kSilu ? 4 : 8;
    for (int64_t i = 0; i < M * N; ++i) {
      const double want = vunary_ref_value(op, 0, 0, x[i]);
      if (std::isnan(want)) {  // NaN in, and silu(-inf), gelu(-inf) = -inf · 0
        ASSERT_TRUE(std::isnan(c[i])) << activation_name(a) << " x = " << x[i];
      } else if (a == Activation::kSilu && x[i] < -87.0f) {  // x times a denormal (vunary.h)
        ASSERT_LE(std::fabs(c[i] - want), std::fabs(x[i]) * std::ldexp(1.0, -148)) << "silu x = " << x[i];
      } else if (a == Activation::kGeluErf && x[i] < -1.3f) {
        ASSERT_LE(std::fabs(c[i] - want), 2e-7 * std::fabs(x[i])) << "gelu_erf x = " << x[i];
      } else {
        ASSERT_LE(testing::ulp_error(c[i], want), bound) << activation_name(a) << " x = " << x[i] << " at " << i;
      }
    }
  }
}

TEST_P(GemmF32, BSourceFillsNarrowBlocks) {
  std::mt19937 rng(11);
  GemmCase c;
  c.M = 40;
  c.N = 700;
  c.K = 530;
  c.source = true;
  c.pack_a = true;
  c.bias = true;
  c.axis = GemmEpilogue::BiasAxis::kPerRow;
  c.act.kind = Activation::kRelu;
  Trial run(c, rng);
  int64_t widest = 0;
  ThreadPool pool(2);
  run.compute(&pool, &widest);
  run.check();
  EXPECT_LE(widest, 256);  // B never exists as a whole: the source fills blocks of at most 256 columns
}

TEST_P(GemmF32, ThreadsGiveIdenticalBits) {
  std::mt19937 rng(21);
  ThreadPool pool(2);
  const GemmKernelEntry& k = kernel();
  const int64_t big = k.tier == IsaTier::kRef ? 1 : 2;
  std::vector<GemmCase> cases;
  for (int i = 0; i < 6; ++i) {
    GemmCase c;
    c.M = i % 2 ? 150 * big : 7;
    c.N = i % 2 ? 333 : 600 * big;
    c.K = 300 + i;
    c.pack_a = i == 1 || i == 4;
    c.pack_b = i == 2 || i == 5;
    c.source = i == 3;
    c.bias = true;
    c.residual = i % 3 == 0 ? Residual::kIntoC : Residual::kNone;
    c.act.kind = kActivations[(3 * i + 4) % std::size(kActivations)];
    cases.push_back(c);
  }
  GemmCase in_place;  // few row panels: B read in place by both threads where it fits L2 (else packed by them)
  in_place.M = 40;
  in_place.N = 900 * big + 3;
  in_place.K = 520;  // three K blocks
  in_place.pack_a = true;
  in_place.bias = true;
  in_place.axis = GemmEpilogue::BiasAxis::kPerRow;
  in_place.act.kind = Activation::kSilu;
  cases.push_back(in_place);
  // A 1x1 convolution on 55x55 planes: B's rows 3025 floats apart, not whole cache lines; 1 thread reads B in
  // place, 2 threads pack it (gemm_driver.cpp, read_b_in_place): the same bits.
  GemmCase plane;
  plane.M = 16;
  plane.N = 3025;
  plane.K = 130;
  plane.pack_a = true;
  plane.bias = true;
  plane.axis = GemmEpilogue::BiasAxis::kPerRow;
  plane.act.kind = Activation::kRelu;
  cases.push_back(plane);
  // A classifier at batch 1: one row, one column block of prepacked weights, split by columns over the threads.
  GemmCase classifier;
  classifier.M = 1;
  classifier.N = gemm_blocking(*k.code()).nc - 24;
  classifier.K = 700;
  classifier.pack_b = true;
  classifier.bias = true;
  classifier.act.kind = Activation::kRelu;
  cases.push_back(classifier);
  // A transformer's MLP down projection: one column block whose packed B outgrows L2 over several K blocks, so
  // each thread takes one row range (ragged rows, columns and K).
  GemmCase down;
  down.M = 197;
  down.N = 250;
  down.K = 1100;
  down.pack_b = true;
  down.bias = true;
  down.residual = Residual::kIntoC;
  cases.push_back(down);
  GemmCase heads;  // batched attention-like: entries spread over the threads
  heads.batch = 6;
  heads.M = heads.N = 70;
  heads.K = 64;
  heads.tb = true;
  heads.alpha = 0.125f;
  cases.push_back(heads);
  for (const GemmCase& c : cases) {
    Trial one(c, rng);
    Trial two = one;
    one.compute(nullptr);
    two.compute(&pool);
    one.check();
    ASSERT_EQ(0, std::memcmp(one.C.data(), two.C.data(), one.C.size() * sizeof(float))) << c.str();
  }
}

TEST_P(GemmF32, FewRowsSplitColumnsOverThreads) {
  // A B source (implicit GEMM) of one column block with an A within half of L2 (a layer of few output channels):
  // each of 2 threads takes a range of the columns rather than of the rows (gemm_driver.cpp, split_columns), so
  // the source is filled once in all, not once per thread. The bits are those of 1 thread, and so for the other
  // kinds of B (read in place, prepacked, packed by the tasks), which split rows, and with an activation applied
  // after the tiles (Tanh), where rows are split too.
  std::mt19937 rng(5);
  ThreadPool pool(2);
  const int64_t nc = gemm_blocking(*kernel().code()).nc;
  for (int kind = 0; kind < 4; ++kind)
    for (Activation act : {Activation::kRelu, Activation::kTanh}) {
      GemmCase c;
      c.M = 40;
      c.N = nc - 5;  // one column block whatever the CPU's L2
      c.K = 530;     // three K blocks
      c.bias = true;
      c.axis = GemmEpilogue::BiasAxis::kPerRow;
      c.act.kind = act;
      c.source = kind == 0;        // filled by the tasks
      c.pack_a = kind <= 1;        // 1: a row-major B read in place
      c.pack_b = kind == 2;        // prepacked weights, A rows of tokens
      if (kind == 3) c.ta = true;  // A packed for the call, B packed by the tasks
      Trial one(c, rng);
      Trial two = one;
      int64_t filled_one = 0, filled_two = 0;
      one.compute(nullptr, nullptr, &filled_one);
      two.compute(&pool, nullptr, &filled_two);
      one.check();
      ASSERT_EQ(0, std::memcmp(one.C.data(), two.C.data(), one.C.size() * sizeof(float))) << c.str();
      if (c.source && act == Activation::kRelu) {
        EXPECT_EQ(filled_one, c.K * c.N) << c.str();
        EXPECT_EQ(filled_two, c.K * c.N) << c.str() << ": filled again by a second thread";
      }
    }
  // A larger than half of L2 (many output channels): rows are split, and the source is packed once for the call
  // by both threads (K chunks), not once per row range.
  GemmCase wide;
  wide.M = gemm_blocking(*kernel().code()).l2_bytes / (2 * 300 * 4) + 40;
  wide.N = 200;
  wide.K = 300;
  wide.source = true;
  wide.pack_a = true;
  wide.bias = true;
  wide.axis = GemmEpilogue::BiasAxis::kPerRow;
  wide.act.kind = Activation::kRelu;
  Trial one(wide, rng);
  Trial two = one;
  int64_t filled_one = 0, filled_two = 0;
  one.compute(nullptr, nullptr, &filled_one);
  two.compute(&pool, nullptr, &filled_two);
  one.check();
  ASSERT_EQ(0, std::memcmp(one.C.data(), two.C.data(), one.C.size() * sizeof(float))) << wide.str();
  EXPECT_EQ(filled_one, wide.K * wide.N) << wide.str();
  EXPECT_EQ(filled_two, wide.K * wide.N) << wide.str() << ": filled once per row range";
}

TEST_P(GemmF32, LargeAIsPackedInRounds) {
  // 2100 x 2048 floats of A exceed the pre-packing budget: rows go in rounds, every row still right.
  if (kernel().tier == IsaTier::kRef) GTEST_SKIP() << "too slow for the portable kernel";
  std::mt19937 rng(3);
  GemmCase c;
  c.M = 2100;
  c.ta = true;  // a row-major A is read in place, a transposed one packed
  c.N = 5;
  c.K = 2048;
  c.bias = true;
  c.axis = GemmEpilogue::BiasAxis::kPerRow;
  Trial run(c, rng);
  ThreadPool pool(2);
  run.compute(&pool);
  run.check();
}

TEST_P(GemmF32, SteadyStateAllocatesNothing) {
  // Packing buffers are per thread and only grow: a repeated call finds them large enough.
  std::mt19937 rng(17);
  GemmCase c;
  c.M = 50;
  c.N = 300;
  c.K = 270;
  c.ta = true;  // A packed too
  c.bias = true;
  Trial run(c, rng);
  run.compute(nullptr);
  const uint64_t warm = gemm_scratch_allocations();
  for (int i = 0; i < 3; ++i) run.compute(nullptr);
  EXPECT_EQ(gemm_scratch_allocations(), warm);
}

TEST_P(GemmF32, PackedOperandsRecordTheirKernel) {
  std::vector<float> a(6 * 5, 1.0f);
  const PackedGemmOperand p = pack_gemm_operand(GemmSide::kA, {a.data(), 5, false}, 6, 5);
  EXPECT_EQ(p.kernel(), GetParam());
  EXPECT_EQ(p.rows(), 6);
  EXPECT_EQ(p.cols(), 5);
  EXPECT_GE(p.bytes(), static_cast<size_t>(kernel().mr * 5) * sizeof(float));
}

TEST_P(GemmF32, RejectsMismatchedPackedOperand) {
  std::vector<float> a(6 * 5, 1.0f), c(6 * 7);
  const PackedGemmOperand p = pack_gemm_operand(GemmSide::kA, {a.data(), 5, false}, 6, 5);
  GemmArgs g;
  g.M = 6;
  g.N = 7;
  g.K = 4;  // packed with K = 5
  g.packed_a = &p;
  g.b = {a.data(), 7, false};
  g.c = c.data();
  g.ldc = 7;
  EXPECT_THROW(gemm_f32(g, nullptr), Error);
}

std::string kernel_name(const ::testing::TestParamInfo<int>& info) {
  return gemm_kernel_entries()[info.param].name;
}

INSTANTIATE_TEST_SUITE_P(Kernels, GemmF32, ::testing::Range(0, static_cast<int>(gemm_kernel_entries().size())),
                         kernel_name);

// An operand packed at one tier is used with its own kernel after the active tier changes.
TEST(GemmDispatch, PackedOperandKeepsItsKernelAcrossTiers) {
  if (!isa_available(IsaTier::kAvx2)) GTEST_SKIP() << "needs two tiers; this CPU has " << isa_name(detected_isa());
  const IsaTier saved = active_isa();
  std::mt19937 rng(8);
  GemmCase c;
  c.M = 30;
  c.N = 50;
  c.K = 40;
  c.pack_b = true;
  Trial run(c, rng);
  GemmArgs g;
  set_isa_cap(IsaTier::kAvx2);
  const PackedGemmOperand pb = pack_gemm_operand(GemmSide::kB, {run.B.data(), run.ldb, false}, c.K, c.N);
  set_isa_cap(IsaTier::kRef);
  g.M = c.M;
  g.N = c.N;
  g.K = c.K;
  g.a = {run.A.data(), run.lda, false};
  g.packed_b = &pb;
  g.c = run.C.data();
  g.ldc = run.ldc;
  gemm_f32(g, nullptr);
  set_isa_cap(saved);
  run.check();
}

}  // namespace
}  // namespace kiln::kernels
