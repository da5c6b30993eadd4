#pragma once
// The channels-last depthwise kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and instantiated per
// tier in dwnhwc_avx2.cpp and dwnhwc_avx512.cpp. Include only from those files (it needs the tier's flags).
//
// Per work item (image, band of output rows), per group of channels whose input rows stay in L1, per output row,
// piece by piece, each piece over every vector of L = S::kLanes channels of the group (the last one masked when
// channels % L != 0):
//   - border pixels (some taps in the padding): for the kernels fixed at compile time (3x3, 5x5, dilation_w 1)
//     one unrolled run of taps, padding taps reading a zero vector; others clip their taps (clipped_pixel);
//   - interior pixels (all taps valid) in strips of kStrip, then 8, 4, 2, 1. When the filter fits in registers
//     beside the strip's accumulators (3x3 on AVX-512's 32), each input pixel is loaded once and fed to every
//     output of the strip that reads it ("reuse": ~0.4 loads per FMA); on AVX2 a 3x3 does so in strips of 6
//     (kReuseShort) and a 5x5 one tap row at a time (kReuseRows; at stride 1 its strips also cover the border
//     pixels, clipped); otherwise tap by tap, the tap's filter vector loaded once for the strip (~1.1 loads per
//     FMA, no spills).
// Every output accumulates its taps in tap row, then tap column order, from the bias; strips shorter than 8 and
// border pixels split the sum between even and odd tap rows (more independent FMA chains). Which path an output
// takes depends on its column alone, so its bits do not depend on the work split.

#include <algorithm>
#include <type_traits>

#include "kernels/dwnhwc/dwnhwc.h"
#include "kernels/simd/register_activation.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::dwnhwc_detail {

// Pixels of a full strip: its accumulators, the 3x3 filter and an input vector take 22 of AVX-512's 32 registers;
// 8 on AVX2's 16 (12 spilled).
template <int R> inline constexpr int kStrip = R >= 32 ? 12 : 8;

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
  static constexpr bool kTail = Tail;
  const float* const* rows;  // [kernel_h]: input row of tap row kh (its first channel); null outside the input
  int64_t c0;                // this vector's first channel
  const float* w;            // the block's packed taps at this vector's first lane: tap t at w + t * kDwNhwcBlock
  const float* res;          // residual row at this vector's first channel, or null
  float* y;                  // output row at this vector's first channel
  int64_t pixel;             // floats per pixel (channels)
  int64_t count;             // channels in the vector (L unless Tail)
  V bias;
  const simd::RegisterActivation<S>* ep;

  // Input row of tap row kh at this vector's first channel, or null.
  const float* row(int64_t kh) const { return rows[kh] ? rows[kh] + c0 : nullptr; }

  V load(const float* p) const {
    if constexpr (Tail) return S::load_partial(p, count);
    return S::load(p);
  }
  V tap(int64_t t) const { return S::load(w + t * kDwNhwcBlock); }
  // Output ow from its accumulator: residual, activation (when held in registers), one store. Inlined: called
  // out of line (GCC did, for every strip), each call clobbers every vector register, so a strip's accumulators
  // went through the stack and every output paid a call and the activation's branches.
  __attribute__((always_inline)) void finish(int64_t ow, V acc) const {
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
    const float* r = v.row(kh);  // offsets from the row's start: iw0 may be negative, the columns read are not
    for (int64_t kw = kw0; kw < kw1; ++kw)
      acc = S::fmadd(v.load(r + (iw0 + kw * s.dilation_w) * v.pixel), v.tap(kh * s.kernel_w + kw), acc);
  }
  v.finish(ow, acc);
}

