#pragma once
// The GEMM micro-kernels and packers, written once over a SIMD wrapper S (kernels/simd/simd.h:
// kLanes, V, zero, set1, load, store, load_partial, store_partial, add, mul, fmadd) and instantiated per tier by
// make_gemm_micro_kernel<S, MR>() in gemm_<tier>.cpp. Include only from those files (they carry the tier's
// compile flags). Nothing here differs between tiers but S and MR.
//
// Everything here has internal linkage (an unnamed namespace) and calls no out-of-line library code: a template
// or inline function instantiated in two files built with different flags is one symbol to the linker, which
// keeps either copy, so an AVX-512 copy of, say, pack_b<32> would otherwise serve the portable kernel too (and
// fault on a CPU without AVX-512). The vmath templates the epilogue calls (sigmoid, silu, gelu_erf) are instantiated on S
// itself, one S per tier's flags, so each tier's copy is its own symbol.

#include <immintrin.h>

#include <utility>

#include "kernels/gemm/gemm_kernel.h"
#include "kernels/vunary/vunary_math.h"

namespace kiln::kernels {
namespace {
namespace gemm_tile {

inline int64_t lesser(int64_t a, int64_t b) { return a < b ? a : b; }

template <class S> inline typename S::V load_n(const float* p, int64_t n) {
  return n == S::kLanes ? S::load(p) : S::load_partial(p, n);
}
template <class S> inline void store_n(float* p, typename S::V v, int64_t n) {
  if (n == S::kLanes) {
    S::store(p, v);
  } else {
    S::store_partial(p, v, n);
  }
}

/// R rows of A broadcast against NV vectors of B: R x NV accumulators in registers over the whole kc loop, then
/// the epilogue on the way to C. PR is the packed A panel's row count (the kernel's MR: row-tail kernels read
/// the same panels), NB the packed B panel's width (NR: the half-width kernel reads its first vector). With
/// kRowMajorA, A is read in place instead: element (r, k) at a[r * t.lda + k].
template <class S, int R, int PR, int NV, int NB, bool kRowMajorA>
void tile(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  // Narrow tiles (row and column tails) have fewer accumulators than the FMA latency x throughput needs in
  // flight: they sum U interleaved k-steps into U sets, added together at the end.
  constexpr int U = R * NV >= 8 ? 1 : R * NV >= 5 ? 2 : R * NV >= 3 ? 3 : 4;
  const int64_t lda = t.lda, ldb = t.ldb ? t.ldb : NB;
  // Locals, not t's fields: C's stores could alias t as far as the compiler knows, and it would reload them.
  float* const c = t.c;
  const int64_t ldc = t.ldc, ldr = t.ldr;
  const float* const residual = t.residual;
  V acc[U][R][NV];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[u][r][v] = S::zero();
  // The tile of C (and of the residual) was last touched a whole K block ago: fetch it while the FMAs run. Not C
  // when it is only written after a short loop (a 1x1 convolution of few input channels): the prefetches then
  // cost more than they hide (Zen 2, 96x12544x16: 52 -> 55 % of peak, 144x3136x24: 64 -> 66 % without them).
  const bool fetch_c = t.accumulate || kc >= 64;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    if (fetch_c) {
      __builtin_prefetch(c + r * ldc, 1, 3);
      __builtin_prefetch(c + r * ldc + NV * L - 1, 1, 3);
    }
    if (residual) {
      __builtin_prefetch(residual + r * ldr, 0, 3);
      __builtin_prefetch(residual + r * ldr + NV * L - 1, 0, 3);
    }
  }
  auto step = [&](V(&sum)[R][NV]) __attribute__((always_inline)) {
    V bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * L);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V av = S::set1(kRowMajorA ? a[r * lda] : a[r]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) sum[r][v] = S::fmadd(av, bv[v], sum[r][v]);
    }
    a += kRowMajorA ? 1 : PR;
    b += ldb;
  };
  int64_t k = 0;
#pragma GCC unroll 4
  for (; k + U <= kc; k += U)
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) step(acc[u]);
  for (; k < kc; ++k) step(acc[0]);
