#pragma once
// The matrix-vector kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and instantiated per tier in
// gemv_avx2.cpp and gemv_avx512.cpp. Include only from those files (it needs the tier's compile flags).
//
// A panel (kGemvPanel rows = B vectors) is read as one stream: per k, one broadcast of x[k] and B FMAs. AVX2 (8
// vectors) has 8 independent FMA chains that way; AVX-512 (4 vectors) reads two panels together for the same 8
// (a single panel, the short last group, runs k in pairs with a set of accumulators each, summed at the end). At 16 lanes there is no software prefetch: the hardware prefetcher follows the
// panel's stream, and prefetching every line 4 KiB ahead took load slots (Zen 4, 1024 x 256 rows repeated: from
// L3 92 GB/s without, 71 with; from memory 31 against 33; MobileNet-v3's and EfficientNet's squeeze-excitation
// FCs no slower without); the 8-lane tier prefetches (kPrefetchAhead). Rows past M in the last panel are zeros in W and are not stored (the
// store goes through the stack: AVX2's masked store is slow on AMD cores).

#include <algorithm>

#include "kernels/gemv/gemv.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::gemv_detail {

// Panels per group: as many as make 8 accumulators (AVX2: one panel of 8 vectors; AVX-512: two of 4, which share
// each broadcast of x[k]: 9 loads per 8 FMAs instead of 10; R of lstm_tagger from L2: 10.0 -> 9.75 us).
template <typename S>
inline constexpr int kGroup = std::max(1, 8 / (static_cast<int>(kGemvPanel) / S::kLanes));

// Bytes ahead in a panel's stream that the 8-lane tier prefetches (0: none). On the CPUs that run it (Zen 3
// measured: 512 KiB of L2, so lstm_tagger's 1 MiB R comes partly from L3) the hint pays where on Zen 4's AVX-512
// it cost (above): R 1024 x 256 repeated, serpentine, 12.8 -> 12.1 us; without the serpentine 15.0 -> 13.2.
template <typename S>
inline constexpr int kPrefetchAhead = S::kLanes == 8 ? 1024 : 0;
// Terms ahead that batch_tile prefetches its strided stream (one 64-byte line of a 256-byte panel row per term).
inline constexpr int64_t kBatchPrefetchK = 16;

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
        if constexpr (kPrefetchAhead<S> > 0)  // past the panel's end it reads the next panel or nothing: a hint
          for (int line = 0; line < kGemvPanel * 4 / 64; ++line)
            _mm_prefetch(reinterpret_cast<const char*>(wk) + kPrefetchAhead<S> + 64 * line, _MM_HINT_T0);
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

// The accumulators of VECS vectors of side columns from n0 on (within one tile), ROWS rows from r0 on.
template <typename S, int VECS, int ROWS = kGemvSideRows>
struct SideTile {
  typename S::V c[ROWS][VECS];
  const float* w;  // the packed W of those columns (row k at w + k * kGemvSideCols)
  int64_t n0;      // the first column
  int r0;          // the first row

  SideTile(const GemvSide& sd, int64_t n0, int r0 = 0)
      : w(sd.wp + n0 / kGemvSideCols * sd.K * kGemvSideCols + n0 % kGemvSideCols), n0(n0), r0(r0) {
    for (auto& row : c)
      for (auto& v : row) v = S::zero();
  }
  // Term k of every row: c[r] += x[r][k] * W[cols][k].
  void step(const GemvSide& sd, int64_t k) {
    typename S::V b[VECS];
    for (int v = 0; v < VECS; ++v) b[v] = S::load(w + k * kGemvSideCols + v * S::kLanes);
    for (int r = 0; r < ROWS; ++r) {
      const typename S::V xv = S::set1(sd.x[r0 + r][k]);
      for (int v = 0; v < VECS; ++v) c[r][v] = S::fmadd(xv, b[v], c[r][v]);
    }
  }
  void store(const GemvSide& sd) const {
    for (int v = 0; v < VECS; ++v) {
      const int64_t at = n0 + v * S::kLanes, n = std::min<int64_t>(S::kLanes, sd.N - at);
      if (n <= 0) break;
      const typename S::V bias = !sd.bias            ? S::zero()
                                 : n == S::kLanes    ? S::load(sd.bias + at)
                                                     : S::load_partial(sd.bias + at, n);
      for (int r = 0; r < ROWS; ++r) {
        const typename S::V y = sd.bias ? S::add(c[r][v], bias) : c[r][v];
        float* dst = sd.y[r0 + r] + at;
        if (n == S::kLanes) {
          S::store(dst, y);
        } else {
          float tmp[S::kLanes];
          S::store(tmp, y);
          std::copy(tmp, tmp + n, dst);
        }
      }
    }
  }
};

