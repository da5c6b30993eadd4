#pragma once
// The matrix-vector kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and instantiated per tier in
// gemv_avx2.cpp and gemv_avx512.cpp. Include only from those files (it needs the tier's compile flags).
//
// A panel (kGemvPanel rows = B vectors) is read as one stream: per k, one broadcast of x[k] and B FMAs. AVX2 (8
// vectors) has 8 independent FMA chains that way; AVX-512 (4 vectors) runs k in pairs with a set of accumulators
// each, summed at the end, for the same 8. There is no software prefetch: the hardware prefetcher follows the
// panel's stream, and prefetching every line 4 KiB ahead took load slots (Zen 4, 1024 x 256 rows repeated: from
// L3 92 GB/s without, 71 with; from memory 31 against 33; MobileNet-v3's and EfficientNet's squeeze-excitation
// FCs no slower without). Rows past M in the last panel are zeros in W and are not stored (the
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
  const int64_t first = m0 / kGemvPanel, n = (m1 - m0 + kGemvPanel - 1) / kGemvPanel;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = first + (g.descending ? n - 1 - i : i);
    panel<S>(g, p, std::min(kGemvPanel, m1 - p * kGemvPanel));
  }
  if (g.act.kind != Activation::kNone) apply_activation_f32(g.act, g.y + m0, g.y + m0, m1 - m0);
}

}  // namespace kiln::kernels::gemv_detail