#pragma GCC unroll 4
  for (int u = 1; u < U; ++u)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][r][v] = S::add(acc[0][r][v], acc[u][r][v]);

  // Epilogue, one step at a time over the whole tile so that each test is made once per tile. All vectors but the
  // last are full (the driver picks NV from the tile's width).
  const V alpha = S::set1(t.alpha);
  const int64_t last = t.cols - (NV - 1) * L;
  auto width = [&](int v) -> int64_t { return v + 1 < NV ? L : last; };
  if (t.accumulate) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][r][v] = S::fmadd(acc[0][r][v], alpha, load_n<S>(c + r * ldc + v * L, width(v)));
  } else {
    if (t.alpha != 1.0f)  // x * 1 is x: short K's tiles save the pass
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[0][r][v] = S::mul(acc[0][r][v], alpha);
    if (t.bias_row) {
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const V b = S::set1(t.bias_row[r]);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[0][r][v] = S::add(acc[0][r][v], b);
      }
    }
    if (t.bias_col) {
      V b[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) b[v] = load_n<S>(t.bias_col + v * L, width(v));
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[0][r][v] = S::add(acc[0][r][v], b[v]);
    }
    if (residual) {
      const V beta = S::set1(t.beta);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v)
          acc[0][r][v] = S::fmadd(beta, load_n<S>(residual + r * ldr + v * L, width(v)), acc[0][r][v]);
    }
  }
  if (t.clamp) {  // Relu / Clip in registers, the operand order of vunary's (NaN stays NaN)
    const V lo = S::set1(t.clamp_lo), hi = S::set1(t.clamp_hi);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][r][v] = S::min(hi, S::max(lo, acc[0][r][v]));
  }
  if (t.hard_swish) {  // vunary's HardSwish, operation for operation (the same bits)
    const V zero = S::zero(), one = S::set1(1.0f), three = S::set1(3.0f), sixth = S::set1(1.0f / 6.0f);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        const V x = acc[0][r][v];
        acc[0][r][v] = S::mul(x, S::max(zero, S::min(one, S::mul(S::add(x, three), sixth))));
      }
  }
  if (t.sigmoid) {  // vunary's Sigmoid (a vector with a lane past ±87, inf or NaN takes its general formula)
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][r][v] = vmath::sigmoid<S>(acc[0][r][v]);
  }
  if (t.silu) {  // vunary's SiLU, likewise
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][r][v] = vmath::silu<S>(acc[0][r][v]);
  }
  if (t.gelu_erf) {  // vunary's GeluErf: its 12 vectors' chains side by side, where the pass over C ran 4
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][r][v] = vmath::gelu_erf<S>(acc[0][r][v]);
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) store_n<S>(c + r * ldc + v * L, acc[0][r][v], width(v));
}

/// The narrowest column tails (at most kGemmColumnTileCols columns: a 7 x 7 plane, 49 positions, leaves 1 column
/// in its last panel of 16) turned around: the packed A panel's PR values of one k are one vector (lanes past R
/// hold the panel's zero rows or the next k's values: summed, never stored), times each column's B value
/// broadcast. Per k that is 1 load and C broadcasts for C FMAs, where the row-broadcast tile spends R broadcasts
/// and a load on R FMAs whose lanes are mostly empty (avx2, 1 column: 7 loads against 2). The epilogue is the
/// row-broadcast tile's, operation for operation, on columns of C gathered into vectors. The row count is t.rows,
/// read at run time: only the epilogue's loops depend on it, and one instantiation per row count (12 x 4 per
/// tier) tripled the portable tier's compile time.
template <class S, int PR, int NB, int C>
void column_tile(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  static_assert(PR <= L && L <= 2 * PR, "a full load at k must end inside k + 1's values");
  const int64_t R = t.rows;
  constexpr int U = (8 + C - 1) / C;  // interleaved k-steps: >= 8 FMA chains in flight
  const int64_t ldb = t.ldb ? t.ldb : NB;
  V acc[U][C];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 4
    for (int j = 0; j < C; ++j) acc[u][j] = S::zero();
  auto step = [&](V(&sum)[C], V av) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (int j = 0; j < C; ++j) sum[j] = S::fmadd(av, S::set1(b[j]), sum[j]);
    a += PR;
    b += ldb;
  };
  // Every k but the last loads L values; the last loads PR (a full load would read past the panel).
  const int64_t before_last = kc > 0 ? kc - 1 : 0;
  int64_t k = 0;
#pragma GCC unroll 8
  for (; k + U <= before_last; k += U)
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) step(acc[u], S::load(a));
  for (; k < before_last; ++k) step(acc[0], S::load(a));
  if (kc > 0) step(acc[0], S::load_partial(a, PR));