// Side work in chunks of VECS vectors (chunk c is columns [c * VECS * L, ...): a unit of 16 columns or a whole
// tile of 32), ROWS rows at a time. Each element's chain is the same whatever the chunk or the rows.
template <typename S, int VECS, int ROWS = kGemvSideRows>
void side_chunks(const GemvSide& sd, int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; ++c)
    for (int r0 = 0; r0 < kGemvSideRows; r0 += ROWS) {
      SideTile<S, VECS, ROWS> tile(sd, c * VECS * S::kLanes, r0);
      for (int64_t k = 0; k < sd.K; ++k) tile.step(sd, k);
      tile.store(sd);
    }
}

// A full group of NP panels (one accumulator set: 8 chains) with side chunks [u0, u0 + nu) riding along, one side
// term per STRIDE product terms (nu * sd.K * STRIDE <= g.K).
template <typename S, int NP, int STRIDE, int VECS>
inline void panels_side(const GemvArgs& g, int64_t p, int64_t m_end, const GemvSide& sd, int64_t u0, int64_t nu) {
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
  for (int64_t u = u0; u < u0 + nu; ++u) {
    SideTile<S, VECS> tile(sd, u * VECS * L);
    for (int64_t e = 0; e < sd.K; ++e) {
      for (int r = 0; r < STRIDE; ++r, ++k) term(k);
      tile.step(sd, e);
    }
    tile.store(sd);
  }
  for (; k < g.K; ++k) term(k);
  store_group<S, NP>(g, p, m_end, acc);
}

// The full groups of rows [m0, m1) (and the short one) with side chunks [u0, u1) spread evenly over the full
// groups, as many per group as its k loop has room for at STRIDE; returns the first chunk left over.
template <typename S, int STRIDE, int VECS>
int64_t rows_with_units(const GemvArgs& g, int64_t m0, int64_t m1, const GemvSide& sd, int64_t u0, int64_t u1) {
  constexpr int NP = kGroup<S>;
  const int64_t first = m0 / kGemvPanel, n = (m1 - m0 + kGemvPanel - 1) / kGemvPanel, full = n / NP;
  const int64_t room = sd.K > 0 ? g.K / (STRIDE * sd.K) : 0;
  // The short last group, panel by panel, comes first when descending (the serpentine) and last otherwise.
  auto short_group = [&] {
    for (int64_t q = first + full * NP; q < first + n; ++q) panels<S, 1>(g, q, m1);
  };
  if (g.descending) short_group();
  for (int64_t i = 0; i < full; ++i) {
    const int64_t gi = g.descending ? full - 1 - i : i;
    const int64_t nu = std::min(room, (u1 - u0 + (full - i) - 1) / (full - i));
    panels_side<S, NP, STRIDE, VECS>(g, first + gi * NP, m1, sd, u0, nu);
    u0 += nu;
  }
  if (!g.descending) short_group();
  return u0;
}

/// Rows [m0, m1) as rows<S>, and all of sd's units. At 16 lanes (one accumulator set per full group, 8 registers)
/// the side work rides along the full groups: where they fit so, whole tiles (16 accumulators) with one side term
/// per two product terms (lstm_tagger); else units of half a tile (8), at one per two terms where they fit, or one
/// per one (gru_classifier's second layer: whole tiles would load half the groups with twice the FMAs and leave the
/// rest bare). At 8 lanes (16 registers) and for what is left, after the product.
template <typename S>
void rows_side(const GemvArgs& g, int64_t m0, int64_t m1, const GemvSide& sd) {
  constexpr int NP = kGroup<S>, VT = static_cast<int>(kGemvSideCols) / S::kLanes;
  constexpr int VU = static_cast<int>(kGemvSideUnit) / S::kLanes;  // vectors of a unit
  const int64_t u0 = sd.unit_begin, u1 = sd.unit_end;
  if constexpr (S::kLanes == 16 && NP * (kGemvPanel / 16) == 8 && VT == 2) {
    const int64_t full = (m1 - m0 + kGemvPanel - 1) / kGemvPanel / NP, fit = sd.K > 0 ? full * (g.K / (2 * sd.K)) : 0;
    if (u0 % 2 == 0 && u1 % 2 == 0 && (u1 - u0) / 2 <= fit) {
      side_chunks<S, 2>(sd, rows_with_units<S, 2, 2>(g, m0, m1, sd, u0 / 2, u1 / 2), u1 / 2);
    } else if (u1 - u0 <= fit) {
      side_chunks<S, 1>(sd, rows_with_units<S, 2, 1>(g, m0, m1, sd, u0, u1), u1);
    } else {
      side_chunks<S, 1>(sd, rows_with_units<S, 1, 1>(g, m0, m1, sd, u0, u1), u1);
    }
    if (g.act.kind != Activation::kNone) apply_activation_f32(g.act, g.y + m0, g.y + m0, m1 - m0);
  } else {
    // 16 registers: a unit's 8 rows x 2 vectors would take all of them for accumulators (spilled: lstm_tagger's 8
    // units a step 4.6 us on Zen 3), so half its rows at a time (8 accumulators, 2 of W, a broadcast: 3.0 us).
    rows<S>(g, m0, m1);
    side_chunks<S, VU, kGemvSideRows / 2>(sd, u0, u1);
  }
}

