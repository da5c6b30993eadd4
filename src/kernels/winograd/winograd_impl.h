#pragma once
// The Winograd F(2x2, 3x3) input and output transforms of one segment (winograd.h), written once over a SIMD
// wrapper and instantiated per tier in winograd_avx2.cpp and winograd_avx512.cpp. Vectorised across tiles: a
// vector holds one point of kLanes horizontally adjacent tiles. Tile j's patch starts at input column 2j, so the 4
// columns of kLanes patches are the even and odd lanes of rows read at 2j and 2j + 2 (simd::Interleave); output
// tiles are merged back the same way. Include only from those files.

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

// Calls fn(row, col0, cols, lane) for each tile row a segment covers: tiles (row, col0 .. col0 + cols - 1) go to
// lanes lane .. lane + cols - 1.
template <typename Fn> inline void for_each_row(const WinogradShape& s, const WinogradSegment& seg, Fn&& fn) {
  const int64_t tw = s.tiles_w();
  for (int64_t f = seg.first, end = seg.first + seg.count; f < end;) {
    const int64_t row = f / tw, col0 = f % tw, cols = std::min(tw - col0, end - f);
    fn(row, col0, cols, seg.lane0 + (f - seg.first));
    f += cols;
  }
}

template <typename S>
void input(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg, float* v,
           float* scratch) {
  using V = typename S::V;
  using I = simd::Interleave<S>;
  constexpr int L = S::kLanes;
  // A row piece's 4 input rows, zero-padded, in scratch: column q is input column iw0 + q. A piece has at most
  // 2L tiles (seg.count <= 2L); whole vectors read up to column 2 * round_up(cols, L) + 2 <= 4L + 2, so each row
  // is `width` wide, zeros past the input; two channels' rows at a time (kWinogradInputScratchFloats = 8 x 80).
  constexpr int64_t width = 4 * L + L;  // a whole number of vectors
  static_assert(8 * width <= static_cast<int64_t>(kWinogradInputScratchFloats));
  for_each_row(s, seg, [&](int64_t row, int64_t col0, int64_t cols, int64_t lane) {
    const int64_t ih0 = 2 * row - s.pad_top, iw0 = 2 * col0 - s.pad_left;
    const int64_t needed = std::min<int64_t>(2 * cols + 2, width);
    const int64_t q_lo = std::clamp<int64_t>(-iw0, 0, needed), q_hi = std::clamp<int64_t>(s.in_w - iw0, q_lo, needed);
    // Copies channel c's 4 rows into rows [4 * (c % 2), + 4) of scratch.
    auto gather = [&](int64_t c) {
      const float* plane = x + c * s.in_h * s.in_w;
      for (int r = 0; r < 4; ++r) {
        float* rowp = scratch + (4 * (c % 2) + r) * width;
        // Zeros, then the input's columns over them: a few vectors, not worth a library call.
        for (int64_t q = 0; q < width; q += L) S::store(rowp + q, S::zero());
        const int64_t ih = ih0 + r;
        if (ih < 0 || ih >= s.in_h) continue;
        const float* src = plane + ih * s.in_w + iw0;
        // The next panel most likely continues these rows: ask for its columns now. With a plane per channel,
        // a panel reads 4 short pieces of every channel's rows, more streams than the hardware prefetcher follows.
        if (q_hi == needed)
          for (int64_t f = needed; f < 2 * needed; f += 16) __builtin_prefetch(src + f, 0, 3);
        int64_t q = q_lo;
        for (; q + L <= q_hi; q += L) S::store(rowp + q, S::load(src + q));
        if (q < q_hi) S::store_partial(rowp + q, S::load_partial(src + q, q_hi - q), q_hi - q);
      }
    };
    // Channel c + 1 is copied before channel c is transformed: the transform's loads straddle the copy's stores,
    // which the CPU cannot forward; by the time they run, the stores have left for the cache.
    if (channels > 0) gather(0);
    for (int64_t c = 0; c < channels; ++c) {
      if (c + 1 < channels) gather(c + 1);
      const float* rows = scratch + 4 * (c % 2) * width;
      float* vc = v + c * seg.ldc;
      for (int64_t j = 0; j < cols; j += L) {
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
        const int64_t at = lane + j, n = std::min<int64_t>(L, seg.ldc - at);  // never at or past ldc
        for (int a = 0; a < 4; ++a) {  // along the columns: point (a, b)
          V p[4];
          bt4<S>(t[a][0], t[a][1], t[a][2], t[a][3], p);
          for (int b = 0; b < 4; ++b) {
            float* dst = vc + (a * 4 + b) * seg.ldt + at;
            if (n == L) {
              S::store(dst, p[b]);
            } else {
              S::store_partial(dst, p[b], n);
            }
          }
        }
      }
    }
  });
}

