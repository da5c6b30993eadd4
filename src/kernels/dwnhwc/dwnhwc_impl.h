#pragma once
// The channels-last depthwise kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and instantiated per
// tier in dwnhwc_avx2.cpp and dwnhwc_avx512.cpp. Include only from those files (it needs the tier's flags).
//
// Per output row, per vector of L = S::kLanes channels (the last one masked when channels % L != 0):
//   - left and right border pixels (some taps in the padding) one at a time, taps clipped to the input;
//   - interior pixels in strips of 8 (then 4, 2, 1), all taps valid. When the vector's taps fit in registers
//     beside the strip's accumulators (3x3 on AVX-512's 32), each input pixel is loaded once and fed to every
//     output of the strip that reads it ("reuse": ~0.4 loads per FMA); otherwise tap by tap, the tap's filter
//     vector loaded once for the strip (~1.1 loads per FMA, no spills).
// Every output accumulates its taps in the same order (tap row, then tap column) in every path, from the bias.
// Strips of 8 keep 8 independent FMA chains, what two FMA ports of 4-cycle latency need.

#include <algorithm>

#include "kernels/dwnhwc/dwnhwc.h"
#include "kernels/simd/register_activation.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::dwnhwc_detail {

inline constexpr int kStrip = 8;

// Interior output columns [lo, hi): every tap of the kernel's width reads an input column.
struct Interior {
  int64_t lo = 0, hi = 0;
  explicit Interior(const DwNhwcShape& s) {
    lo = std::min(s.out_w, (s.pad_left + s.stride_w - 1) / s.stride_w);
    const int64_t last = s.in_w - 1 + s.pad_left - (s.kernel_w - 1) * s.dilation_w;  // rightmost first-tap column
    hi = std::clamp<int64_t>(last < 0 ? 0 : last / s.stride_w + 1, lo, s.out_w);
  }
};

// One vector of channels of one output row: where it reads and writes, and its epilogue.
template <typename S, bool Tail> struct Lane {
  using V = typename S::V;
  const float* const* rows;  // [kernel_h]: input row of tap row kh at this vector's first channel; null outside
  const float* w;            // the block's packed taps at this vector's first lane: tap t at w + t * kDwNhwcBlock
  const float* res;          // residual row at this vector's first channel, or null
  float* y;                  // output row at this vector's first channel
  int64_t pixel;             // floats per pixel (channels)
  int64_t count;             // channels in the vector (L unless Tail)
  V bias;
  const simd::RegisterActivation<S>* ep;

  V load(const float* p) const {
    if constexpr (Tail) return S::load_partial(p, count);
    return S::load(p);
  }
  V tap(int64_t t) const { return S::load(w + t * kDwNhwcBlock); }
  // Output ow from its accumulator: residual, activation (when held in registers), one store.
  void finish(int64_t ow, V acc) const {
    if (res) acc = S::add(acc, load(res + ow * pixel));
    acc = ep->apply(acc);
    if constexpr (Tail) {
      S::store_partial(y + ow * pixel, acc, count);
    } else {
      S::store(y + ow * pixel, acc);
    }
  }
};

// A border pixel: only the taps whose column is inside the input.
template <typename S, bool Tail> void clipped_pixel(const DwNhwcShape& s, const Lane<S, Tail>& v, int64_t ow) {
  const int64_t iw0 = ow * s.stride_w - s.pad_left;
  int64_t kw0 = 0, kw1 = s.kernel_w;
  while (kw0 < kw1 && iw0 + kw0 * s.dilation_w < 0) ++kw0;
  while (kw1 > kw0 && iw0 + (kw1 - 1) * s.dilation_w >= s.in_w) --kw1;
  typename S::V acc = v.bias;
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    if (!v.rows[kh]) continue;
    const float* r = v.rows[kh] + iw0 * v.pixel;
    for (int64_t kw = kw0; kw < kw1; ++kw)
      acc = S::fmadd(v.load(r + kw * s.dilation_w * v.pixel), v.tap(kh * s.kernel_w + kw), acc);
  }
  v.finish(ow, acc);
}

