#pragma once
// The few-input-channel convolution kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and
// instantiated per tier in stemconv_avx2.cpp and stemconv_avx512.cpp. Include only from those files.
//
// Output pixels in the vector lanes, written straight into the NCHW planes. Per work item (image, band of output
// rows), output row by output row:
//   - every input row the output row reads is split, zero-padded, into its stride phases (phase p holds the padded
//     columns p, p + stride, ...), once per input channel in a ring (rows above or below the input read a zero
//     row): the tap kw of V vectors of consecutive outputs is then V plain loads at a fixed offset of a phase;
//   - the output channels go R at a time, V vectors of outputs at a time: per tap, V loads of the input and R
//     broadcast weights feed R x V accumulators (R = 6, V = 2 on AVX2: 12 accumulators, 8 loads per 12 FMAs);
//   - with the stems of the model suite compiled whole (channels and kernel fixed), the taps unroll (whole up to
//     kMaxUnrolledTaps, else row by row) and the accumulators stay in registers.
// The previous design (output channels in the lanes, each pixel's input broadcast, rows transposed back into
// the planes) reached 57 GFLOP/s on RGB 3x3 stride-2 stems on Zen 2; the transposes and its pixel rows took a
// third of its time. An output's value does not depend on how the items are split.
// On Zen 4 (AVX-512, 1 thread) ResNet's 7x7 stem (3 -> 64 at 224x224) spends its samples evenly on the FMAs and
// broadcasts of the unrolled taps (perf annotate: 52 % FMA, 33 % broadcast, 7 % loads); tried and not kept (stem
// node min ms, main vs variant, one interleaved run each): the weight as the FMA's {1to16} broadcast operand
// (inline asm) instead of a broadcast per weight, 2.25 -> 2.76 (MobileNet-v2's 3x3 stem 0.28 -> 0.37); 3 vectors x
// 8 channels per block (11 loads per 24 FMAs), 2.52 -> 2.53 (3x3 stem 0.32 -> 0.37); a 7x7 block's taps as a loop
// over its 21 input rows instead of 147 taps unrolled (~27 KB of code per block width), 2.29 -> 2.30 (ResNet-50's
// same node 2.46 -> 2.36 in that run: noise); no write prefetch of the next output row, 2.27 -> 2.32.
// On Zen 3 (AVX2, 1 thread, the 7x7 stem alone: 3 -> 64 at 224x224 + ReLU, kiln bench median ms, 6 channels x 2
// vectors per block 3.06): 4 channels x 3 vectors (4 broadcasts + 3 loads per 12 FMAs instead of 6 + 2) 3.26;
// 3 channels x 4 vectors 4.06.

#include <algorithm>

#include "kernels/simd/register_activation.h"
#include "kernels/simd/simd.h"
#include "kernels/simd/simd_interleave.h"
#include "kernels/stemconv/stemconv.h"

namespace kiln::kernels::stemconv_detail {

// What every item of a shape shares.
struct Geometry {
  int64_t phase_len = 0;  // floats per stride phase of a split row (the vectors' reads stay inside)
  int64_t row = 0;        // floats per split row: stride_w phases
  int64_t ring = 0;       // input rows kept per channel (every row one output row reads has its own slot)
  int64_t taps = 0;
  int64_t offset[kDwConvMaxKernel];  // where tap column kw starts in a split row

  explicit Geometry(const DwConvShape& s) {
    const int64_t sw = s.stride_w;
    // Whole blocks of kStemConvMaxVector outputs, plus the columns the window reaches past them.
    phase_len = (s.out_w + kStemConvMaxVector - 1) / kStemConvMaxVector * kStemConvMaxVector +
                (s.kernel_w - 1) * s.dilation_w / sw + 1;
    row = sw * phase_len;
    ring = (s.kernel_h - 1) * s.dilation_h + 1;
    taps = s.kernel_h * s.kernel_w;
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) offset[kw] = kw * s.dilation_w % sw * phase_len + kw * s.dilation_w / sw;
  }
};