// Adds the residual, applies the in-register activation and stores one output row's 2 * L outputs from their
// even (e) and odd (o) columns; `cols` (< 2L at the segment's or row's end) are valid.
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
void output(const WinogradShape& s, const float* m, int64_t channels, const WinogradSegment& seg, const float* bias,
            const float* residual, float* y, const ActivationParams& act) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t plane = s.out_h * s.out_w;
  const simd::RegisterActivation<S> ra(act);
  for_each_row(s, seg, [&](int64_t row, int64_t col0, int64_t cols, int64_t lane) {
    const int64_t oh = 2 * row, ow0 = 2 * col0;
    if (oh >= s.out_h) return;
    const bool second = oh + 1 < s.out_h;
    const int64_t out_cols = std::min(2 * cols, s.out_w - ow0);  // output columns of the piece
    for (int64_t k = 0; k < channels; ++k) {
      const float* mk = m + k * seg.ldc + lane;
      const V b = S::set1(bias ? bias[k] : 0.0f);
      const int64_t at0 = k * plane + oh * s.out_w + ow0;
      if (ow0 + out_cols < s.out_w)  // the next panel's outputs, most likely (as the input transform's reads)
        for (int64_t f = out_cols; f < 2 * out_cols; f += 16) {
          __builtin_prefetch(y + at0 + f, 1, 3);
          if (second) __builtin_prefetch(y + at0 + s.out_w + f, 1, 3);
        }
      for (int64_t j = 0; j < cols; j += L) {
        V p[4][4];
        for (int t = 0; t < kWinogradPoints; ++t) p[t / 4][t % 4] = S::load(mk + t * seg.ldt + j);
        V s0[4], s1[4];  // Aᵀ along the rows: [1 1 1 0; 0 1 -1 -1]
        for (int q = 0; q < 4; ++q) {
          s0[q] = S::add(S::add(p[0][q], p[1][q]), p[2][q]);
          s1[q] = S::sub(S::sub(p[1][q], p[2][q]), p[3][q]);
        }
        const V y00 = S::add(S::add(S::add(s0[0], s0[1]), s0[2]), b);
        const V y01 = S::add(S::sub(S::sub(s0[1], s0[2]), s0[3]), b);
        const V y10 = S::add(S::add(S::add(s1[0], s1[1]), s1[2]), b);
        const V y11 = S::add(S::sub(S::sub(s1[1], s1[2]), s1[3]), b);
        const int64_t n = std::min<int64_t>(2 * L, out_cols - 2 * j), at = at0 + 2 * j;
        store_pair<S>(y00, y01, residual ? residual + at : nullptr, y + at, n, ra);
        if (second) store_pair<S>(y10, y11, residual ? residual + at + s.out_w : nullptr, y + at + s.out_w, n, ra);
      }
      if (!ra.in_registers()) {
        apply_activation_f32(act, y + at0, y + at0, out_cols);
        if (second) apply_activation_f32(act, y + at0 + s.out_w, y + at0 + s.out_w, out_cols);
      }
    }
  });
}

}  // namespace kiln::kernels::winograd_detail
