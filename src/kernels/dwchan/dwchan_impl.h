#pragma once
// The channel-blocked depthwise kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and instantiated per
// tier in dwchan_avx2.cpp and dwchan_avx512.cpp. Include only from those files (it needs the tier's flags).
//
// Per work item (image, kDwChanBlock channels, band of output rows), in sub-blocks of L = S::kLanes channels:
//   - the filters are packed tap by tap as L-float vectors (channel c in lane c), the bias likewise;
//   - the input rows an output row reads are transposed into a ring of "pixel rows" (pixel p of a row holds its
//     L channels at p * L), with the left and right padding columns written as zeros, so a tap of any output
//     pixel is one vector load whatever the stride or dilation; rows above or below the input read a zero row;
//   - an output row is computed T pixels at a time (T accumulators, one filter vector per tap), the activation
//     applied, and the row transposed back into the L output planes.
// The transposes go through 8x8 AVX2 tiles (pixel_tiles.h; AVX-512 machines have AVX2; a 16-lane sub-block is two
// 8-channel halves); widths that are not a multiple of 8 end with an overlapping or a masked tile.

#include <algorithm>

#include "kernels/dwchan/dwchan.h"
#include "kernels/dwchan/pixel_tiles.h"
#include "kernels/simd/register_activation.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::dwchan_detail {

// What every sub-block of a shape shares.
struct Geometry {
  int64_t pw = 0;        // pixels per scratch row: the columns the output row's windows reach, padding included
  int64_t ring = 0;      // input rows kept: every row one output row reads has its own slot (ih % ring)
  int64_t col_lo = 0;    // input columns [col_lo, col_hi) land in the scratch row, at pixel pad_left + column
  int64_t col_hi = 0;
  int64_t taps = 0;

  explicit Geometry(const DwConvShape& s) {
    pw = (s.out_w - 1) * s.stride_w + (s.kernel_w - 1) * s.dilation_w + 1;
    ring = (s.kernel_h - 1) * s.dilation_h + 1;
    col_lo = std::max<int64_t>(0, -s.pad_left);
    col_hi = std::max(col_lo, std::min(s.in_w, pw - s.pad_left));
    taps = s.kernel_h * s.kernel_w;
  }
};

// Input columns [c, c + n) (n <= 8) of row `row` of channels h..h+7 into pixels pad_left + c.. of dst. With
// `room`, the 8 - n pixels after them may be written: a short tile's masked lanes load as zero, which is what
// those (right padding) pixels hold.
template <int L>
inline void fill_tile(const DwConvShape& s, const float* const* src, int64_t row, int64_t c, int64_t n, bool room,
                      float* dst) {
  float* out = dst + (s.pad_left + c) * L;
  for (int h = 0; h < L; h += 8) {
    __m256 r[8];
    if (n == 8) {
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src[h + i] + row + c);
    } else {
      const __m256i m = pixel_tiles::first_lanes(n);
      for (int i = 0; i < 8; ++i) r[i] = _mm256_maskload_ps(src[h + i] + row + c, m);
    }
    pixel_tiles::transpose8(r);
    // Stores one by one (a loop of n stores becomes a memcpy whose start-up cost dominated 7x7 planes).
    for (int i = 0; i < 8; ++i)
      if (i < n || room) _mm256_storeu_ps(out + i * L + h, r[i]);
  }
}

// Input row ih of L channel planes (src[l] points at channel l's plane) into the pixel row dst. Widths that are
// not a multiple of 8 end with a tile overlapping the one before (it writes the same values again).
template <int L>
inline void fill_row(const DwConvShape& s, const Geometry& g, const float* const* src, int64_t ih, float* dst) {
  const __m256 zero = _mm256_setzero_ps();
  const int64_t first = s.pad_left + g.col_lo, last = s.pad_left + g.col_hi;  // pixels holding input
  for (int64_t p = 0; p < std::min(first, g.pw); ++p)
    for (int h = 0; h < L; h += 8) _mm256_storeu_ps(dst + p * L + h, zero);
  for (int64_t p = std::max(last, int64_t{0}); p < g.pw; ++p)
    for (int h = 0; h < L; h += 8) _mm256_storeu_ps(dst + p * L + h, zero);
  const int64_t row = ih * s.in_w, width = g.col_hi - g.col_lo;
  if (width < 8) {
    if (width > 0) fill_tile<L>(s, src, row, g.col_lo, width, first + 8 <= g.pw, dst);
    return;
  }
  int64_t c = g.col_lo;
  for (; c + 8 <= g.col_hi; c += 8) fill_tile<L>(s, src, row, c, 8, true, dst);
  if (c < g.col_hi) fill_tile<L>(s, src, row, g.col_hi - 8, 8, true, dst);
}

