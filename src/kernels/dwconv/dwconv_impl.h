#pragma once
// The depthwise kernel, written once over a SIMD wrapper (kernels/simd/simd.h, simd_interleave.h) and instantiated
// per tier in dwconv_avx2.cpp and dwconv_avx512.cpp. Include only from those files (it needs the tier's compile flags).
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
#include "kernels/simd/register_activation.h"
#include "kernels/simd/simd_interleave.h"

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
// and odd columns by simd::Interleave (the compiler leaves this gather scalar). Input column c goes to
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
    simd::Interleave<S>::deinterleave(src + 2 * i, &e, &o);
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

template <typename S> using Epilogue = simd::RegisterActivation<S>;

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

// One output channel's plane, as the depthwise row groups see it.
struct Plane {
  const float* w;         // [kernel_h, kernel_w]
  float bias;
  const float* residual;  // [out_h, out_w], or null
  float* y;               // [out_h, out_w]
};

// Output rows [oh, oh + R) of a plane, all columns, right to left (see block's stores); `scratch` holds the plane's
// one input channel.
template <typename S, int R, int KH, int KW>
[[gnu::always_inline]] inline void row_group(const DwConvShape& s, const Layout& t, const Plane& p,
                                             const float* scratch, const Epilogue<S>& ep, int64_t oh) {
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

// A depthwise plane: groups of kRows output rows; the last group ends at the last row and may overlap the one
// before (recomputing a row gives the same values, and the residual is never y itself). Planes shorter than
// kRows take one group of all their rows.
template <typename S, int KH, int KW>
void depthwise_plane(const DwConvShape& s, const Layout& t, const Plane& p, const float* scratch,
                     const Epilogue<S>& ep) {
  constexpr int kRows = 4;
  switch (std::min<int64_t>(s.out_h, kRows)) {
    case 1: return row_group<S, 1, KH, KW>(s, t, p, scratch, ep, 0);
    case 2: return row_group<S, 2, KH, KW>(s, t, p, scratch, ep, 0);
    case 3: return row_group<S, 3, KH, KW>(s, t, p, scratch, ep, 0);
    default:
      for (int64_t oh = 0; oh < s.out_h; oh += kRows)
        row_group<S, kRows, KH, KW>(s, t, p, scratch, ep, std::min(oh, s.out_h - kRows));
  }
}

// MB output channels of one group (filters, bias, residual and output planes), computed together so that every
// input vector loaded serves MB channels.
struct Channels {
  const float* w;  // MB filters, w_stride apart, each [group_in][kernel_h][kernel_w]
  int64_t w_stride;
  const float* bias;      // MB values, or null
  const float* residual;  // MB planes like y, or null
  float* y;               // MB planes, `plane` floats apart
  int64_t plane;
};

// MB channels x B vectors of output row oh from column ow (the last vector holds `tail` outputs when tail > 0; the
// tail stores as in block). rows[r] is the scratch row of filter row r = input channel * kernel_h + kh.
template <typename S, int MB, int B, int KW>
inline void block_multi(const DwConvShape& s, const float* const* rows, int64_t filter_rows, const int64_t* tap_off,
                        const Channels& c, int64_t oh, int64_t ow, int64_t tail, const Epilogue<S>& ep) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const int64_t kernel_w = KW > 0 ? KW : s.kernel_w;
  V acc[MB][B];
  for (int m = 0; m < MB; ++m)
    for (int b = 0; b < B; ++b) acc[m][b] = S::set1(c.bias ? c.bias[m] : 0.0f);
  for (int64_t r = 0; r < filter_rows; ++r) {
    const float* wr = c.w + r * kernel_w;
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      const float* src = rows[r] + tap_off[kw] + ow;
      V xv[B];
      for (int b = 0; b < B; ++b) xv[b] = S::load(src + b * L);
      for (int m = 0; m < MB; ++m) {
        const V wv = S::set1(wr[m * c.w_stride + kw]);
        for (int b = 0; b < B; ++b) acc[m][b] = S::fmadd(wv, xv[b], acc[m][b]);
      }
    }
  }
  const bool full_tail = (s.out_h - 1 - oh) * s.out_w >= L - tail;  // rows below, in the plane: see block
  for (int m = 0; m < MB; ++m) {
    float* y = c.y + m * c.plane + oh * s.out_w + ow;
    const float* res = c.residual ? c.residual + m * c.plane + oh * s.out_w + ow : nullptr;
    for (int b = 0; b < B; ++b) {
      if (b < B - 1 || !tail || full_tail) {
        if (res) acc[m][b] = S::add(acc[m][b], S::load(res + b * L));
        S::store(y + b * L, ep.apply(acc[m][b]));
      } else {
        if (res) acc[m][b] = S::add(acc[m][b], S::load_partial(res + b * L, tail));
        store_tail<S>(y + b * L, ep.apply(acc[m][b]), tail);
      }
    }
  }
}