// A border pixel of a kernel fixed at compile time: src[t] is tap t's input pixel (its first channel), or null
// when the tap reads padding, which then reads `zeros` instead (adding +-0 leaves the sum as it is), so that the
// taps are one unrolled run of FMAs (the clipped loops of clipped_pixel took a third of a 14x14 layer's time).
template <typename S, bool Tail, int KH, int KW>
inline void border_pixel(const Lane<S, Tail>& v, const float* const* src, const float* zeros, int64_t ow) {
  typename S::V even = v.bias, odd = S::zero();  // even and odd tap rows: two FMA chains of half the length
#pragma GCC unroll 8
  for (int kh = 0; kh < KH; kh += 2) {
#pragma GCC unroll 8
    for (int kw = 0; kw < KW; ++kw) {
      const int t = kh * KW + kw;
      even = S::fmadd(v.load(src[t] ? src[t] + v.c0 : zeros), v.tap(t), even);
      if (kh + 1 < KH) odd = S::fmadd(v.load(src[t + KW] ? src[t + KW] + v.c0 : zeros), v.tap(t + KW), odd);
    }
  }
  v.finish(ow, S::add(even, odd));
}

// Accumulator sets of a strip of T pixels: strips shorter than 8 keep two (even and odd tap rows, added at
// the end) so that they still run 2T FMA chains (T chains of 9 or 25 taps are latency-bound); the kernels
// whose size is only known at run time keep one (an indexed set would live in memory).
template <int KH, int T> inline constexpr int sets = KH > 0 && T < 8 ? 2 : 1;

// T interior pixels from ow, tap by tap: one filter load per tap, T input loads. KH, KW, SW > 0 fix the kernel
// and the stride (dilation_w 1) at compile time; 0 reads them from s.
template <typename S, bool Tail, int KH, int KW, int SW, int T>
inline void tap_strip(const DwNhwcShape& s, const Lane<S, Tail>& v, int64_t ow) {
  using V = typename S::V;
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h, kernel_w = KW > 0 ? KW : s.kernel_w;
  const int64_t step = (SW > 0 ? SW : s.stride_w) * v.pixel, dil = (SW > 0 ? 1 : s.dilation_w) * v.pixel;
  constexpr int kSets = sets<KH, T>;
  V acc[kSets][T];
  for (int t = 0; t < T; ++t) acc[0][t] = v.bias;
  for (int t = 0; t < T; ++t) acc[kSets - 1][t] = kSets == 1 ? v.bias : S::zero();
#pragma GCC unroll 8
  for (int64_t kh = 0; kh < kernel_h; ++kh) {
    if (!v.rows[kh]) continue;
    const float* r = v.row(kh) + ow * step - s.pad_left * v.pixel;
    V* a = acc[kh % kSets];
#pragma GCC unroll 8
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      const V wv = v.tap(kh * kernel_w + kw);
      for (int t = 0; t < T; ++t) a[t] = S::fmadd(v.load(r + kw * dil + t * step), wv, a[t]);
    }
  }
  for (int t = 0; t < T; ++t) v.finish(ow + t, kSets == 1 ? acc[0][t] : S::add(acc[0][t], acc[1][t]));
}

