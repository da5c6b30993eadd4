#pragma once
// The matrix-vector kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and instantiated per tier in
// gemv_avx2.cpp and gemv_avx512.cpp. Include only from those files (it needs the tier's compile flags).
//
// A panel (kGemvPanel rows = B vectors) is read as one stream: per k, one broadcast of x[k] and B FMAs. AVX2 (8
// vectors) has 8 independent FMA chains that way; AVX-512 (4 vectors) reads two panels together for the same 8
// (a single panel, the short last group, runs k in pairs with a set of accumulators each, summed at the end). There is no software prefetch: the hardware prefetcher follows the
// panel's stream, and prefetching every line 4 KiB ahead took load slots (Zen 4, 1024 x 256 rows repeated: from
// L3 92 GB/s without, 71 with; from memory 31 against 33; MobileNet-v3's and EfficientNet's squeeze-excitation
// FCs no slower without). Rows past M in the last panel are zeros in W and are not stored (the
// store goes through the stack: AVX2's masked store is slow on AMD cores).

#include <algorithm>

#include "kernels/gemv/gemv.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::gemv_detail {

// Panels per group: as many as make 8 accumulators (AVX2: one panel of 8 vectors; AVX-512: two of 4, which share
// each broadcast of x[k]: 9 loads per 8 FMAs instead of 10; R of lstm_tagger from L2: 10.0 -> 9.75 us).
template <typename S>
inline constexpr int kGroup = std::max(1, 8 / (static_cast<int>(kGemvPanel) / S::kLanes));

// Panels [p, p + NP), rows below m_end. A group of NP panels with SETS accumulator sets along k (k in turn), so
// NP * B * SETS = 8 independent FMA chains.
template <typename S, int NP>
inline void panels(const GemvArgs& g, int64_t p, int64_t m_end) {
  using V = typename S::V;
  constexpr int L = S::kLanes, B = static_cast<int>(kGemvPanel) / L, SETS = std::max(1, 8 / (B * NP));
  V acc[SETS][NP][B];
  for (int s = 0; s < SETS; ++s)
    for (int q = 0; q < NP; ++q)
      for (int j = 0; j < B; ++j) acc[s][q][j] = S::zero();
  const float* w = g.wp + p * g.K * kGemvPanel;
  const int64_t panel_floats = g.K * kGemvPanel;
  int64_t k = 0;
  for (; k + SETS <= g.K; k += SETS) {
    for (int s = 0; s < SETS; ++s) {
      const V xv = S::set1(g.x[k + s]);
      for (int q = 0; q < NP; ++q) {
        const float* wk = w + q * panel_floats + (k + s) * kGemvPanel;
        for (int j = 0; j < B; ++j) acc[s][q][j] = S::fmadd(S::load(wk + j * L), xv, acc[s][q][j]);
      }
    }
  }
  for (; k < g.K; ++k) {
    const V xv = S::set1(g.x[k]);
    for (int q = 0; q < NP; ++q)
      for (int j = 0; j < B; ++j)
        acc[0][q][j] = S::fmadd(S::load(w + q * panel_floats + k * kGemvPanel + j * L), xv, acc[0][q][j]);
  }
  for (int q = 0; q < NP; ++q) {
    const int64_t m0 = (p + q) * kGemvPanel, rows = std::min(kGemvPanel, m_end - m0);
    for (int j = 0; j < B && j * L < rows; ++j) {
      V v = acc[0][q][j];
      for (int s = 1; s < SETS; ++s) v = S::add(v, acc[s][q][j]);
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
}

/// Rows [m0, m1) (the GemvFn of a tier; m0 a multiple of kGemvPanel). The panels form groups of kGroup counted
/// from m0 (a last one may be short); `descending` visits the groups last to first, so each row's sum is the same
/// in either order.
template <typename S>
void rows(const GemvArgs& g, int64_t m0, int64_t m1) {
  constexpr int NP = kGroup<S>;
  const int64_t first = m0 / kGemvPanel, n = (m1 - m0 + kGemvPanel - 1) / kGemvPanel, groups = (n + NP - 1) / NP;
  for (int64_t i = 0; i < groups; ++i) {
    const int64_t gi = g.descending ? groups - 1 - i : i, p = first + gi * NP;
    if (n - gi * NP >= NP) {
      panels<S, NP>(g, p, m1);
    } else {
      for (int64_t q = p; q < first + n; ++q) panels<S, 1>(g, q, m1);  // the short last group: panel by panel
    }
  }
  if (g.act.kind != Activation::kNone) apply_activation_f32(g.act, g.y + m0, g.y + m0, m1 - m0);
}

}  // namespace kiln::kernels::gemv_detail
