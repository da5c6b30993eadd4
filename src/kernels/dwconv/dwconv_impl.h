#pragma once
// The depthwise kernel, written once over a SIMD wrapper (kernels/simd/simd.h, plus S::deinterleave: even and odd
// lanes of 2 vectors, defined in each tier's file) and instantiated per tier in
// dwconv_avx2.cpp and dwconv_avx512.cpp. Include only from those files (it needs the tier's compile flags).
//
// How: the input plane is first copied into scratch, zero-padded on the left and right and split by stride phase
// (phase p of a row holds padded columns p, p + sw, p + 2 sw, ...). Then every tap (kh, kw) of a vector of
// consecutive outputs reads consecutive scratch floats, whatever the stride, dilation or padding: the inner loop
// is loads and FMAs only, with no edge cases. Rows above or below the input read a zero row kept after the
// input's rows. The
// copy costs one read and one write per input element; each element is then read kernel_h * kernel_w / sh / sw
// times from L1 or L2.

#include <algorithm>

#include "kernels/dwconv/dwconv.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::dwconv_detail {

// Stores the first n lanes of v. AVX2's masked store (vmaskmovps) is microcoded and slow on AMD cores, where it
// dominated 7x7 planes; a full store to the stack and a short copy is cheaper. AVX-512's masked store is native.
template <typename S> inline void store_tail(float* p, typename S::V v, int64_t n) {
  if constexpr (S::kLanes == 16) {
    S::store_partial(p, v, n);
  } else {
    float tmp[S::kLanes];
    S::store(tmp, v);
    for (int64_t i = 0; i < n; ++i) p[i] = tmp[i];
  }
}

// What every plane of a shape shares, computed once per call (integer divisions cost more than a 7x7 plane's
// arithmetic): scratch row sizes, which phase columns hold input, where each tap reads.
struct Layout {
  int64_t len = 0;                          // floats per phase row
  int64_t row_stride = 0;                   // floats per input row (stride_w phase rows)
  int64_t first[kDwConvMaxKernel] = {};     // phase p: input column of its column 0
  int64_t lo[kDwConvMaxKernel] = {};        // phase p: columns [lo, hi) hold input
  int64_t hi[kDwConvMaxKernel] = {};
  int64_t tap_off[kDwConvMaxKernel] = {};   // tap kw: offset inside a scratch row

  explicit Layout(const DwConvShape& s) {
    const int64_t sw = s.stride_w;
    len = dwconv_phase_row_floats(s);
    row_stride = sw * len;
    for (int64_t p = 0; p < sw; ++p) {
      first[p] = p - s.pad_left;
      lo[p] = std::clamp<int64_t>(first[p] >= 0 ? 0 : (-first[p] + sw - 1) / sw, 0, len);
      hi[p] = std::clamp<int64_t>(s.in_w - first[p] > 0 ? (s.in_w - first[p] + sw - 1) / sw : 0, lo[p], len);
    }
    for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
      const int64_t col = kw * s.dilation_w;
      tap_off[kw] = (col % sw) * len + col / sw;
    }
  }
};

// Stride 2 (MobileNets' downsampling): both phase rows in one pass, 2L input columns at a time split into even
// and odd columns by the tier's S::deinterleave (the compiler leaves this gather scalar). Input column c goes to
// phase (c + pad_left) % 2 at j = (c + pad_left) / 2.
template <typename S> inline void split_row_stride2(const DwConvShape& s, const Layout& t, const float* src, float* dst) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t pe = s.pad_left % 2, po = 1 - pe;                        // phases of even and odd columns
  const int64_t je = s.pad_left / 2, jo = (s.pad_left + 1) / 2;          // j of columns 0 and 1
  float* even = dst + pe * t.len + je;
  float* odd = dst + po * t.len + jo;
  // Column pairs i (columns 2i, 2i + 1) whose j lies in the stored range [lo, hi) of both phases.
  const int64_t pairs = std::min({s.in_w / 2, t.hi[pe] - je, t.hi[po] - jo});
  int64_t i = 0;
  for (; i + L <= pairs; i += L) {
    V e, o;
    S::deinterleave(src + 2 * i, &e, &o);
    S::store(even + i, e);
    S::store(odd + i, o);
  }
  for (int64_t p = 0; p < 2; ++p) {  // the rest, phase by phase from column 2i (even) or 2i + 1 (odd)
    float* out = dst + p * t.len;
    const float* in = src + t.first[p];
    for (int64_t j = std::max(t.lo[p], i + (p == pe ? je : jo)); j < t.hi[p]; ++j) out[j] = in[2 * j];
  }
}