// Input row `src` into the split row dst: padded column p (input column p - pad_left, zero outside the row) goes
// to phase p % stride_w at p / stride_w. The padded row is built first (in dst itself at stride 1, else in `pad`),
// then split 8 outputs at a time at stride 2 (simd::Interleave on AVX2, which every AVX-512 CPU has): a scalar gather with a bounds
// test per element took as long as the convolution of a 16-channel stem.
inline void split_row(const DwConvShape& s, const Geometry& g, const float* src, float* pad, float* dst) {
  const int64_t sw = s.stride_w, total = g.row;
  float* p = sw == 1 ? dst : pad;
  const int64_t lo = std::min(s.pad_left, total), hi = std::min(total, s.pad_left + s.in_w);
  std::fill(p, p + lo, 0.0f);
  std::copy(src, src + (hi - lo), p + lo);
  std::fill(p + hi, p + total, 0.0f);
  if (sw == 1) return;
  int64_t j = 0;
  if (sw == 2) {
    for (; j + 8 <= g.phase_len; j += 8) {
      simd::Avx2::V even, odd;
      simd::Interleave<simd::Avx2>::deinterleave(p + 2 * j, &even, &odd);
      simd::Avx2::store(dst + j, even);
      simd::Avx2::store(dst + g.phase_len + j, odd);
    }
  }
  for (; j < g.phase_len; ++j)
    for (int64_t ph = 0; ph < sw; ++ph) dst[ph * g.phase_len + j] = p[j * sw + ph];
}

// Output channels one block of accumulators covers (with 2 vectors of outputs).
template <typename S> constexpr int channels_per_block() { return S::kLanes >= 16 ? 8 : 6; }

// The filters in blocks of channels_per_block channels, tap after tap, the block's channels side by side
// (packed[(block * taps * cin + t) * R + r]), so a tap's R weights are R broadcasts from one line at fixed
// offsets; channels past the last repeat it. Reading each channel's filter through its own pointer instead
// kept R base registers live and the compiler did not keep the accumulators in place.
template <typename S> void pack_weights(const DwConvArgs& a, const Geometry& g, float* packed) {
  constexpr int R = channels_per_block<S>();
  const int64_t per_channel = a.in_channels * g.taps;
  for (int64_t m0 = 0; m0 < a.channels; m0 += R)
    for (int64_t t = 0; t < per_channel; ++t)
      for (int r = 0; r < R; ++r)
        packed[m0 * per_channel + t * R + r] = a.w[std::min<int64_t>(m0 + r, a.channels - 1) * per_channel + t];
}

// The kernel_w taps of one input row (row: its split row at the block's first output; w: the row's first tap's
// R packed weights) into R x V accumulators.
template <typename S, int KW, int R, int V>
[[gnu::always_inline]] inline void row_taps(const DwConvShape& s, const Geometry& g, const float* row, const float* w,
                                            typename S::V (&acc)[R][V]) {
  using Vec = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t kernel_w = KW > 0 ? KW : s.kernel_w;
#pragma GCC unroll 8
  for (int64_t kw = 0; kw < kernel_w; ++kw) {
    Vec x[V];
    for (int v = 0; v < V; ++v) x[v] = S::load(row + g.offset[kw] + v * L);
    for (int r = 0; r < R; ++r) {
      const Vec wv = S::set1(w[kw * R + r]);
      for (int v = 0; v < V; ++v) acc[r][v] = S::fmadd(wv, x[v], acc[r][v]);
    }
  }
}

// Windows of at most this many taps (an RGB 3x3 stem's 27) are unrolled whole; larger ones (ResNet's 7x7: 147)
// loop over their input rows, each row's taps unrolled. On Zen 4 the 7x7 stem ran as fast either way (2.29 vs
// 2.30 ms, see above), and unrolled it was a third of the code and of the compile time of the AVX2 file.
inline constexpr int kMaxUnrolledTaps = 32;

