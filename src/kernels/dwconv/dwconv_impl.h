#pragma once
// The depthwise plane kernel, written once over a SIMD wrapper (kernels/simd/simd.h) and instantiated per tier in
// dwconv_avx2.cpp and dwconv_avx512.cpp. Include only from those files (it needs the tier's compile flags).
//
// How: the input plane is first copied into scratch, zero-padded on the left and right and split by stride phase
// (phase p of a row holds padded columns p, p + sw, p + 2 sw, ...). Then every tap (kh, kw) of a vector of
// consecutive outputs reads consecutive scratch floats, whatever the stride, dilation or padding: the inner loop
// is loads and FMAs only, with no edge cases. Rows above or below the input are skipped (they add zero). The
// copy costs one read and one write per input element; each element is then read kernel_h * kernel_w / sh / sw
// times from L1 or L2.

#include <algorithm>
#include <cstring>

#include "kernels/dwconv/dwconv.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::dwconv_detail {

// Copies input row `src` into its phase rows at `dst` (stride_w rows of `len` floats), zero-padded.
inline void split_row(const DwConvShape& s, const float* src, float* dst, int64_t len) {
  const int64_t sw = s.stride_w;
  if (sw == 1) {
    const int64_t lo = std::min(s.pad_left, len);
    const int64_t n = std::clamp<int64_t>(std::min(s.in_w, len - lo), 0, len);
    std::fill(dst, dst + lo, 0.0f);
    std::memcpy(dst + lo, src, static_cast<size_t>(n) * sizeof(float));
    std::fill(dst + lo + n, dst + len, 0.0f);
    return;
  }
  for (int64_t p = 0; p < sw; ++p) {
    float* out = dst + p * len;
    for (int64_t j = 0; j < len; ++j) {
      const int64_t col = p + sw * j - s.pad_left;
      out[j] = col >= 0 && col < s.in_w ? src[col] : 0.0f;
    }
  }
}

template <typename S> struct Epilogue {
  using V = typename S::V;
  Activation kind;
  V lo, hi;
  explicit Epilogue(const ActivationParams& a)
      : kind(a.kind), lo(S::set1(a.kind == Activation::kClip ? a.alpha : 0.0f)), hi(S::set1(a.beta)) {}
  // Relu and Clip are applied in registers; the others after the row is stored (apply_activation_f32). The
  // operand order gives the reference's NaN behaviour (max/min return their second operand on NaN): Relu maps
  // NaN to 0, Clip keeps it.
  V apply(V v) const {
    if (kind == Activation::kRelu) return S::max(v, lo);
    if (kind == Activation::kClip) return S::min(hi, S::max(lo, v));
    return v;
  }
  bool in_registers() const { return kind == Activation::kNone || kind == Activation::kRelu || kind == Activation::kClip; }
};

// B vectors of outputs starting at column `ow` of one output row. rows[kh] is the scratch row of tap row kh
// (null when it lies in the padding); tap_off[kw] the offset of tap kw inside a scratch row.
template <typename S, int B>
inline void block(const DwConvShape& s, const float* const* rows, const int64_t* tap_off, const float* w, float bias,
                  const float* res, float* y, int64_t ow, int64_t tail, const Epilogue<S>& ep) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  V acc[B];
  for (int b = 0; b < B; ++b) acc[b] = S::set1(bias);
  for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
    const float* row = rows[kh];
    if (!row) continue;
    const float* wk = w + kh * s.kernel_w;
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const V wv = S::set1(wk[kw]);
      const float* src = row + tap_off[kw] + ow;
      for (int b = 0; b < B; ++b) acc[b] = S::fmadd(wv, S::load(src + b * L), acc[b]);
    }
  }
  for (int b = 0; b < B; ++b) {
    const int64_t n = b == B - 1 && tail ? tail : L;
    if (res) acc[b] = S::add(acc[b], n == L ? S::load(res + ow + b * L) : S::load_partial(res + ow + b * L, n));
    const V v = ep.apply(acc[b]);
    if (n == L) {
      S::store(y + ow + b * L, v);
    } else {
      S::store_partial(y + ow + b * L, v, n);
    }
  }
}

template <typename S>
void plane(const DwConvShape& s, const DwConvPlane& p, const ActivationParams& act, float* scratch) {
  constexpr int L = S::kLanes;
  const int64_t len = dwconv_phase_row_floats(s);
  const int64_t row_stride = s.stride_w * len;
  for (int64_t ih = 0; ih < s.in_h; ++ih) split_row(s, p.x + ih * s.in_w, scratch + ih * row_stride, len);
  int64_t tap_off[kDwConvMaxKernel];
  for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
    const int64_t col = kw * s.dilation_w;
    tap_off[kw] = (col % s.stride_w) * len + col / s.stride_w;
  }
  const Epilogue<S> ep(act);
  const float* rows[kDwConvMaxKernel];
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
      const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
      rows[kh] = ih >= 0 && ih < s.in_h ? scratch + ih * row_stride : nullptr;
    }
    float* y = p.y + oh * s.out_w;
    const float* res = p.residual ? p.residual + oh * s.out_w : nullptr;
    int64_t ow = 0;
    for (; ow + 4 * L <= s.out_w; ow += 4 * L) block<S, 4>(s, rows, tap_off, p.w, p.bias, res, y, ow, 0, ep);
    for (; ow + L <= s.out_w; ow += L) block<S, 1>(s, rows, tap_off, p.w, p.bias, res, y, ow, 0, ep);
    if (ow < s.out_w) block<S, 1>(s, rows, tap_off, p.w, p.bias, res, y, ow, s.out_w - ow, ep);
    if (!ep.in_registers()) apply_activation_f32(act, y, y, s.out_w);
  }
}

}  // namespace kiln::kernels::dwconv_detail
