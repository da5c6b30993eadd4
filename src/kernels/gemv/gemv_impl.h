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

template <typename S, int NP>
inline void store_group(const GemvArgs& g, int64_t p, int64_t m_end,
                        const typename S::V (&acc)[NP][kGemvPanel / S::kLanes]);

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
  for (int q = 0; q < NP; ++q)
    for (int j = 0; j < B; ++j)
      for (int s = 1; s < SETS; ++s) acc[0][q][j] = S::add(acc[0][q][j], acc[s][q][j]);
  store_group<S, NP>(g, p, m_end, acc[0]);
}

// y of panels [p, p + NP) from their accumulators (rows below m_end), plus bias and residual.
template <typename S, int NP>
inline void store_group(const GemvArgs& g, int64_t p, int64_t m_end,
                        const typename S::V (&acc)[NP][kGemvPanel / S::kLanes]) {
  using V = typename S::V;
  constexpr int L = S::kLanes, B = static_cast<int>(kGemvPanel) / L;
  for (int q = 0; q < NP; ++q) {
    const int64_t m0 = (p + q) * kGemvPanel, rows = std::min(kGemvPanel, m_end - m0);
    for (int j = 0; j < B && j * L < rows; ++j) {
      V v = acc[q][j];
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

// ---- side tiles (GemvSide) ----

// One side tile's accumulators: 8 rows of 16 columns (16 / L vectors each).
template <typename S>
struct SideTile {
  static constexpr int kVecs = static_cast<int>(kGemvSideCols) / S::kLanes;
  typename S::V c[kGemvSideRows][kVecs];
  const float* w;  // the tile's packed 16 columns of W (row k at w + k * 16)

  SideTile(const GemvSide& sd, int64_t t) : w(sd.wp + t * sd.K * kGemvSideCols) {
    for (auto& row : c)
      for (auto& v : row) v = S::zero();
  }
  // Term k of every row: c[r] += x[r][k] * W[cols][k].
  void step(const GemvSide& sd, int64_t k) {
    typename S::V b[kVecs];
    for (int v = 0; v < kVecs; ++v) b[v] = S::load(w + k * kGemvSideCols + v * S::kLanes);
    for (int r = 0; r < kGemvSideRows; ++r) {
      const typename S::V xv = S::set1(sd.x[r][k]);
      for (int v = 0; v < kVecs; ++v) c[r][v] = S::fmadd(xv, b[v], c[r][v]);
    }
  }
  void store(const GemvSide& sd, int64_t t) const {
    const int64_t n0 = t * kGemvSideCols;
    for (int v = 0; v < kVecs; ++v) {
      const int64_t at = n0 + v * S::kLanes, n = std::min<int64_t>(S::kLanes, sd.N - at);
      if (n <= 0) break;
      const typename S::V bias = !sd.bias ? S::zero() : n == S::kLanes ? S::load(sd.bias + at) : S::load_partial(sd.bias + at, n);
      for (int r = 0; r < kGemvSideRows; ++r) {
        const typename S::V y = sd.bias ? S::add(c[r][v], bias) : c[r][v];
        if (n == S::kLanes) {
          S::store(sd.y[r] + at, y);
        } else {
          float tmp[S::kLanes];
          S::store(tmp, y);
          std::copy(tmp, tmp + n, sd.y[r] + at);
        }
      }
    }
  }
};

// Side tiles [t0, t1) on their own.
template <typename S>
void side_tiles(const GemvSide& sd, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; ++t) {
    SideTile<S> tile(sd, t);
    for (int64_t k = 0; k < sd.K; ++k) tile.step(sd, k);
    tile.store(sd, t);
  }
}

// A full group of NP panels (one accumulator set: 8 chains) with `nt` side tiles from t0 riding along, one side term
// per STRIDE product terms (nt * sd.K * STRIDE <= g.K).
template <typename S, int NP, int STRIDE>
inline void panels_side(const GemvArgs& g, int64_t p, int64_t m_end, const GemvSide& sd, int64_t t0, int64_t nt) {
  using V = typename S::V;
  constexpr int L = S::kLanes, B = static_cast<int>(kGemvPanel) / L;
  V acc[NP][B];
  for (int q = 0; q < NP; ++q)
    for (int j = 0; j < B; ++j) acc[q][j] = S::zero();
  const float* w = g.wp + p * g.K * kGemvPanel;
  const int64_t panel_floats = g.K * kGemvPanel;
  auto term = [&](int64_t k) {
    const V xv = S::set1(g.x[k]);
    for (int q = 0; q < NP; ++q) {
      const float* wk = w + q * panel_floats + k * kGemvPanel;
      for (int j = 0; j < B; ++j) acc[q][j] = S::fmadd(S::load(wk + j * L), xv, acc[q][j]);
    }
  };
  int64_t k = 0;
  for (int64_t t = t0; t < t0 + nt; ++t) {
    SideTile<S> tile(sd, t);
    for (int64_t e = 0; e < sd.K; ++e) {
      for (int u = 0; u < STRIDE; ++u, ++k) term(k);
      tile.step(sd, e);
    }
    tile.store(sd, t);
  }
  for (; k < g.K; ++k) term(k);
  store_group<S, NP>(g, p, m_end, acc);
}

/// Rows [m0, m1) as rows<S>, and all of sd's tiles. At 16 lanes (one accumulator set per full group, 8 registers,
/// and 8 more for a side tile) the tiles ride along the full groups, spread evenly, as many per group as its k
/// loop has room for; at 8 lanes (16 registers) and for what is left, after the product.
template <typename S>
void rows_side(const GemvArgs& g, int64_t m0, int64_t m1, const GemvSide& sd) {
  constexpr int NP = kGroup<S>;
  constexpr bool kFuse = S::kLanes == 16 && NP * (kGemvPanel / 16) == 8;
  int64_t next = sd.tile_begin;
  if constexpr (kFuse) {
    const int64_t first = m0 / kGemvPanel, n = (m1 - m0 + kGemvPanel - 1) / kGemvPanel, full = n / NP;
    // One side term per two product terms where the tiles fit so (the FMA units then have room for both: a fused
    // term of its own costs about what the two apart do), else one per term.
    const bool sparse = sd.K > 0 && sd.tile_end - next <= full * (g.K / (2 * sd.K));
    const int64_t room = sd.K > 0 ? g.K / (sparse ? 2 * sd.K : sd.K) : 0;
    // The short last group, panel by panel, comes first when descending (the serpentine) and last otherwise.
    auto short_group = [&] {
      for (int64_t q = first + full * NP; q < first + n; ++q) panels<S, 1>(g, q, m1);
    };
    if (g.descending) short_group();
    for (int64_t i = 0; i < full; ++i) {
      const int64_t gi = g.descending ? full - 1 - i : i;
      const int64_t want = (sd.tile_end - next + (full - i) - 1) / (full - i);
      const int64_t nt = std::min(room, want);
      if (sparse) panels_side<S, NP, 2>(g, first + gi * NP, m1, sd, next, nt);
      else panels_side<S, NP, 1>(g, first + gi * NP, m1, sd, next, nt);
      next += nt;
    }
    if (!g.descending) short_group();
    if (g.act.kind != Activation::kNone) apply_activation_f32(g.act, g.y + m0, g.y + m0, m1 - m0);
  } else {
    rows<S>(g, m0, m1);
  }
  side_tiles<S>(sd, next, sd.tile_end);
}

}  // namespace kiln::kernels::gemv_detail
