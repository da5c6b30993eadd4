#pragma once
// The matrix-vector kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and instantiated per tier in
// gemv_avx2.cpp and gemv_avx512.cpp. Include only from those files (it needs the tier's compile flags).
//
// A panel (kGemvPanel rows = B vectors) is read as one stream: per k, one broadcast of x[k] and B FMAs. AVX2 (8
// vectors) has 8 independent FMA chains that way; AVX-512 (4 vectors) runs k in pairs with a set of accumulators
// each, summed at the end, for the same 8. Rows past M in the last panel are zeros in W and are not stored (the
// store goes through the stack: AVX2's masked store is slow on AMD cores).

#include <algorithm>

#include "kernels/gemv/gemv.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::gemv_detail {

// Panel p: rows [64p, 64p + 64) of which the first `rows` exist.
template <typename S>
inline void panel(const GemvArgs& g, int64_t p, int64_t rows) {
  using V = typename S::V;
  constexpr int L = S::kLanes, B = static_cast<int>(kGemvPanel) / L, SETS = 8 / B;
  V acc[SETS][B];
  for (int s = 0; s < SETS; ++s)
    for (int j = 0; j < B; ++j) acc[s][j] = S::zero();
  const float* w = g.wp + p * g.K * kGemvPanel;
  int64_t k = 0;
  for (; k + SETS <= g.K; k += SETS) {
    for (int s = 0; s < SETS; ++s) {
      const V xv = S::set1(g.x[k + s]);
      const float* wk = w + (k + s) * kGemvPanel;
      // W streams from memory: ask for its lines 16 rows (4 KiB) ahead (past the panel's end is harmless).
      for (int line = 0; line < static_cast<int>(kGemvPanel); line += 16)
        __builtin_prefetch(wk + 16 * kGemvPanel + line);
      for (int j = 0; j < B; ++j) acc[s][j] = S::fmadd(S::load(wk + j * L), xv, acc[s][j]);
    }
  }
  for (; k < g.K; ++k) {
    const V xv = S::set1(g.x[k]);
    for (int j = 0; j < B; ++j) acc[0][j] = S::fmadd(S::load(w + k * kGemvPanel + j * L), xv, acc[0][j]);
  }
  const int64_t m0 = p * kGemvPanel;
  for (int j = 0; j < B && j * L < rows; ++j) {
    V v = acc[0][j];
    for (int s = 1; s < SETS; ++s) v = S::add(v, acc[s][j]);
    const int64_t at = m0 + j * L, n = std::min<int64_t>(L, rows - j * L);
    if (n == L) {
      if (g.bias) v = S::add(v, S::load(g.bias + at));
      if (g.residual) v = S::add(v, S::load(g.residual + at));
      S::store(g.y + at, v);
    } else {
      if (g.bias) v = S::add(v, S::load_partial(g.bias + at, n));
      if (g.residual) v = S::add(v, S::load_partial(g.residual + at, n));
      float tmp[L];
      S::store(tmp, v);
      std::copy(tmp, tmp + n, g.y + at);
    }
  }
}

/// Rows [m0, m1) (the GemvFn of a tier; m0 a multiple of kGemvPanel).
template <typename S>
void rows(const GemvArgs& g, int64_t m0, int64_t m1) {
  for (int64_t m = m0; m < m1; m += kGemvPanel) panel<S>(g, m / kGemvPanel, std::min(kGemvPanel, m1 - m));
  if (g.act.kind != Activation::kNone) apply_activation_f32(g.act, g.y + m0, g.y + m0, m1 - m0);
}

}  // namespace kiln::kernels::gemv_detail