// Channels r < R of a block (w: their packed filters, pack_weights; the bias b[r]) x V vectors of outputs from column ow of one output row,
// into y + r * plane + ow (the first `count` channels; `n` outputs when a partial block, else V vectors). rows[ci * kernel_h +
// kh] is the split row tap row kh of input channel ci reads. KH, KW, CIN > 0 fix those sizes at compile time.
template <typename S, int KH, int KW, int CIN, int R, int V>
inline void block(const DwConvShape& s, int64_t cin_rt, const Geometry& g, const float* const* rows,
                  const float* w, const float* b, float* y, int64_t plane, int64_t count, int64_t ow,
                  int64_t n, const simd::RegisterActivation<S>& ep) {
  using Vec = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h, kernel_w = KW > 0 ? KW : s.kernel_w;
  const int64_t cin = CIN > 0 ? CIN : cin_rt;
  Vec acc[R][V];
  for (int r = 0; r < R; ++r) {
    const Vec bias = S::set1(b[r]);
    for (int v = 0; v < V; ++v) acc[r][v] = bias;
  }
  const int64_t input_rows = cin * kernel_h;
  if constexpr (KH > 0 && KW > 0 && CIN > 0 && KH * KW * CIN <= kMaxUnrolledTaps) {
    // Unrolled whole (27 taps of an RGB 3x3 stem): as loops, GCC 12 moved the accumulators between registers at
    // every iteration.
#pragma GCC unroll 32
    for (int64_t i = 0; i < input_rows; ++i) row_taps<S, KW, R, V>(s, g, rows[i] + ow, w + i * kernel_w * R, acc);
  } else {
#pragma GCC unroll 1
    for (int64_t i = 0; i < input_rows; ++i) row_taps<S, KW, R, V>(s, g, rows[i] + ow, w + i * kernel_w * R, acc);
  }
  for (int r = 0; r < R; ++r) {
    if (r >= count) break;
    for (int v = 0; v < V; ++v) {
      const Vec out = ep.apply(acc[r][v]);
      const int64_t left = n - v * L;
      float* at = y + r * plane + ow + v * L;
      if (left >= L) {
        S::store(at, out);
      } else if (left > 0) {
        S::store_partial(at, out, left);
      }
    }
  }
}

// One output row (row y of channel 0's plane, the other channels `plane` floats apart): R channels at a time, V vectors of outputs at a time; a
// width that is not a multiple of V vectors ends with a block of one or V vectors overlapping the one before (it
// writes the same values again), a row narrower than one block with a partial one.
// Lines of `floats` floats from p into cache ahead of their use, for reading or (kWrite) writing: a run's input
// and output planes were last touched a run earlier and are usually no longer in any cache (MobileNet-v2's stem,
// 3 -> 32 channels at 112x112: 0.29 ms with its planes in cache, 0.44 ms with neither, in a loop that rotates
// through buffers larger than L3).
template <bool kWrite> inline void prefetch_floats(const float* p, int64_t floats) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t byte = 0; byte < floats * int64_t{sizeof(float)} + 64; byte += 64) __builtin_prefetch(c + byte, kWrite, 2);
}

template <typename S, int KH, int KW, int CIN>
void output_row(const DwConvShape& s, const DwConvArgs& a, const Geometry& g, const float* const* rows,
                const float* packed_w, float* y, int64_t plane, const simd::RegisterActivation<S>& ep,
                const float* next_y) {
  constexpr int L = S::kLanes, V = 2, R = channels_per_block<S>(), B = V * L;
  static_assert(B <= kStemConvMaxVector);
  const int64_t cin = a.in_channels, width = s.out_w;
  for (int64_t m0 = 0; m0 < a.channels; m0 += R) {
    const int64_t count = std::min<int64_t>(R, a.channels - m0);
    // Channels past `count` repeat the last one: they compute values nobody stores.
    const float* w = packed_w + m0 * cin * g.taps;
    float b[R];
    for (int r = 0; r < R; ++r) b[r] = a.bias ? a.bias[m0 + std::min<int64_t>(r, count - 1)] : 0.0f;
    float* ym = y + m0 * plane;
    // The next output row of these channels, for writing, while this one computes.
    if (next_y)
      for (int64_t m = m0; m < m0 + count; ++m) prefetch_floats<true>(next_y + m * plane, width);
    if (width < B) {
      block<S, KH, KW, CIN, R, V>(s, cin, g, rows, w, b, ym, plane, count, 0, width, ep);
      continue;
    }
    int64_t ow = 0;
    for (; ow + B <= width; ow += B) block<S, KH, KW, CIN, R, V>(s, cin, g, rows, w, b, ym, plane, count, ow, B, ep);
    // A rest of at most one vector takes a one-vector block (overlapping its predecessor by what it lacks):
    // SqueezeNet's 111 outputs then cost 112 lanes of work instead of 128.
    if (ow < width && width - ow <= L) {
      block<S, KH, KW, CIN, R, 1>(s, cin, g, rows, w, b, ym, plane, count, width - L, L, ep);
    } else if (ow < width) {
      block<S, KH, KW, CIN, R, V>(s, cin, g, rows, w, b, ym, plane, count, width - B, B, ep);
    }
  }
  if (!ep.in_registers())
    for (int64_t m = 0; m < a.channels; ++m) apply_activation_f32(a.act, y + m * plane, y + m * plane, width);
}