// Output row oh of MB channels, columns right to left in blocks of 3 vectors (MB * 3 accumulators). rows[r] is the
// scratch row of filter row r (input channel * kernel_h + kh).
template <typename S, int MB, int KW>
void multi_row(const DwConvShape& s, const Layout& t, const Channels& c, const float* const* rows,
               int64_t filter_rows, const Epilogue<S>& ep, int64_t oh) {
  constexpr int L = S::kLanes, B = 3;
  const int64_t full = s.out_w / (B * L) * (B * L), left = s.out_w - full;
  if (left > 2 * L) {
    block_multi<S, MB, 3, KW>(s, rows, filter_rows, t.tap_off, c, oh, full, left - 2 * L, ep);
  } else if (left > L) {
    block_multi<S, MB, 2, KW>(s, rows, filter_rows, t.tap_off, c, oh, full, left - L, ep);
  } else if (left > 0) {
    block_multi<S, MB, 1, KW>(s, rows, filter_rows, t.tap_off, c, oh, full, left == L ? 0 : left, ep);
  }
  for (int64_t ow = full - B * L; ow >= 0; ow -= B * L)
    block_multi<S, MB, B, KW>(s, rows, filter_rows, t.tap_off, c, oh, ow, 0, ep);
}

// Items [begin, end) of one (image n, group g), whose input channels' scratch planes are split_floats apart:
// row by row, all the items' channel blocks per row, so the rows a row reads stay in L1 across the blocks.
template <typename S, int KH, int KW>
void multi_items(const DwConvShape& s, const DwConvArgs& a, const Layout& t, int64_t begin, int64_t end, int64_t n,
                 int64_t g, int64_t split_floats, const float* scratch, const Epilogue<S>& ep) {
  const int64_t cg = a.group_in(), mg = a.group_out(), mb = a.block(), blocks = (mg + mb - 1) / mb;
  const int64_t kernel_h = KH > 0 ? KH : s.kernel_h, filter_rows = cg * kernel_h, out_plane = s.out_h * s.out_w;
  const int64_t taps = s.kernel_h * s.kernel_w;
  const float* rows[kDwConvMaxGroupIn * kDwConvMaxKernel];
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    for (int64_t ci = 0; ci < cg; ++ci) {
      const float* plane = scratch + ci * split_floats;
      for (int64_t kh = 0; kh < kernel_h; ++kh) {
        const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
        rows[ci * kernel_h + kh] = plane + (ih >= 0 && ih < s.in_h ? ih : s.in_h) * t.row_stride;  // in_h: zero row
      }
    }
    for (int64_t item = begin; item < end; ++item) {
      const int64_t m0 = g * mg + item % blocks * mb, count = std::min(mb, (g + 1) * mg - m0);
      const int64_t first = (n * a.channels + m0) * out_plane;
      const Channels c{a.w + m0 * cg * taps, cg * taps, a.bias ? a.bias + m0 : nullptr,
                       a.residual ? a.residual + first : nullptr, a.y + first, out_plane};
      switch (count) {
        case 1: multi_row<S, 1, KW>(s, t, c, rows, filter_rows, ep, oh); break;
        case 2: multi_row<S, 2, KW>(s, t, c, rows, filter_rows, ep, oh); break;
        case 3: multi_row<S, 3, KW>(s, t, c, rows, filter_rows, ep, oh); break;
        default: multi_row<S, 4, KW>(s, t, c, rows, filter_rows, ep, oh);
      }
    }
  }
}

// Work items [begin, end), taken in runs of one (image, group): the group's input planes are split into scratch
// once, then its output channels are computed, one plane at a time (depthwise) or row by row, MB at a time.
template <typename S, int KH, int KW>
void items(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  const Layout t(s);
  const Epilogue<S> ep(a.act);
  const int64_t cg = a.group_in(), mg = a.group_out(), mb = a.block(), blocks = (mg + mb - 1) / mb;
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w, taps = s.kernel_h * s.kernel_w;
  const int64_t split_floats = (s.in_h + 1) * t.row_stride;  // one input channel's scratch, zero row included
  for (int64_t run = begin; run < end;) {
    const int64_t ng = run / blocks, n = ng / a.groups, g = ng % a.groups;
    const int64_t run_end = std::min(end, (ng + 1) * blocks);
    for (int64_t c = 0; c < cg; ++c) {
      const float* x = a.x + (n * a.in_channels + g * cg + c) * in_plane;
      for (int64_t ih = 0; ih < s.in_h; ++ih)
        split_row<S>(s, t, x + ih * s.in_w, scratch + c * split_floats + ih * t.row_stride);
    }
    const int64_t m0 = g * mg + run % blocks * mb;
    if (cg == 1 && mb == 1) {
      const int64_t first = (n * a.channels + m0) * out_plane;
      const float* res = a.residual ? a.residual + first : nullptr;
      depthwise_plane<S, KH, KW>(s, t, {a.w + m0 * taps, a.bias ? a.bias[m0] : 0.0f, res, a.y + first}, scratch, ep);
    } else {
      multi_items<S, KH, KW>(s, a, t, run, run_end, n, g, split_floats, scratch, ep);
    }
    if (!ep.in_registers()) {  // the run's output channels, contiguous planes
      const int64_t m1 = std::min((g + 1) * mg, g * mg + (run_end - 1) % blocks * mb + mb);
      float* y = a.y + (n * a.channels + m0) * out_plane;
      apply_activation_f32(a.act, y, y, (m1 - m0) * out_plane);
    }
    run = run_end;
  }
}

/// Work items [begin, end) of `a` (the DwConvFn of a tier).
template <typename S>
void run(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  if (s.kernel_h == 3 && s.kernel_w == 3) return items<S, 3, 3>(s, a, begin, end, scratch);
  if (s.kernel_h == 5 && s.kernel_w == 5) return items<S, 5, 5>(s, a, begin, end, scratch);
  items<S, 0, 0>(s, a, begin, end, scratch);
}

}  // namespace kiln::kernels::dwconv_detail