// ---- several vectors (gemv_batch_f32) ----

// Rows [m, m + V * L) (inside one panel) for NB vectors: per k, V loads of W and NB broadcasts of x for V * NB FMAs.
// With PREFETCH (the first group of vectors of a tile, which reads these rows of W from L2 or L3: the next groups
// find them in L1), one line of this tile's strided stream kBatchPrefetchK terms ahead.
template <typename S, int V, int NB, bool PREFETCH = false>
inline void batch_tile(const GemvArgs& g, int64_t m, int64_t m_end, const float* x, int64_t ldx, float* y,
                       int64_t ldy) {
  using Vec = typename S::V;
  constexpr int L = S::kLanes;
  Vec acc[V][NB];
  for (auto& row : acc)
    for (auto& a : row) a = S::zero();
  const float* w = g.wp + m / kGemvPanel * g.K * kGemvPanel + m % kGemvPanel;
  for (int64_t k = 0; k < g.K; ++k) {
    if constexpr (PREFETCH)  // past the panel's end it reads the next panel or nothing: a hint
      _mm_prefetch(reinterpret_cast<const char*>(w + (k + kBatchPrefetchK) * kGemvPanel), _MM_HINT_T0);
    Vec xb[NB];
    for (int b = 0; b < NB; ++b) xb[b] = S::set1(x[b * ldx + k]);
    for (int v = 0; v < V; ++v) {
      const Vec wv = S::load(w + k * kGemvPanel + v * L);
      for (int b = 0; b < NB; ++b) acc[v][b] = S::fmadd(wv, xb[b], acc[v][b]);
    }
  }
  for (int v = 0; v < V; ++v) {
    const int64_t at = m + v * L, n = std::min<int64_t>(L, m_end - at);
    if (n <= 0) break;
    const Vec bias = !g.bias ? S::zero() : n == L ? S::load(g.bias + at) : S::load_partial(g.bias + at, n);
    for (int b = 0; b < NB; ++b) {
      const Vec r = g.bias ? S::add(acc[v][b], bias) : acc[v][b];
      if (n == L) {
        S::store(y + b * ldy + at, r);
      } else {
        float tmp[L];
        S::store(tmp, r);
        std::copy(tmp, tmp + n, y + b * ldy + at);
      }
    }
  }
}

// batch_tile for nb <= NB vectors (the last group of a batch).
template <typename S, int V, int NB, bool PREFETCH>
inline void batch_tile_upto(int64_t nb, const GemvArgs& g, int64_t m, int64_t m_end, const float* x, int64_t ldx,
                            float* y, int64_t ldy) {
  if constexpr (NB > 1)
    if (nb < NB) return batch_tile_upto<S, V, NB - 1, PREFETCH>(nb, g, m, m_end, x, ldx, y, ldy);
  batch_tile<S, V, NB, PREFETCH>(g, m, m_end, x, ldx, y, ldy);
}

/// Rows [m0, m1) for `batch` vectors (the GemvBatchFn of a tier): tiles of 2 vectors of rows by 4 vectors x at 8
/// lanes (8 accumulators, 4 broadcasts, a load: AVX2's 16 registers), by 8 at 16 lanes. Zen 3, R of lstm_tagger
/// (1024 x 256) by 8 states: 50 us against the GEMM's 58.7 (M = 8: 6 + 2 rows in 6-row tiles). `descending` walks
/// the tiles last to first (the serpentine of GemvArgs: R of lstm_tagger is twice Zen 3's L2).
template <typename S>
void batch_rows(const GemvArgs& g, int64_t m0, int64_t m1, int64_t batch, int64_t ldx, int64_t ldy) {
  constexpr int V = 2, NB = S::kLanes == 8 ? 4 : 8;
  constexpr bool kPrefetch = kPrefetchAhead<S> > 0;
  const int64_t tiles = (m1 - m0 + V * S::kLanes - 1) / (V * S::kLanes);
  for (int64_t i = 0; i < tiles; ++i) {
    const int64_t m = m0 + (g.descending ? tiles - 1 - i : i) * V * S::kLanes;
    for (int64_t b0 = 0; b0 < batch; b0 += NB) {
      const int64_t nb = std::min<int64_t>(NB, batch - b0);
      if (b0 == 0)
        batch_tile_upto<S, V, NB, kPrefetch>(nb, g, m, m1, g.x, ldx, g.y, ldy);
      else
        batch_tile_upto<S, V, NB, false>(nb, g, m, m1, g.x + b0 * ldx, ldx, g.y + b0 * ldy, ldy);
    }
  }
}

}  // namespace kiln::kernels::gemv_detail