// T output pixels of a row from pixel ow: rows[kh] is the pixel row that tap row kh reads. KH, KW, SW > 0 fix the
// kernel size and the stride (with dilation 1) at compile time, so every load's offset is an immediate (with the
// offsets in registers, 8 accumulators spill them).
template <typename S, int KH, int KW, int SW, int T>
inline void pixels(const DwConvShape& s, const float* const* rows, const float* w, typename S::V bias, int64_t ow,
                   float* out, const simd::RegisterActivation<S>& ep) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h, kernel_w = KW > 0 ? KW : s.kernel_w;
  const int64_t step = SW > 0 ? SW * L : s.stride_w * L, dil = SW > 0 ? L : s.dilation_w * L;
  // Fewer than 8 pixels: two sets of accumulators (even and odd tap rows), so that at least 2T FMA chains hide
  // the FMA latency (4 chains of 25 taps left 7x7 planes at a third of the FMA rate).
  constexpr int SETS = T >= 8 ? 1 : 2;
  V acc[SETS][T];
  for (int t = 0; t < T; ++t) acc[0][t] = bias;
  for (int set = 1; set < SETS; ++set)
    for (int t = 0; t < T; ++t) acc[set][t] = S::zero();
  for (int64_t kh = 0; kh < kernel_h; ++kh) {
    const float* row = rows[kh] + ow * step;
    V* a = acc[SETS == 1 ? 0 : kh % SETS];
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      const V wv = S::load(w + (kh * kernel_w + kw) * L);
      const float* src = row + kw * dil;
      for (int t = 0; t < T; ++t) a[t] = S::fmadd(S::load(src + t * step), wv, a[t]);
    }
  }
  if constexpr (SETS > 1)
    for (int t = 0; t < T; ++t) acc[0][t] = S::add(acc[0][t], acc[1][t]);
  for (int t = 0; t < T; ++t) S::store(out + (ow + t) * L, ep.apply(acc[0][t]));
}

// One output row into the pixel row `out`: blocks of 8 pixels (4 on narrow rows), the last one overlapping the one
// before when the width is not a multiple (recomputing a pixel gives the same values).
template <typename S, int KH, int KW, int SW>
inline void output_row(const DwConvShape& s, const float* const* rows, const float* w, typename S::V bias,
                       float* out, const simd::RegisterActivation<S>& ep) {
  const int64_t ow_n = s.out_w;
  if (ow_n >= 8) {
    int64_t ow = 0;
    for (; ow + 8 <= ow_n; ow += 8) pixels<S, KH, KW, SW, 8>(s, rows, w, bias, ow, out, ep);
    if (ow < ow_n) pixels<S, KH, KW, SW, 8>(s, rows, w, bias, ow_n - 8, out, ep);
  } else if (ow_n >= 4) {
    pixels<S, KH, KW, SW, 4>(s, rows, w, bias, 0, out, ep);
    if (ow_n > 4) pixels<S, KH, KW, SW, 4>(s, rows, w, bias, ow_n - 4, out, ep);
  } else if (ow_n == 3) {
    pixels<S, KH, KW, SW, 3>(s, rows, w, bias, 0, out, ep);
  } else if (ow_n == 2) {
    pixels<S, KH, KW, SW, 2>(s, rows, w, bias, 0, out, ep);
  } else {
    pixels<S, KH, KW, SW, 1>(s, rows, w, bias, 0, out, ep);
  }
}