// T interior pixels from ow, tap by tap: one filter load per tap, T input loads. KH, KW, SW > 0 fix the kernel
// and the stride (dilation_w 1) at compile time; 0 reads them from s.
template <typename S, bool Tail, int KH, int KW, int SW, int T>
inline void tap_strip(const DwNhwcShape& s, const Lane<S, Tail>& v, int64_t ow) {
  using V = typename S::V;
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h, kernel_w = KW > 0 ? KW : s.kernel_w;
  const int64_t step = (SW > 0 ? SW : s.stride_w) * v.pixel, dil = (SW > 0 ? 1 : s.dilation_w) * v.pixel;
  V acc[T];
  for (int t = 0; t < T; ++t) acc[t] = v.bias;
  for (int64_t kh = 0; kh < kernel_h; ++kh) {
    if (!v.rows[kh]) continue;
    const float* r = v.rows[kh] + ow * step - s.pad_left * v.pixel;
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      const V wv = v.tap(kh * kernel_w + kw);
      for (int t = 0; t < T; ++t) acc[t] = S::fmadd(v.load(r + kw * dil + t * step), wv, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) v.finish(ow + t, acc[t]);
}

// T interior pixels from ow with the filter in registers (wr): input pixel j of a tap row is loaded once and
// fed to each output t that reads it (tap column j - t * SW). Same order of FMAs per output as tap_strip.
template <typename S, bool Tail, int KH, int KW, int SW, int T>
inline void reuse_strip(const DwNhwcShape& s, const Lane<S, Tail>& v, const typename S::V* wr, int64_t ow) {
  using V = typename S::V;
  V acc[T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = v.bias;
#pragma GCC unroll 8
  for (int kh = 0; kh < KH; ++kh) {
    if (!v.rows[kh]) continue;
    const float* r = v.rows[kh] + (ow * SW - s.pad_left) * v.pixel;
#pragma GCC unroll 32
    for (int j = 0; j < (T - 1) * SW + KW; ++j) {
      const V x = v.load(r + j * v.pixel);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const int kw = j - t * SW;
        if (kw >= 0 && kw < KW) acc[t] = S::fmadd(x, wr[kh * KW + kw], acc[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) v.finish(ow + t, acc[t]);
}

// Interior pixels [lo, hi) in strips of kStrip, then 4, 2, 1 (a strip never overlaps another: y may be the
// residual).
template <typename S, bool Tail, int KH, int KW, int SW, int R>
inline void interior(const DwNhwcShape& s, const Lane<S, Tail>& v, int64_t lo, int64_t hi) {
  using V = typename S::V;
  // The filter stays in registers when it fits beside kStrip accumulators and an input vector.
  constexpr bool kReuse = KH > 0 && KH * KW + kStrip + 2 <= R;
  if constexpr (kReuse) {
    V wr[KH * KW];
    for (int t = 0; t < KH * KW; ++t) wr[t] = v.tap(t);
    int64_t ow = lo;
    for (; ow + kStrip <= hi; ow += kStrip) reuse_strip<S, Tail, KH, KW, SW, kStrip>(s, v, wr, ow);
    if (ow + 4 <= hi) reuse_strip<S, Tail, KH, KW, SW, 4>(s, v, wr, ow), ow += 4;
    if (ow + 2 <= hi) reuse_strip<S, Tail, KH, KW, SW, 2>(s, v, wr, ow), ow += 2;
    if (ow < hi) reuse_strip<S, Tail, KH, KW, SW, 1>(s, v, wr, ow);
  } else {
    int64_t ow = lo;
    for (; ow + kStrip <= hi; ow += kStrip) tap_strip<S, Tail, KH, KW, SW, kStrip>(s, v, ow);
    if (ow + 4 <= hi) tap_strip<S, Tail, KH, KW, SW, 4>(s, v, ow), ow += 4;
    if (ow + 2 <= hi) tap_strip<S, Tail, KH, KW, SW, 2>(s, v, ow), ow += 2;
    if (ow < hi) tap_strip<S, Tail, KH, KW, SW, 1>(s, v, ow);
  }
}

// Channels [c0, c0 + count) of one output row.
template <typename S, bool Tail, int KH, int KW, int SW, int R>
void lane_row(const DwNhwcShape& s, const DwNhwcArgs& a, const Interior& cols, const float* const* rows,
              const float* res_row, float* y_row, int64_t c0, int64_t count, const simd::RegisterActivation<S>& ep) {
  const float* shifted[kDwNhwcMaxKernel];
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) shifted[kh] = rows[kh] ? rows[kh] + c0 : nullptr;
  Lane<S, Tail> v{shifted,
                  a.packed_w + (c0 / kDwNhwcBlock * s.kernel_h * s.kernel_w) * kDwNhwcBlock + c0 % kDwNhwcBlock,
                  res_row ? res_row + c0 : nullptr,
                  y_row + c0,
                  s.channels,
                  count,
                  S::zero(),
                  &ep};
  if (a.bias) v.bias = v.load(a.bias + c0);
  for (int64_t ow = 0; ow < cols.lo; ++ow) clipped_pixel(s, v, ow);
  interior<S, Tail, KH, KW, SW, R>(s, v, cols.lo, cols.hi);
  for (int64_t ow = cols.hi; ow < s.out_w; ++ow) clipped_pixel(s, v, ow);
}

template <typename S, int KH, int KW, int SW, int R>
void items(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  constexpr int L = S::kLanes;
  const Interior cols(s);
  const simd::RegisterActivation<S> ep(a.act);
  const int64_t C = s.channels, band = dwnhwc_band_rows(s), bands = (s.out_h + band - 1) / band;
  const float* rows[kDwNhwcMaxKernel];
  for (int64_t item = begin; item < end; ++item) {
    const int64_t n = item / bands, oh0 = item % bands * band, oh1 = std::min(s.out_h, oh0 + band);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
        rows[kh] = ih >= 0 && ih < s.in_h ? a.x + (n * s.in_h + ih) * s.in_w * C : nullptr;
      }
      const int64_t out_row = (n * s.out_h + oh) * s.out_w * C;
      const float* res_row = a.residual ? a.residual + out_row : nullptr;
      float* y_row = a.y + out_row;
      int64_t c0 = 0;
      for (; c0 + L <= C; c0 += L) lane_row<S, false, KH, KW, SW, R>(s, a, cols, rows, res_row, y_row, c0, L, ep);
      if (c0 < C) lane_row<S, true, KH, KW, SW, R>(s, a, cols, rows, res_row, y_row, c0, C - c0, ep);
      if (!ep.in_registers()) apply_activation_f32(a.act, y_row, y_row, s.out_w * C);
    }
  }
}

/// Work items [begin, end) of `s` (the DwNhwcFn of a tier with R vector registers).
template <typename S, int R> void run(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  const int64_t k = s.kernel_h == s.kernel_w && s.dilation_w == 1 ? s.kernel_h : 0;
  if (k == 3 && s.stride_w == 1) return items<S, 3, 3, 1, R>(s, a, begin, end);
  if (k == 3 && s.stride_w == 2) return items<S, 3, 3, 2, R>(s, a, begin, end);
  if (k == 5 && s.stride_w == 1) return items<S, 5, 5, 1, R>(s, a, begin, end);
  if (k == 5 && s.stride_w == 2) return items<S, 5, 5, 2, R>(s, a, begin, end);
  items<S, 0, 0, 0, R>(s, a, begin, end);
}

}  // namespace kiln::kernels::dwnhwc_detail
