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
/// the same panels), NB the packed B panel's width (NR: the half-width kernel reads its first vector).
template <class S, int R, int PR, int NV, int NB>
void tile(int64_t kc, const float* a, const float* b, const GemmTile& t) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  V acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * L);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V av = S::set1(a[r]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(av, bv[v], acc[r][v]);
    }
    a += PR;
    b += NB;
  }

  // Epilogue: all vectors but the last are full (the driver picks NV from the tile's width).
  const V alpha = S::set1(t.alpha);
  const int64_t last = t.cols - (NV - 1) * L;
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* c = t.c + r * t.ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const int64_t n = v + 1 < NV ? L : last;
      V x;
      if (t.accumulate) {
        x = S::fmadd(acc[r][v], alpha, load_n<S>(c + v * L, n));
      } else {
        x = S::mul(acc[r][v], alpha);
        if (t.bias_row) x = S::add(x, S::set1(t.bias_row[r]));
        if (t.bias_col) x = S::add(x, load_n<S>(t.bias_col + v * L, n));
        if (t.residual) x = S::fmadd(S::set1(t.beta), load_n<S>(t.residual + r * t.ldr + v * L, n), x);
      }
      store_n<S>(c + v * L, x, n);
    }
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

/// See GemmMicroKernel::pack_b.
template <int NR> void pack_b(const MatrixRef& b, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst) {
  for (int64_t p = 0; p < cols; p += NR, dst += kc * NR) {
    const int64_t c = lesser(NR, cols - p);
    if (!b.trans) {  // memory is K x N: one k's columns are contiguous
      const float* src = b.data + k0 * b.ld + n0 + p;
      for (int64_t k = 0; k < kc; ++k) {
        float* d = dst + k * NR;
        const float* s = src + k * b.ld;
        if (c == NR) {
          for (int j = 0; j < NR; ++j) d[j] = s[j];
        } else {
          for (int64_t j = 0; j < c; ++j) d[j] = s[j];
          for (int64_t j = c; j < NR; ++j) d[j] = 0.0f;
        }
      }
    } else {  // memory is N x K: each column is contiguous along k
      for (int64_t j = 0; j < c; ++j) {
        const float* s = b.data + (n0 + p + j) * b.ld + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = s[k];
      }
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = c; j < NR; ++j) dst[k * NR + j] = 0.0f;
    }
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
  ((k.tiles[I][0] = &tile<S, static_cast<int>(I) + 1, MR, 1, NR>,
    k.tiles[I][1] = &tile<S, static_cast<int>(I) + 1, MR, 2, NR>), ...);
  k.pack_a = &pack_a<MR>;
  k.pack_b = &pack_b<NR>;
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
