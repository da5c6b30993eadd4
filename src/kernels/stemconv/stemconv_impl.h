#pragma once
// The few-input-channel convolution kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and
// instantiated per tier in stemconv_avx2.cpp and stemconv_avx512.cpp. Include only from those files.
//
// Per work item (image, kStemConvBlock output channels, band of output rows):
//   - the filters are packed as one 16-float vector per (input channel, tap), output channel c in lane c;
//   - the input rows an output row reads are copied, zero-padded left and right, into a ring per input channel;
//     rows above or below the input read a zero row;
//   - an output row is computed T pixels at a time: per (input channel, tap), each pixel's input value is
//     broadcast and multiplied by the tap's weight vectors (T x 16 / L accumulators: 8 registers);
//   - the activation is applied and the row transposed into the output planes (pixel_tiles.h).

#include <algorithm>

#include "kernels/dwchan/dwchan.h"
#include "kernels/dwchan/pixel_tiles.h"
#include "kernels/simd/register_activation.h"
#include "kernels/simd/simd.h"
#include "kernels/stemconv/stemconv.h"

namespace kiln::kernels::stemconv_detail {

constexpr int kBlock = static_cast<int>(kStemConvBlock);

// What every item of a shape shares.
struct Geometry {
  int64_t pw = 0;      // floats per padded input row: the columns the output row's windows reach
  int64_t ring = 0;    // input rows kept per channel (every row one output row reads has its own slot)
  int64_t col_lo = 0;  // input columns [col_lo, col_hi) land at pad_left + column
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

// Input row `src` into the padded row dst.
inline void fill_row(const DwConvShape& s, const Geometry& g, const float* src, float* dst) {
  const int64_t first = std::min(s.pad_left + g.col_lo, g.pw), last = std::max<int64_t>(0, s.pad_left + g.col_hi);
  std::fill(dst, dst + first, 0.0f);
  std::copy(src + g.col_lo, src + g.col_hi, dst + s.pad_left + g.col_lo);
  if (last < g.pw) std::fill(dst + last, dst + g.pw, 0.0f);
}

// T output pixels from pixel ow into the pixel row `out` (kBlock floats per pixel). rows[ci * kernel_h + kh] is the
// padded row that tap row kh of input channel ci reads. KH, KW, SW > 0 fix the kernel size and the stride (with
// dilation 1) at compile time.
template <typename S, int KH, int KW, int SW, int T>
inline void pixels(const DwConvShape& s, int64_t cin, const float* const* rows, const float* w, const float* bias,
                   int64_t ow, float* out, const simd::RegisterActivation<S>& ep) {
  using V = typename S::V;
  constexpr int L = S::kLanes, NV = kBlock / L;
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h, kernel_w = KW > 0 ? KW : s.kernel_w;
  const int64_t step = SW > 0 ? SW : s.stride_w, dil = SW > 0 ? 1 : s.dilation_w;
  V acc[T][NV];
  for (int v = 0; v < NV; ++v) {
    const V b = S::load(bias + v * L);
    for (int t = 0; t < T; ++t) acc[t][v] = b;
  }
  for (int64_t ci = 0; ci < cin; ++ci) {
    for (int64_t kh = 0; kh < kernel_h; ++kh) {
      const float* row = rows[ci * kernel_h + kh] + ow * step;
      const float* wr = w + (ci * kernel_h + kh) * kernel_w * kBlock;
      for (int64_t kw = 0; kw < kernel_w; ++kw) {
        V wv[NV];
        for (int v = 0; v < NV; ++v) wv[v] = S::load(wr + kw * kBlock + v * L);
        const float* src = row + kw * dil;
        for (int t = 0; t < T; ++t) {
          const V xv = S::set1(src[t * step]);
          for (int v = 0; v < NV; ++v) acc[t][v] = S::fmadd(xv, wv[v], acc[t][v]);
        }
      }
    }
  }
  for (int t = 0; t < T; ++t)
    for (int v = 0; v < NV; ++v) S::store(out + (ow + t) * kBlock + v * L, ep.apply(acc[t][v]));
}

// One output row: blocks of 8 / (vectors per pixel) pixels (more accumulators spill on AVX2), the last overlapping
// the one before (recomputing a pixel gives the same values); rows narrower than a block in blocks of 4, 2, 1.
template <typename S, int KH, int KW, int SW>
inline void output_row(const DwConvShape& s, int64_t cin, const float* const* rows, const float* w,
                       const float* bias, float* out, const simd::RegisterActivation<S>& ep) {
  constexpr int TF = 8 / (kBlock / S::kLanes);
  const int64_t n = s.out_w;
  int64_t ow = 0;
  if (n >= TF) {
    for (; ow + TF <= n; ow += TF) pixels<S, KH, KW, SW, TF>(s, cin, rows, w, bias, ow, out, ep);
    if (ow < n) pixels<S, KH, KW, SW, TF>(s, cin, rows, w, bias, n - TF, out, ep);
    return;
  }
  for (; ow + 4 <= n; ow += 4) pixels<S, KH, KW, SW, 4>(s, cin, rows, w, bias, ow, out, ep);
  for (; ow + 2 <= n; ow += 2) pixels<S, KH, KW, SW, 2>(s, cin, rows, w, bias, ow, out, ep);
  for (; ow < n; ++ow) pixels<S, KH, KW, SW, 1>(s, cin, rows, w, bias, ow, out, ep);
}

// Output channels [m0, m0 + count) (count <= kBlock) of image n, output rows [oh0, oh1).
template <typename S, int KH, int KW, int SW>
void item(const DwConvShape& s, const DwConvArgs& a, const Geometry& g, int64_t n, int64_t m0, int64_t count,
          int64_t oh0, int64_t oh1, float* scratch) {
  const int64_t cin = a.in_channels;
  // Scratch: per input channel its ring, the zero row, the output pixel row, the packed filters, the bias.
  float* zero_row = scratch + cin * g.ring * g.pw;
  float* out_row = zero_row + g.pw;
  float* w = out_row + s.out_w * kBlock;
  float* bias = w + cin * g.taps * kBlock;
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  // Lanes past `count` repeat the last channel: they compute values nobody stores.
  float* dst[kBlock];
  for (int l = 0; l < kBlock; ++l) {
    const int64_t m = m0 + std::min<int64_t>(l, count - 1);
    dst[l] = a.y + (n * a.channels + m) * out_plane;
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t t = 0; t < g.taps; ++t) w[(ci * g.taps + t) * kBlock + l] = a.w[(m * cin + ci) * g.taps + t];
    bias[l] = a.bias ? a.bias[m] : 0.0f;
  }
  std::fill(zero_row, zero_row + g.pw, 0.0f);
  const simd::RegisterActivation<S> ep(a.act);
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h;
  int64_t held[kStemConvMaxIn * 64];  // input row in each ring slot (-1: none)
  std::fill(held, held + cin * g.ring, int64_t{-1});
  const float* rows[kStemConvMaxIn * kDwConvMaxKernel];
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    for (int64_t kh = 0; kh < kernel_h; ++kh) {
      const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
      for (int64_t ci = 0; ci < cin; ++ci) {
        if (ih < 0 || ih >= s.in_h) {
          rows[ci * kernel_h + kh] = zero_row;
          continue;
        }
        const int64_t slot = ci * g.ring + ih % g.ring;
        float* row = scratch + slot * g.pw;
        if (held[slot] != ih) {
          fill_row(s, g, a.x + (n * cin + ci) * in_plane + ih * s.in_w, row);
          held[slot] = ih;
        }
        rows[ci * kernel_h + kh] = row;
      }
    }
    output_row<S, KH, KW, SW>(s, cin, rows, w, bias, out_row, ep);
    if (!ep.in_registers()) apply_activation_f32(a.act, out_row, out_row, s.out_w * kBlock);
    // Spill past a row only onto rows below, written later in this call.
    pixel_tiles::store_row<kBlock>(s.out_w, out_row, dst, count, oh, (oh1 - oh) * s.out_w >= 8);
  }
}

template <typename S, int KH, int KW, int SW>
void items(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  const Geometry g(s);
  const int64_t band = dwchan_band_rows(s), bands = (s.out_h + band - 1) / band;
  const int64_t blocks = (a.channels + kBlock - 1) / kBlock;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t b = i % bands, ob = i / bands % blocks, n = i / bands / blocks;
    const int64_t oh0 = b * band, oh1 = std::min(s.out_h, oh0 + band), m0 = ob * kBlock;
    item<S, KH, KW, SW>(s, a, g, n, m0, std::min<int64_t>(kBlock, a.channels - m0), oh0, oh1, scratch);
  }
}

/// Work items [begin, end) of `a` (the StemConvFn of a tier).
template <typename S>
void run(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  const int64_t k = s.kernel_h == s.kernel_w && s.dilation_w == 1 ? s.kernel_h : 0;
  if (k == 3 && s.stride_w == 2) return items<S, 3, 3, 2>(s, a, begin, end, scratch);
  if (k == 3 && s.stride_w == 1) return items<S, 3, 3, 1>(s, a, begin, end, scratch);
  items<S, 0, 0, 0>(s, a, begin, end, scratch);
}

}  // namespace kiln::kernels::stemconv_detail