// Output rows [oh0, oh1) of image n, every channel.
template <typename S, int KH, int KW, int CIN>
void item(const DwConvShape& s, const DwConvArgs& a, const Geometry& g, int64_t n, int64_t oh0, int64_t oh1,
          float* scratch) {
  const int64_t cin = a.in_channels, kernel_h = KH > 0 ? KH : s.kernel_h;
  float* zero_row = scratch + cin * g.ring * g.row;
  float* pad_row = zero_row + g.row;
  float* packed_w = pad_row + g.row;
  std::fill(zero_row, zero_row + g.row, 0.0f);
  pack_weights<S>(a, g, packed_w);
  const simd::RegisterActivation<S> ep(a.act);
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
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
        float* row = scratch + slot * g.row;
        if (held[slot] != ih) {
          split_row(s, g, a.x + (n * cin + ci) * in_plane + ih * s.in_w, pad_row, row);
          held[slot] = ih;
        }
        rows[ci * kernel_h + kh] = row;
      }
    }
    // The input rows the next output row adds, while this one computes.
    if (oh + 1 < oh1)
      for (int64_t kh = 0; kh < kernel_h; ++kh) {
        const int64_t ih = (oh + 1) * s.stride_h - s.pad_top + kh * s.dilation_h;
        if (ih < 0 || ih >= s.in_h) continue;
        for (int64_t ci = 0; ci < cin; ++ci)
          if (held[ci * g.ring + ih % g.ring] != ih)
            prefetch_floats<false>(a.x + (n * cin + ci) * in_plane + ih * s.in_w, s.in_w);
      }
    float* y = a.y + n * a.channels * out_plane + oh * s.out_w;
    output_row<S, KH, KW, CIN>(s, a, g, rows, packed_w, y, out_plane, ep, oh + 1 < oh1 ? y + s.out_w : nullptr);
  }
}

template <typename S, int KH, int KW, int CIN>
void items(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  const Geometry g(s);
  const int64_t band = stemconv_band_rows(s), bands = (s.out_h + band - 1) / band;
  for (int64_t i = begin; i < end; ++i) {
    const int64_t b = i % bands, n = i / bands;
    item<S, KH, KW, CIN>(s, a, g, n, b * band, std::min(s.out_h, (b + 1) * band), scratch);
  }
}

/// Work items [begin, end) of `a` (the StemConvFn of a tier). kCompiledStems false: every shape takes the general
/// instantiation (the AVX-512 logic on AVX2, which the tests run: its compiled stems differ from the general code
/// only in constants, and compiling them for Avx2Pair took more than half of stemconv_avx2.cpp's compile time).
template <typename S, bool kCompiledStems = true>
void run(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  // The stems of the model suite compiled whole (undilated): RGB 3x3 stride 2 (MobileNets, EfficientNet,
  // SqueezeNet) and 7x7 stride 2 (ResNets), one channel 5x5 stride 1 (super-resolution); then any kernel.
  const bool plain = s.dilation_w == 1 && s.dilation_h == 1;
  const int64_t k = plain && s.kernel_h == s.kernel_w ? s.kernel_h : 0, cin = a.in_channels;
  if constexpr (kCompiledStems) {
    if (k == 3 && cin == 3) return items<S, 3, 3, 3>(s, a, begin, end, scratch);
    if (k == 7 && cin == 3) return items<S, 7, 7, 3>(s, a, begin, end, scratch);
    if (k == 5 && cin == 1) return items<S, 5, 5, 1>(s, a, begin, end, scratch);
  }
  items<S, 0, 0, 0>(s, a, begin, end, scratch);
}

}  // namespace kiln::kernels::stemconv_detail