// Copies input row `src` into its phase rows at `dst`. Only the input's columns are written: the padding columns
// are the same for every plane of a shape and stay zero from the caller's one fill.
template <typename S> inline void split_row(const DwConvShape& s, const Layout& t, const float* src, float* dst) {
  constexpr int L = S::kLanes;
  const int64_t sw = s.stride_w;
  for (int64_t p = 0; p < sw; ++p) {
    float* out = dst + p * t.len;
    const float* in = src + t.first[p];  // in[sw * j] for j in [lo, hi) lies inside the row
    const int64_t lo = t.lo[p], hi = t.hi[p];
    if (sw == 1) {
      int64_t j = lo;
      for (; j + L <= hi; j += L) S::store(out + j, S::load(in + j));
      // The tail's other lanes load as zero, which is what the columns past hi hold: a full store is right
      // where the phase row has room for it.
      if (j < hi) {
        if (j + L <= t.len) {
          S::store(out + j, S::load_partial(in + j, hi - j));
        } else {
          store_tail<S>(out + j, S::load_partial(in + j, hi - j), hi - j);
        }
      }
    } else if (sw == 2) {
      if (p == 0) split_row_stride2<S>(s, t, src, dst);  // both phases at once
    } else {
      for (int64_t j = lo; j < hi; ++j) out[j] = in[sw * j];
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

// R output rows x B vectors of outputs starting at column `ow`: R * B independent accumulators, so the FMA
// latency is hidden even on 7x7 planes (one vector per row). rows[r * kernel_h + kh] is the scratch row that tap
// row kh of output row r reads (the zero row when it lies in the padding, so the loops have no branch);
// tap_off[kw] is the offset of tap kw inside a scratch row. The last vector holds `tail` outputs when tail > 0;
// `rows_after` counts the plane's rows below the group (a tail store must not leave the plane).
// KH, KW > 0 fix the kernel size at compile time (3x3 and 5x5 unroll fully; 0 reads it from s).
template <typename S, int R, int B, int KH, int KW>
inline void block(const DwConvShape& s, const float* const* rows, const int64_t* tap_off, const float* w, float bias,
                  const float* res, float* y, int64_t ow, int64_t tail, int64_t rows_after, const Epilogue<S>& ep) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h, kernel_w = KW > 0 ? KW : s.kernel_w;
  V acc[R][B];
  for (int r = 0; r < R; ++r)
    for (int b = 0; b < B; ++b) acc[r][b] = S::set1(bias);
  for (int64_t kh = 0; kh < kernel_h; ++kh) {
    const float* wk = w + kh * kernel_w;
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      const V wv = S::set1(wk[kw]);
      const int64_t off = tap_off[kw] + ow;
      for (int r = 0; r < R; ++r) {
        const float* src = rows[r * kernel_h + kh] + off;
        for (int b = 0; b < B; ++b) acc[r][b] = S::fmadd(wv, S::load(src + b * L), acc[r][b]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int b = 0; b < B; ++b) {
      const int64_t at = r * s.out_w + ow + b * L;
      const bool partial = b == B - 1 && tail;
      if (!partial) {
        if (res) acc[r][b] = S::add(acc[r][b], S::load(res + at));
        S::store(y + at, ep.apply(acc[r][b]));
      } else if ((rows_after + R - 1 - r) * s.out_w >= L - tail) {
        // A full store: the lanes past the row land in the rows below, inside the plane, which are written after
        // this one (columns are done right to left, rows top to bottom).
        if (res) acc[r][b] = S::add(acc[r][b], S::load(res + at));
        S::store(y + at, ep.apply(acc[r][b]));
      } else {
        if (res) acc[r][b] = S::add(acc[r][b], S::load_partial(res + at, tail));
        store_tail<S>(y + at, ep.apply(acc[r][b]), tail);
      }
    }
  }
}

// Output rows [oh, oh + R) of a plane, all columns, right to left (see block's stores).
template <typename S, int R, int KH, int KW>
[[gnu::always_inline]] inline void row_group(const DwConvShape& s, const Layout& t, const DwConvPlane& p, const float* scratch,
               const Epilogue<S>& ep, int64_t oh) {
  constexpr int L = S::kLanes;
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h;
  const float* zero_row = scratch + s.in_h * t.row_stride;
  const float* rows[R * kDwConvMaxKernel];
  for (int r = 0; r < R; ++r)
    for (int64_t kh = 0; kh < kernel_h; ++kh) {
      const int64_t ih = (oh + r) * s.stride_h - s.pad_top + kh * s.dilation_h;
      rows[r * kernel_h + kh] = ih >= 0 && ih < s.in_h ? scratch + ih * t.row_stride : zero_row;
    }
  float* y = p.y + oh * s.out_w;
  const float* res = p.residual ? p.residual + oh * s.out_w : nullptr;
  const int64_t last = s.out_h - oh - R;  // rows below the group
  const int64_t* tap_off = t.tap_off;
  const int64_t full = s.out_w / (2 * L) * (2 * L), left = s.out_w - full;
  if (left > L) {
    block<S, R, 2, KH, KW>(s, rows, tap_off, p.w, p.bias, res, y, full, left - L, last, ep);
  } else if (left > 0) {
    block<S, R, 1, KH, KW>(s, rows, tap_off, p.w, p.bias, res, y, full, left == L ? 0 : left, last, ep);
  }
  for (int64_t ow = full - 2 * L; ow >= 0; ow -= 2 * L)
    block<S, R, 2, KH, KW>(s, rows, tap_off, p.w, p.bias, res, y, ow, 0, last, ep);
}

// Groups of kRows output rows; the last group ends at the last row and may overlap the one before (recomputing a
// row gives the same values, and the residual is never y itself). Planes shorter than kRows take one group of
// all their rows.
template <typename S, int KH, int KW>
void planes(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  constexpr int kRows = 4;
  const Layout t(s);
  const Epilogue<S> ep(a.act);
  // Plane i's channel and input plane, stepped without divisions (they cost as much as a 7x7 plane's FMAs).
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w, taps = s.kernel_h * s.kernel_w;
  int64_t m = begin % a.channels, sub = m % a.channel_multiplier;
  DwConvPlane p = dwconv_plane(s, a, begin);
  for (int64_t i = begin; i < end; ++i) {
    if (i > begin) {
      p.y += out_plane;
      if (p.residual) p.residual += out_plane;
      if (++sub == a.channel_multiplier) sub = 0, p.x += in_plane;
      if (++m == a.channels) {
        m = 0, p.w = a.w;
      } else {
        p.w += taps;
      }
      p.bias = a.bias ? a.bias[m] : 0.0f;
    }
    for (int64_t ih = 0; ih < s.in_h; ++ih) split_row<S>(s, t, p.x + ih * s.in_w, scratch + ih * t.row_stride);
    switch (std::min<int64_t>(s.out_h, kRows)) {
      case 1: row_group<S, 1, KH, KW>(s, t, p, scratch, ep, 0); break;
      case 2: row_group<S, 2, KH, KW>(s, t, p, scratch, ep, 0); break;
      case 3: row_group<S, 3, KH, KW>(s, t, p, scratch, ep, 0); break;
      default:
        for (int64_t oh = 0; oh < s.out_h; oh += kRows)
          row_group<S, kRows, KH, KW>(s, t, p, scratch, ep, std::min(oh, s.out_h - kRows));
    }
    if (!ep.in_registers()) apply_activation_f32(a.act, p.y, p.y, s.out_h * s.out_w);
  }
}

/// Output planes [begin, end) of `a` (the DwConvFn of a tier).
template <typename S>
void run(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  if (s.kernel_h == 3 && s.kernel_w == 3) return planes<S, 3, 3>(s, a, begin, end, scratch);
  if (s.kernel_h == 5 && s.kernel_w == 5) return planes<S, 5, 5>(s, a, begin, end, scratch);
  planes<S, 0, 0>(s, a, begin, end, scratch);
}

}  // namespace kiln::kernels::dwconv_detail
