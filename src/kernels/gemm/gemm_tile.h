#pragma once
// The GEMM micro-kernels, packers and FMA probe, written once over a SIMD wrapper S (kernels/simd/simd.h:
// kLanes, V, zero, set1, load, store, load_partial, store_partial, add, mul, fmadd) and instantiated per tier by
// make_gemm_micro_kernel<S, MR>() in gemm_<tier>.cpp. Include only from those files (they carry the tier's
// compile flags). Nothing here differs between tiers but S and MR.
//
// Everything here has internal linkage (an unnamed namespace) and calls no out-of-line library code: a template
// or inline function instantiated in two files built with different flags is one symbol to the linker, which
// keeps either copy, so an AVX-512 copy of, say, pack_b<32> would otherwise serve the portable kernel too (and
// fault on a CPU without AVX-512).

#include <utility>

#include "kernels/gemm/gemm_kernel.h"

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
  const int64_t lda = t.lda;
  V acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
    // The tile of C (and of the residual) was last touched a whole K block ago: fetch it while the FMAs run.
    __builtin_prefetch(t.c + r * t.ldc, 1, 3);
    __builtin_prefetch(t.c + r * t.ldc + NV * L - 1, 1, 3);
    if (t.residual) __builtin_prefetch(t.residual + r * t.ldr, 0, 3);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * L);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V av = S::set1(kRowMajorA ? a[r * lda] : a[r]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(av, bv[v], acc[r][v]);
    }
    a += kRowMajorA ? 1 : PR;
    b += NB;
  }

  // Epilogue, one step at a time over the whole tile so that each test is made once per tile. All vectors but the
  // last are full (the driver picks NV from the tile's width).
  const V alpha = S::set1(t.alpha);
  const int64_t last = t.cols - (NV - 1) * L;
  auto width = [&](int v) -> int64_t { return v + 1 < NV ? L : last; };
  if (t.accumulate) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(acc[r][v], alpha, load_n<S>(t.c + r * t.ldc + v * L, width(v)));
  } else {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = S::mul(acc[r][v], alpha);
    if (t.bias_row) {
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const V b = S::set1(t.bias_row[r]);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[r][v] = S::add(acc[r][v], b);
      }
    }
    if (t.bias_col) {
      V b[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) b[v] = load_n<S>(t.bias_col + v * L, width(v));
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[r][v] = S::add(acc[r][v], b[v]);
    }
    if (t.residual) {
      const V beta = S::set1(t.beta);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v)
          acc[r][v] = S::fmadd(beta, load_n<S>(t.residual + r * t.ldr + v * L, width(v)), acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) store_n<S>(t.c + r * t.ldc + v * L, acc[r][v], width(v));
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

/// See GemmMicroKernel::pack_b.
template <class S> void pack_b(const MatrixRef& b, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst) {
  constexpr int L = S::kLanes, NR = 2 * L;
  const int64_t panels = (cols + NR - 1) / NR, full = cols / NR, tail = cols - full * NR;
  if (!b.trans) {
    // Memory is K x N: read each row of the block once, left to right (one stream the prefetcher follows), and
    // deal its NR-wide pieces out to the panels.
    const float* src = b.data + k0 * b.ld + n0;
    for (int64_t k = 0; k < kc; ++k, src += b.ld) {
      float* d = dst + k * NR;
      for (int64_t p = 0; p < full; ++p, d += kc * NR) {
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
  // Memory is N x K: each column of B is contiguous along k; write it down the panel's column.
  for (int64_t p = 0; p < panels; ++p, dst += kc * NR) {
    const int64_t c = lesser(NR, cols - p * NR);
    for (int64_t j = 0; j < c; ++j) {
      const float* s = b.data + (n0 + p * NR + j) * b.ld + k0;
      for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = s[k];
    }
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t j = c; j < NR; ++j) dst[k * NR + j] = 0.0f;
  }
}

/// See GemmMicroKernel::fma_probe: `C` chains of x = x * m + a with no memory access in the loop.
template <class S, int C> int64_t fma_probe(int64_t iters, float* sink) {
  using V = typename S::V;
  V x[C];
#pragma GCC unroll 32
  for (int c = 0; c < C; ++c) x[c] = S::set1(1.0f + 0.001f * static_cast<float>(c));
  const V m = S::set1(0.9999999f), add = S::set1(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 32
    for (int c = 0; c < C; ++c) x[c] = S::fmadd(x[c], m, add);
  }
  V sum = x[0];
#pragma GCC unroll 32
  for (int c = 1; c < C; ++c) sum = S::add(sum, x[c]);
  float lanes[S::kLanes];
  S::store(lanes, sum);
  float total = 0.0f;
  for (float v : lanes) total += v;
  *sink = total;
  return iters * C * S::kLanes * 2;
}

template <class S, int MR, size_t... I> constexpr GemmMicroKernel make_kernel(std::index_sequence<I...>) {
  constexpr int NR = 2 * S::kLanes;
  GemmMicroKernel k;
  k.mr = MR;
  k.nr = NR;
  ((k.tiles[kPackedPanel][I][0] = &tile<S, static_cast<int>(I) + 1, MR, 1, NR, false>,
    k.tiles[kPackedPanel][I][1] = &tile<S, static_cast<int>(I) + 1, MR, 2, NR, false>,
    k.tiles[kRowMajor][I][0] = &tile<S, static_cast<int>(I) + 1, MR, 1, NR, true>,
    k.tiles[kRowMajor][I][1] = &tile<S, static_cast<int>(I) + 1, MR, 2, NR, true>),
   ...);
  k.pack_a = &pack_a<MR>;
  k.pack_b = &pack_b<S>;
  k.fma_probe = &fma_probe<S, 2 * MR>;
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