#pragma GCC unroll 8
  for (int u = 1; u < U; ++u)
#pragma GCC unroll 4
    for (int j = 0; j < C; ++j) acc[0][j] = S::add(acc[0][j], acc[u][j]);

  // Column j of a row-major matrix (rows ld apart) as a vector of its R rows (through memory: no function here
  // returns a vector, which for the portable tier's 16 lanes would be an ABI the tier's flags do not have).
  alignas(64) float column[L] = {};
  auto gather = [&](const float* p, int64_t ld) __attribute__((always_inline)) {
    for (int64_t r = 0; r < R; ++r) column[r] = p[r * ld];
  };
  const V alpha = S::set1(t.alpha);
#pragma GCC unroll 4
  for (int j = 0; j < C; ++j) {
    V x = acc[0][j];
    if (t.accumulate) {
      gather(t.c + j, t.ldc);
      x = S::fmadd(x, alpha, S::load(column));
    } else {
      if (t.alpha != 1.0f) x = S::mul(x, alpha);
      if (t.bias_row) x = S::add(x, S::load_partial(t.bias_row, R));
      if (t.bias_col) x = S::add(x, S::set1(t.bias_col[j]));
      if (t.residual) {
        gather(t.residual + j, t.ldr);
        x = S::fmadd(S::set1(t.beta), S::load(column), x);
      }
    }
    if (t.clamp) x = S::min(S::set1(t.clamp_hi), S::max(S::set1(t.clamp_lo), x));
    if (t.hard_swish)
      x = S::mul(x, S::max(S::zero(), S::min(S::set1(1.0f), S::mul(S::add(x, S::set1(3.0f)), S::set1(1.0f / 6.0f)))));
    if (t.sigmoid) x = vmath::sigmoid<S>(x);
    if (t.silu) x = vmath::silu<S>(x);
    if (t.gelu_erf) x = vmath::gelu_erf<S>(x);
    S::store(column, x);
    for (int64_t r = 0; r < R; ++r) t.c[r * t.ldc + j] = column[r];
  }
}

/// The column tile for t.cols columns (1..kGemmColumnTileCols) of t.rows rows.
template <class S, int PR, int NB>
void column_tiles(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  static_assert(kGemmColumnTileCols == 4);
  switch (t.cols) {
    case 1: return column_tile<S, PR, NB, 1>(kc, a, b, t);
    case 2: return column_tile<S, PR, NB, 2>(kc, a, b, t);
    case 3: return column_tile<S, PR, NB, 3>(kc, a, b, t);
    default: return column_tile<S, PR, NB, 4>(kc, a, b, t);
  }
}

/// See GemmMicroKernel::pack_a. Plain loops: the compiler vectorises them with the tier's flags.
template <int MR> void pack_a(const MatrixRef& a, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  for (int64_t p = 0; p < rows; p += MR, dst += kc * MR) {
    const int64_t r = lesser(MR, rows - p);
    if (a.trans) {  // memory is K x M: the r values of one k are contiguous
      const float* src = a.data + k0 * a.ld + m0 + p;
      for (int64_t k = 0; k < kc; ++k) {
        float* d = dst + k * MR;
        const float* s = src + k * a.ld;
        if (r == MR) {
          for (int i = 0; i < MR; ++i) d[i] = s[i];
        } else {
          for (int64_t i = 0; i < r; ++i) d[i] = s[i];
          for (int64_t i = r; i < MR; ++i) d[i] = 0.0f;
        }
      }
    } else {  // rows of A are contiguous along k: interleave them
      const float* rowp[MR];
      for (int i = 0; i < MR; ++i) rowp[i] = i < r ? a.data + (m0 + p + i) * a.ld + k0 : nullptr;
      if (r == MR) {
        for (int64_t k = 0; k < kc; ++k)
          for (int i = 0; i < MR; ++i) dst[k * MR + i] = rowp[i][k];
      } else {
        for (int64_t k = 0; k < kc; ++k)
          for (int i = 0; i < MR; ++i) dst[k * MR + i] = i < r ? rowp[i][k] : 0.0f;
      }
    }
  }
}