// Channels [c0, c0 + count) (count <= L) of image n, output rows [oh0, oh1).
template <typename S, int KH, int KW, int SW>
void sub_block(const DwConvShape& s, const DwConvArgs& a, const Geometry& g, int64_t n, int64_t c0, int64_t count,
               int64_t oh0, int64_t oh1, float* scratch) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  // Scratch: ring rows, the zero row, the output pixel row, the packed filters, the bias.
  float* ring = scratch;
  float* zero_row = ring + g.ring * g.pw * L;
  float* out_row = zero_row + g.pw * L;
  float* w = out_row + s.out_w * L;
  float* bias = w + g.taps * L;
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  // Lanes past `count` repeat the last channel: they compute values nobody stores, from memory that exists.
  const float* src[L];
  float* dst[L];
  for (int l = 0; l < L; ++l) {
    const int64_t c = c0 + std::min<int64_t>(l, count - 1);
    src[l] = a.x + (n * a.channels + c) * in_plane;
    dst[l] = a.y + (n * a.channels + c) * out_plane;
    for (int64_t t = 0; t < g.taps; ++t) w[t * L + l] = a.w[c * g.taps + t];
    bias[l] = a.bias ? a.bias[c] : 0.0f;
  }
  std::fill(zero_row, zero_row + g.pw * L, 0.0f);
  const V bv = S::load(bias);
  const simd::RegisterActivation<S> ep(a.act);
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h;
  int64_t held[kDwChanMaxRing];  // input row in each ring slot (-1: none)
  std::fill(held, held + g.ring, int64_t{-1});
  const float* rows[kDwConvMaxKernel];
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    for (int64_t kh = 0; kh < kernel_h; ++kh) {
      const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
      if (ih < 0 || ih >= s.in_h) {
        rows[kh] = zero_row;
        continue;
      }
      const int64_t slot = ih % g.ring;
      float* row = ring + slot * g.pw * L;
      if (held[slot] != ih) {
        fill_row<L>(s, g, src, ih, row);
        held[slot] = ih;
      }
      rows[kh] = row;
    }
    output_row<S, KH, KW, SW>(s, rows, w, bv, out_row, ep);
    if (!ep.in_registers()) apply_activation_f32(a.act, out_row, out_row, s.out_w * L);
    // Spill past a row only onto rows below, written later in this call.
    pixel_tiles::store_row<L>(s.out_w, out_row, dst, count, oh, (oh1 - oh) * s.out_w >= 8);
  }
}

template <typename S, int KH, int KW, int SW>
void items(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  constexpr int L = S::kLanes;
  const Geometry g(s);
  const int64_t band = dwchan_band_rows(s), bands = (s.out_h + band - 1) / band;
  const int64_t blocks = (a.channels + kDwChanBlock - 1) / kDwChanBlock;
  for (int64_t item = begin; item < end; ++item) {
    // Band-major (see dwchan.h): consecutive items are the channel blocks of one band.
    const int64_t cb = item % blocks, b = item / blocks % bands, n = item / blocks / bands;
    const int64_t oh0 = b * band, oh1 = std::min(s.out_h, oh0 + band);
    for (int64_t c0 = cb * kDwChanBlock; c0 < std::min(a.channels, (cb + 1) * kDwChanBlock); c0 += L)
      sub_block<S, KH, KW, SW>(s, a, g, n, c0, std::min<int64_t>(L, a.channels - c0), oh0, oh1, scratch);
  }
}

/// Work items [begin, end) of `a` (the DwChanFn of a tier).
template <typename S>
void run(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  const int64_t k = s.kernel_h == s.kernel_w && s.dilation_w == 1 ? s.kernel_h : 0;
  if (k == 3 && s.stride_w == 1) return items<S, 3, 3, 1>(s, a, begin, end, scratch);
  if (k == 3 && s.stride_w == 2) return items<S, 3, 3, 2>(s, a, begin, end, scratch);
  if (k == 5 && s.stride_w == 1) return items<S, 5, 5, 1>(s, a, begin, end, scratch);
  if (k == 5 && s.stride_w == 2) return items<S, 5, 5, 2>(s, a, begin, end, scratch);
  items<S, 0, 0, 0>(s, a, begin, end, scratch);
}

}  // namespace kiln::kernels::dwchan_detail