// T interior pixels from ow with the filter in registers (wr), or, where wr is null, one tap row at a time
// (loaded before the row's inputs: the rows of a 5x5 fit AVX2's registers beside a strip, the whole filter does
// not): input pixel j of a tap row is loaded once and fed to each output t that reads it (tap column j - t * SW).
// Same order of FMAs per output as tap_strip with kSets accumulator sets (one where registers are short).
// Clip: the strip may reach into the left or right padding, whose input pixels it skips (a branch per input
// pixel, the same for every vector of channels).
template <typename S, bool Tail, int KH, int KW, int SW, int T, int kSets = sets<KH, T>, bool Clip = false>
inline void reuse_strip(const DwNhwcShape& s, const Lane<S, Tail>& v, const typename S::V* wr, int64_t ow) {
  using V = typename S::V;
  V acc[kSets][T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[0][t] = v.bias;
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[kSets - 1][t] = kSets == 1 ? v.bias : S::zero();
#pragma GCC unroll 8
  for (int kh = 0; kh < KH; ++kh) {
    if (!v.rows[kh]) continue;
    const float* r = v.row(kh) + (ow * SW - s.pad_left) * v.pixel;
    V* a = acc[kh % kSets];
    V row_taps[KW];
#pragma GCC unroll 8
    for (int kw = 0; kw < KW; ++kw) row_taps[kw] = wr ? wr[kh * KW + kw] : v.tap(kh * KW + kw);
#pragma GCC unroll 32
    for (int j = 0; j < (T - 1) * SW + KW; ++j) {
      if constexpr (Clip) {
        const int64_t iw = ow * SW - s.pad_left + j;
        if (iw < 0 || iw >= s.in_w) continue;
      }
      const V x = v.load(r + j * v.pixel);
#pragma GCC unroll 16
      for (int t = 0; t < T; ++t) {
        const int kw = j - t * SW;
        if (kw >= 0 && kw < KW) a[t] = S::fmadd(x, row_taps[kw], a[t]);
      }
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) v.finish(ow + t, kSets == 1 ? acc[0][t] : S::add(acc[0][t], acc[1][t]));
}

// The filter stays in registers when it fits beside a full strip's accumulators and an input vector.
template <int KH, int KW, int R> inline constexpr bool kReuse = KH > 0 && KH * KW + kStrip<R> + 2 <= R;

// 3x3 where the filter does not fit beside a strip of 8 (AVX2's 16 registers): strips of kShortStrip = 6 with
// the filter in registers and one accumulator set (6 accumulators + 9 taps + an input: 16 registers, no spill),
// then 4, 2, 1. tap_strip's strips of 8 load each input pixel once per tap that reads it, 81 loads per 72 FMAs;
// these load each once, 39 (stride 2) or 24 (stride 1) per 54. Zen 3, one thread, kiln_microbench, min of
// alternating runs under quiet.sh, tap strips of 8 -> these: c64_112_k3_s2 312 -> 209 us, c144_56_k3_s2
// 207 -> 154, c192_28_k3_s2 74 -> 51, c576_14_k3_s2 64 -> 39; c32_112_k3_s1 235 -> 194, c144_56_k3_s1
// 384 -> 344, c576_14_k3_s1 122 -> 96, c960_7_k3_s1 72 -> 61 (stride-2 strips of 4 with two accumulator sets,
// two spilled registers, were in between: 215, 162, 48, 47).
template <int KH, int KW, int SW, int R>
inline constexpr bool kReuseShort = !kReuse<KH, KW, R> && KH == 3 && KW == 3 && SW > 0;
inline constexpr int kShortStrip = 6;

// 5x5 where the filter does not fit (AVX2): strips of 8 (then 4, 2, 1) with one tap row in registers at a time
// (8 accumulators + 5 taps + an input: 14 registers). tap_strip loads each input pixel once per tap that reads
// it (1.125 loads per FMA); these once per tap row, 17 (stride 1) or 24 (stride 2) loads per 40 FMAs.
template <int KH, int KW, int SW, int R>
inline constexpr bool kReuseRows = !kReuse<KH, KW, R> && KH == 5 && KW == 5 && SW > 0;

// AVX-512's 32 registers, stride 1: whole output rows in strips of kRowStrip = 14 pixels, then 7 (MobileNets'
// rows are 7, 14, 28, 56 or 112 wide: one piece per row or per 14 pixels), those reaching into the padding
// clipped, as the 5x5 strips of AVX2 (kReuseRows). A 3x3 strip of 14 with its filter in registers takes 14 + 9 +
// 1 registers; a 5x5 one, a tap row at a time, 14 + 5 + 1. Rows cut into border pixels and strips of 12, 4, 2, 1
// run latency-bound pieces (border pixels: 2 FMA chains, 18 loads per 9 FMAs). Emerald Rapids, 1 thread,
// kiln_microbench, min of 3 interleaved rounds, main -> this: c960_7_k3_s1 25.5 -> 14.7 us, c384_14_k3_s1 34.4 ->
// 23.8, c576_14_k3_s1 51.5 -> 37.3, c192_28_k3_s1 70.6 -> 52.8, c960_7_k5_s1 45.7 -> 31.0, c672_14_k5_s1 88.2 ->
// 75.0; 56- and 112-wide rows within noise (c144_56_k3_s1 254 -> 237, c16_112_k3_s1 88 -> 85), c240_28_k5_s1
// 120 -> 124.
// At stride 2 only 5x5 rows up to kRowStrip wide (run() picks the instantiation by the width): c672_14_k5_s2 48.4 -> 31.9 us,
// while 28-wide rows (c72_56_k5_s2 60 -> 78) and 3x3 rows (c576_14_k3_s2 16.3 -> 18.5, c96_112_k3_s2 267 ->
// 285) lost.
template <int KH, int KW, int SW, int R>
inline constexpr bool kWholeRows =
    R >= 32 && ((SW == 1 && KH == 3 && KW == 3) || ((SW == 1 || SW == 2) && KH == 5 && KW == 5));
inline constexpr int kRowStrip = 14;

template <typename Lane> inline constexpr bool tail_of = std::remove_cvref_t<Lane>::kTail;

// T interior pixels from ow of one vector of channels.
template <typename S, bool Tail, int KH, int KW, int SW, int R, int T>
inline void strip(const DwNhwcShape& s, const Lane<S, Tail>& v, int64_t ow) {
  if constexpr (kReuse<KH, KW, R> || (kReuseShort<KH, KW, SW, R> && T <= kShortStrip)) {
    typename S::V wr[KH * KW];
    for (int t = 0; t < KH * KW; ++t) wr[t] = v.tap(t);
    if constexpr (kReuseShort<KH, KW, SW, R> && T == kShortStrip) {
      reuse_strip<S, Tail, KH, KW, SW, T, 1>(s, v, wr, ow);
    } else {
      reuse_strip<S, Tail, KH, KW, SW, T>(s, v, wr, ow);
    }
  } else if constexpr (kReuseRows<KH, KW, SW, R> && T >= 4) {
    reuse_strip<S, Tail, KH, KW, SW, T>(s, v, nullptr, ow);
  } else {
    tap_strip<S, Tail, KH, KW, SW, T>(s, v, ow);
  }
}

// Channels [c_lo, c_hi) of one output row, piece by piece (a border pixel, a strip of interior pixels), each piece over every vector of
// channels before the next: the input is read in order, and the latency-bound pieces (border pixels, short
// strips: few FMA chains) of consecutive vectors are independent, so they overlap in the out-of-order core.
template <typename S, int KH, int KW, int SW, int R, bool Whole>
void output_row(const DwNhwcShape& s, const DwNhwcArgs& a, const Interior& cols, const float* const* rows,
                const float* res_row, float* y_row, const simd::RegisterActivation<S>& ep, int64_t c_lo,
                int64_t c_hi) {
  constexpr int L = S::kLanes;
  const int64_t C = s.channels, full = c_lo + (c_hi - c_lo) / L * L, taps = s.kernel_h * s.kernel_w;
  auto lane = [&](auto tail, int64_t c0) __attribute__((always_inline)) {
    Lane<S, decltype(tail)::value> v{rows,
                                     c0,
                                     a.packed_w + (c0 / kDwNhwcBlock * taps) * kDwNhwcBlock + c0 % kDwNhwcBlock,
                                     res_row ? res_row + c0 : nullptr,
                                     y_row + c0,
                                     C,
                                     decltype(tail)::value ? C - c0 : L,
                                     S::zero(),
                                     &ep};
    if (a.bias) v.bias = v.load(a.bias + c0);
    return v;
  };
  // piece(v) for every vector of channels, the last one masked when C % L != 0.
  auto each_vector = [&](auto piece) __attribute__((always_inline)) {
    for (int64_t c0 = c_lo; c0 < full; c0 += L) piece(lane(std::false_type{}, c0));
    if (full < c_hi) piece(lane(std::true_type{}, full));
  };
  // A border pixel over every vector: border_pixel with its taps' input pixels found once, or clipped_pixel.
  // Inlined: once the 5x5 strips (kReuseRows) grew output_row, GCC called it out of line, and the 7-wide 5x5
  // layers (4 of 7 pixels on the border) ran 15-20 % slower.
  auto border = [&](int64_t ow) __attribute__((always_inline)) {
    if constexpr (KH > 0) {
      alignas(64) const float zeros[L] = {};
      const float* src[KH * KW];
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw) {
          const int64_t iw = ow * SW - s.pad_left + kw;
          src[kh * KW + kw] = rows[kh] && iw >= 0 && iw < s.in_w ? rows[kh] + iw * C : nullptr;
        }
      each_vector([&](const auto& v) __attribute__((always_inline)) { border_pixel<S, tail_of<decltype(v)>, KH, KW>(v, src, zeros, ow); });
    } else {
      each_vector([&](const auto& v) { clipped_pixel(s, v, ow); });
    }
  };
  if constexpr ((kReuseRows<KH, KW, SW, R> && SW == 1) || (kWholeRows<KH, KW, SW, R> && Whole)) {
    // The whole row in strips of 8, 4, 2, 1, those reaching into the padding clipped: a border pixel alone
    // loads each of its taps and inputs (50 loads per 25 FMAs), most of a 7-wide row's time. Zen 3, 1 thread,
    // kiln_microbench, min of 5 alternating rounds: c960_7_k5_s1 101 -> 60 us, c1152_7 123 -> 72, c480_14 131 ->
    // 98, c672_14 183 -> 137, c120_28 98 -> 81, c240_28 201 -> 168; at stride 2 it was slower (c144_56_k5_s2
    // 139 -> 149, c72_56 71 -> 80), which keeps border pixels.
    int64_t ow = 0;
    auto row_strips = [&](auto width, bool once) __attribute__((always_inline)) {
      constexpr int T = decltype(width)::value;
      while (ow + T <= s.out_w) {
        const bool inside = ow >= cols.lo && ow + T <= cols.hi;
        each_vector([&](const auto& v) __attribute__((always_inline)) {
          constexpr bool tail = tail_of<decltype(v)>;
          if (inside) {
            strip<S, tail, KH, KW, SW, R, T>(s, v, ow);
          } else {
            reuse_strip<S, tail, KH, KW, SW, T, sets<KH, T>, true>(s, v, nullptr, ow);
          }
        });
        ow += T;
        if (once) return;
      }
    };
    if constexpr (R >= 32) {
      row_strips(std::integral_constant<int, kRowStrip>{}, false);
      row_strips(std::integral_constant<int, kRowStrip / 2>{}, true);
    } else {
      row_strips(std::integral_constant<int, kStrip<R>>{}, false);
      row_strips(std::integral_constant<int, 8>{}, true);
    }
    row_strips(std::integral_constant<int, 4>{}, true);
    row_strips(std::integral_constant<int, 2>{}, true);
    row_strips(std::integral_constant<int, 1>{}, true);
    return;
  }
  for (int64_t ow = 0; ow < cols.lo; ++ow) border(ow);
  int64_t ow = cols.lo;
  // Strips of T pixels from ow while they fit (`once`: at most one).
  auto strips = [&](auto width, bool once) __attribute__((always_inline)) {
    constexpr int T = decltype(width)::value;
    while (ow + T <= cols.hi) {
      each_vector([&](const auto& v) __attribute__((always_inline)) { strip<S, tail_of<decltype(v)>, KH, KW, SW, R, T>(s, v, ow); });
      ow += T;
      if (once) return;
    }
  };
  if constexpr (kReuseShort<KH, KW, SW, R>) {
    strips(std::integral_constant<int, kShortStrip>{}, false);
    strips(std::integral_constant<int, 4>{}, true);
  } else {
    strips(std::integral_constant<int, kStrip<R>>{}, false);
    strips(std::integral_constant<int, 8>{}, true);
    strips(std::integral_constant<int, 4>{}, true);
  }
  strips(std::integral_constant<int, 2>{}, true);
  strips(std::integral_constant<int, 1>{}, true);
  for (ow = cols.hi; ow < s.out_w; ++ow) border(ow);
}

// Channels a band's rows are computed for before the next channels: a multiple of L whose window of input rows
// ((kernel_h - 1) * dilation_h + 1 of them) takes about 32 KB, so that the rows an output row shares with the
// next stay in L1 (L2 bandwidth bounded 14x14 layers otherwise: 3 input lines per 9 FMAs). Where fewer than
// 2 * kDwNhwcBlock channels (two cache lines per pixel) fit (56- and 112-wide rows), all of them: slices of one
// or two lines per pixel read slower (the prefetchers follow whole rows better) and their rows would not stay in
// L1 anyway. The threshold is in channels, not vectors: at 2 AVX2 vectors (16 channels, one line) the 112-wide
// 3x3 and 56-wide 5x5 stride-2 layers were cut into slices of 24 channels (1 thread, Zen 3: MobileNet-v3 8.49 and
// 8.63 ms -> 8.37 and 8.37, EfficientNet-B0 17.25 and 16.75 -> 16.75 and 16.18, two runs each).
template <int L> int64_t group_channels(const DwNhwcShape& s) {
  const int64_t window = (s.kernel_h - 1) * s.dilation_h + 1;
  const int64_t fit = 32768 / static_cast<int64_t>(sizeof(float)) / (window * s.in_w) / L * L;
  return fit < 2 * kDwNhwcBlock ? s.channels : std::min(fit, s.channels);
}

template <typename S, int KH, int KW, int SW, int R, bool Whole = true>
void items(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  const Interior cols(s);
  const simd::RegisterActivation<S> ep(a.act);
  const int64_t C = s.channels, band = dwnhwc_band_rows(s), bands = (s.out_h + band - 1) / band;
  const int64_t group = group_channels<S::kLanes>(s);
  const float* rows[kDwNhwcMaxKernel];
  for (int64_t item = begin; item < end; ++item) {
    const int64_t n = item / bands, oh0 = item % bands * band, oh1 = std::min(s.out_h, oh0 + band);
    for (int64_t c_lo = 0; c_lo < C; c_lo += group) {
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
          const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
          if (ih < 0 || ih >= s.in_h) {
            rows[kh] = nullptr;
          } else {
            rows[kh] = a.x_rows ? a.x_rows[n * s.in_h + ih] : a.x + (n * s.in_h + ih) * s.in_w * C;
          }
        }
        const int64_t out_row = (n * s.out_h + oh) * s.out_w * C;
        output_row<S, KH, KW, SW, R, Whole>(s, a, cols, rows, a.residual ? a.residual + out_row : nullptr, a.y + out_row,
                                     ep, c_lo, std::min(C, c_lo + group));
      }
    }
    if (!ep.in_registers()) {
      float* y = a.y + (n * s.out_h + oh0) * s.out_w * C;
      apply_activation_f32(a.act, y, y, (oh1 - oh0) * s.out_w * C);
    }
  }
}

/// Work items [begin, end) of `s` (the DwNhwcFn of a tier with R vector registers).
template <typename S, int R> void run(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  const int64_t k = s.kernel_h == s.kernel_w && s.dilation_w == 1 ? s.kernel_h : 0;
  if (k == 3 && s.stride_w == 1) return items<S, 3, 3, 1, R>(s, a, begin, end);
  if (k == 3 && s.stride_w == 2) return items<S, 3, 3, 2, R>(s, a, begin, end);
  if (k == 5 && s.stride_w == 1) return items<S, 5, 5, 1, R>(s, a, begin, end);
  // 5x5 stride 2 in whole rows only up to kRowStrip outputs wide (kWholeRows); wider rows take an instantiation
  // without that path (with it, the 28-wide rows ran 7-13 % slower though they did not take it).
  if (k == 5 && s.stride_w == 2 && s.out_w <= kRowStrip) return items<S, 5, 5, 2, R, true>(s, a, begin, end);
  if (k == 5 && s.stride_w == 2) return items<S, 5, 5, 2, R, false>(s, a, begin, end);
  items<S, 0, 0, 0, R>(s, a, begin, end);
}

}  // namespace kiln::kernels::dwnhwc_detail
