#pragma once
// The Winograd F(2x2, 3x3) input and output transforms, written once over a SIMD wrapper and instantiated per tier
// in winograd_avx2.cpp and winograd_avx512.cpp. Vectorised across tiles: a vector holds one point of kLanes
// horizontally adjacent tiles. Tile j's patch starts at input column 2j, so the 4 columns of kLanes patches are
// the even and odd lanes of rows read at 2j and 2j + 2 (simd::Interleave); output tiles are merged back the same
// way. Include only from those files.

#include <algorithm>
#include <cstring>

#include "kernels/simd/register_activation.h"
#include "kernels/simd/simd.h"
#include "kernels/simd/simd_interleave.h"
#include "kernels/winograd/winograd.h"

namespace kiln::kernels::winograd_detail {

// Bᵀ (or Aᵀ's row sums) applied along one axis of a 4x4 block: Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
template <typename S> inline void bt4(typename S::V d0, typename S::V d1, typename S::V d2, typename S::V d3,
                                      typename S::V* out) {
  out[0] = S::sub(d0, d2);
  out[1] = S::add(d1, d2);
  out[2] = S::sub(d2, d1);
  out[3] = S::sub(d1, d3);
}

template <typename S>
void input(const WinogradShape& s, const float* x, int64_t channels, const WinogradBand& band, float* v,
           float* scratch) {
  using V = typename S::V;
  using I = simd::Interleave<S>;
  constexpr int L = S::kLanes;
  const int64_t tw = s.tiles_w();
  const int64_t width = 2 * ((tw + 15) / 16 * 16) + 2 + 32;  // as winograd_input_scratch_floats
  const int64_t band_rows = 2 * band.rows + 2, ih0 = 2 * band.tile_row0 - s.pad_top;
  // Band columns q hold input column q - pad_left; [q_lo, q_hi) are inside the input.
  const int64_t q_lo = std::min(s.pad_left, width), q_hi = std::clamp(s.pad_left + s.in_w, q_lo, width);
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = x + c * s.in_h * s.in_w;
    for (int64_t r = 0; r < band_rows; ++r) {  // the zero-padded band of this channel
      float* row = scratch + r * width;
      const int64_t ih = ih0 + r;
      if (ih < 0 || ih >= s.in_h) {
        std::fill(row, row + width, 0.0f);
        continue;
      }
      std::fill(row, row + q_lo, 0.0f);
      std::memcpy(row + q_lo, plane + ih * s.in_w + (q_lo - s.pad_left), static_cast<size_t>(q_hi - q_lo) * sizeof(float));
      std::fill(row + q_hi, row + width, 0.0f);
    }
    float* vc = v + c * band.ldc;
    for (int64_t i = 0; i < band.rows; ++i) {
      const float* rows = scratch + 2 * i * width;
      // Whole vectors: the last one's extra lanes land on the next tile row (rewritten after) or in the slack
      // past the band (WinogradBand::ldc).
      for (int64_t j = 0; j < tw; j += L) {
        V d[4][4], t[4][4];
        for (int r = 0; r < 4; ++r) {
          I::deinterleave(rows + r * width + 2 * j, &d[r][0], &d[r][1]);
          I::deinterleave(rows + r * width + 2 * j + 2, &d[r][2], &d[r][3]);
        }
        for (int q = 0; q < 4; ++q) {  // along the patch's rows: t[a][q]
          V col[4];
          bt4<S>(d[0][q], d[1][q], d[2][q], d[3][q], col);
          for (int a = 0; a < 4; ++a) t[a][q] = col[a];
        }
        float* out = vc + i * tw + j;
        for (int a = 0; a < 4; ++a) {  // along the columns: point (a, b)
          V p[4];
          bt4<S>(t[a][0], t[a][1], t[a][2], t[a][3], p);
          for (int b = 0; b < 4; ++b) S::store(out + (a * 4 + b) * band.ldt, p[b]);
        }
      }
    }
  }
}

// Adds the residual, applies the in-register activation and stores one output row's 2 * L outputs from their
// even (e) and odd (o) columns; `cols` (< 2L at the row's end) are valid.
template <typename S>
inline void store_pair(typename S::V e, typename S::V o, const float* res, float* y, int64_t cols,
                       const simd::RegisterActivation<S>& act) {
  using V = typename S::V;
  using I = simd::Interleave<S>;
  constexpr int L = S::kLanes;
  if (cols == 2 * L) {
    if (res) {
      V re, ro;
      I::deinterleave(res, &re, &ro);
      e = S::add(e, re), o = S::add(o, ro);
    }
    I::interleave(act.apply(e), act.apply(o), y);
    return;
  }
  float tmp[2 * L] = {};
  if (res) {
    std::copy(res, res + cols, tmp);
    V re, ro;
    I::deinterleave(tmp, &re, &ro);
    e = S::add(e, re), o = S::add(o, ro);
  }
  I::interleave(act.apply(e), act.apply(o), tmp);
  std::copy(tmp, tmp + cols, y);
}

template <typename S>
void output(const WinogradShape& s, const float* m, int64_t channels, const WinogradBand& band, const float* bias,
            const float* residual, float* y, const ActivationParams& act) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t tw = s.tiles_w(), plane = s.out_h * s.out_w;
  const simd::RegisterActivation<S> ra(act);
  for (int64_t k = 0; k < channels; ++k) {
    const float* mk = m + k * band.ldc;
    const V b = S::set1(bias ? bias[k] : 0.0f);
    for (int64_t i = 0; i < band.rows; ++i) {
      const int64_t oh = 2 * (band.tile_row0 + i);
      if (oh >= s.out_h) break;
      const int64_t at0 = k * plane + oh * s.out_w;
      const bool second = oh + 1 < s.out_h;
      for (int64_t j = 0; j < tw; j += L) {
        V p[4][4];
        for (int t = 0; t < kWinogradPoints; ++t) p[t / 4][t % 4] = S::load(mk + t * band.ldt + i * tw + j);
        V s0[4], s1[4];  // Aᵀ along the rows: [1 1 1 0; 0 1 -1 -1]
        for (int q = 0; q < 4; ++q) {
          s0[q] = S::add(S::add(p[0][q], p[1][q]), p[2][q]);
          s1[q] = S::sub(S::sub(p[1][q], p[2][q]), p[3][q]);
        }
        const V y00 = S::add(S::add(S::add(s0[0], s0[1]), s0[2]), b);
        const V y01 = S::add(S::sub(S::sub(s0[1], s0[2]), s0[3]), b);
        const V y10 = S::add(S::add(S::add(s1[0], s1[1]), s1[2]), b);
        const V y11 = S::add(S::sub(S::sub(s1[1], s1[2]), s1[3]), b);
        const int64_t cols = std::min<int64_t>(2 * L, s.out_w - 2 * j), at = at0 + 2 * j;
        store_pair<S>(y00, y01, residual ? residual + at : nullptr, y + at, cols, ra);
        if (second) store_pair<S>(y10, y11, residual ? residual + at + s.out_w : nullptr, y + at + s.out_w, cols, ra);
      }
    }
    if (!ra.in_registers()) {
      const int64_t row0 = 2 * band.tile_row0, row1 = std::min(s.out_h, 2 * (band.tile_row0 + band.rows));
      float* out = y + k * plane + row0 * s.out_w;
      apply_activation_f32(act, out, out, (row1 - row0) * s.out_w);
    }
  }
}

}  // namespace kiln::kernels::winograd_detail