/// dst[j * ldd + i] = src[i * lds + j] for an 8 x 8 block: AVX's unpack / shuffle / lane-swap transpose where the
/// file is built with AVX2 (the avx2 and avx512 kernels), plain moves elsewhere.
__attribute__((always_inline)) inline void transpose_8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
#if defined(__AVX2__)
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int h = 0; h < 8; h += 4) {  // rows 0-3, then 4-7
    r[h] = _mm256_shuffle_ps(t[h], t[h + 2], 0x44);
    r[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], 0xEE);
    r[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
    r[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
#else
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) dst[j * ldd + i] = src[i * lds + j];
#endif
}

/// See GemmMicroKernel::pack_b.
template <class S>
void pack_b(const MatrixRef& b, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst, int64_t panel_stride) {
  constexpr int L = S::kLanes, NR = 2 * L;
  const int64_t panels = (cols + NR - 1) / NR, full = cols / NR, tail = cols - full * NR;
  if (!b.trans) {
    // Memory is K x N: read each row of the block once, left to right (one stream the prefetcher follows), and
    // deal its NR-wide pieces out to the panels.
    const float* src = b.data + k0 * b.ld + n0;
    for (int64_t k = 0; k < kc; ++k, src += b.ld) {
      float* d = dst + k * NR;
      for (int64_t p = 0; p < full; ++p, d += panel_stride) {
        S::store(d, S::load(src + p * NR));
        S::store(d + L, S::load(src + p * NR + L));
      }
      if (tail) {
        const float* s = src + full * NR;
        S::store(d, S::load_partial(s, lesser(tail, L)));
        S::store(d + L, tail > L ? S::load_partial(s + L, tail - L) : S::zero());
      }
    }
    return;
  }
  // Memory is N x K: each column of B is contiguous along k. Transpose 8 x 8 blocks into the panels (a group of
  // fewer than 8 columns through a zero-padded copy, columns past the last as zeros), the k past a multiple of 8
  // element by element.
  const int64_t k8 = kc / 8 * 8;
  for (int64_t p = 0; p < panels; ++p, dst += panel_stride) {
    const int64_t c = lesser(NR, cols - p * NR);
    const float* src = b.data + (n0 + p * NR) * b.ld + k0;
    for (int64_t j = 0; j < NR; j += 8) {
      const int64_t rows = c - j >= 8 ? 8 : c - j > 0 ? c - j : 0;
      for (int64_t k = 0; k < k8; k += 8) {
        if (rows == 8) {
          transpose_8x8(src + j * b.ld + k, b.ld, dst + k * NR + j, NR);
        } else {
          float block[64] = {};
          for (int64_t i = 0; i < rows; ++i)
            for (int64_t x = 0; x < 8; ++x) block[i * 8 + x] = src[(j + i) * b.ld + k + x];
          transpose_8x8(block, 8, dst + k * NR + j, NR);
        }
      }
    }
    for (int64_t k = k8; k < kc; ++k)
      for (int64_t j = 0; j < NR; ++j) dst[k * NR + j] = j < c ? src[j * b.ld + k] : 0.0f;
  }
}

template <class S, int MR, size_t... I> constexpr GemmMicroKernel make_kernel(std::index_sequence<I...>) {
  constexpr int NR = 2 * S::kLanes;
  GemmMicroKernel k;
  k.mr = MR;
  k.nr = NR;
  ((k.tiles[kPackedPanel][I][0] = &tile<S, static_cast<int>(I) + 1, MR, 1, NR, false>,
    k.tiles[kPackedPanel][I][1] = &tile<S, static_cast<int>(I) + 1, MR, 2, NR, false>,
    k.tiles[kPackedPanel][I][2] = &column_tiles<S, MR, NR>,
    k.tiles[kRowMajor][I][0] = &tile<S, static_cast<int>(I) + 1, MR, 1, NR, true>,
    k.tiles[kRowMajor][I][1] = &tile<S, static_cast<int>(I) + 1, MR, 2, NR, true>),
   ...);
  k.pack_a = &pack_a<MR>;
  k.pack_b = &pack_b<S>;
  return k;
}

}  // namespace gemm_tile

/// The code table of the kernel with MR rows and two vectors of S's lanes (NR = 2 * S::kLanes), built at compile
/// time (a constant table: no static initializer runs in an ISA file).
template <class S, int MR> constexpr GemmMicroKernel make_gemm_micro_kernel() {
  static_assert(MR >= 1 && MR <= kGemmMaxMr);
  return gemm_tile::make_kernel<S, MR>(std::make_index_sequence<MR>{});
}

}  // namespace
}  // namespace kiln::kernels
