#pragma once
// The pooling kernels, written once over a SIMD wrapper S (simd_extra.h) and instantiated per tier in
// pool_avx2.cpp and pool_avx512.cpp. Include only from those files. See pool.h for the method and accuracy.

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/pool/pool.h"

namespace kiln::kernels::pool_impl {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// Output columns [lo, hi) whose whole window lies inside the input row (no padding tap).
struct Interior {
  int64_t lo = 0, hi = 0;
};

inline Interior interior_columns(const Pool2dShape& s) {
  const int64_t span = (s.kernel_w - 1) * s.dilation_w;
  Interior r;
  r.lo = std::min((s.pad_left + s.stride_w - 1) / s.stride_w, s.out_w);  // first ox with ox*sw - pad_left >= 0
  const int64_t last = s.in_w - 1 - span + s.pad_left;  // ox*sw must not pass this
  r.hi = last < 0 ? 0 : std::min(last / s.stride_w + 1, s.out_w);
  r.hi = std::max(r.hi, r.lo);
  return r;
}

/// The reference's rule for one output, read straight from the input: the first valid tap (row-major)
/// starts the maximum, later taps replace it only when greater (so NaN wins only as the first tap);
/// -inf when the window holds no valid tap.
inline float max_window(const Pool2dShape& s, const float* x, int64_t oy, int64_t ox) {
  bool any = false;
  float best = kNegInf;
  for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
    const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
    if (iy < 0 || iy >= s.in_h) continue;
    for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
      const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
      if (ix < 0 || ix >= s.in_w) continue;
      const float v = x[iy * s.in_w + ix];
      if (!any || v > best) best = v, any = true;
    }
  }
  return best;
}

/// One output of an average row from the column sums of its valid rows (`rows` valid, `padded_rows` inside
/// input + pads).
inline float average_window(const Pool2dShape& s, const float* colsum, int64_t ox, int64_t rows,
                            int64_t padded_rows) {
  float acc = 0;
  int64_t cols = 0, padded_cols = 0;
  for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
    const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
    if (ix < s.in_w + s.pad_right) ++padded_cols;
    if (ix < 0 || ix >= s.in_w) continue;
    acc += colsum[ix];
    ++cols;
  }
  const int64_t div = s.count_include_pad ? padded_rows * padded_cols : rows * cols;
  return div > 0 ? acc / static_cast<float>(div) : std::numeric_limits<float>::quiet_NaN();
}

/// kLanes values p[0], p[stride], ...: vector loads for strides 1 and 2, lane fills otherwise (kStride 0).
template <class S, int kStride> typename S::V load_taps(const float* p, int64_t stride) {
  if constexpr (kStride == 1) {
    return S::load(p);
  } else if constexpr (kStride == 2) {
    return S::load_even(p);
  } else {
    alignas(64) float t[S::kLanes];
    for (int j = 0; j < S::kLanes; ++j) t[j] = p[j * stride];
    return S::load(t);
  }
}

/// buf[i] = combine(buf[i], row[i]) over a row of n floats; `first` starts buf from the row instead.
template <class S, class Combine> void combine_row(float* buf, const float* row, int64_t n, Combine combine) {
  constexpr int L = S::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) S::store(buf + i, combine(S::load(row + i), S::load(buf + i)));
  if (i < n) S::store_partial(buf + i, combine(S::load_partial(row + i, n - i), S::load_partial(buf + i, n - i)), n - i);
}

template <class S, int kStride>
void maxpool_rows(const Pool2dShape& s, const float* x, float* y, int64_t row_begin, int64_t row_end, float* buf) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const Interior in = interior_columns(s);
  for (int64_t oy = row_begin; oy < row_end; ++oy) {
    float* yrow = y + oy * s.out_w;
    // Vertical pass: a NaN-ignoring maximum of the valid rows, column by column.
    const float* first_row = nullptr;
    for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
      const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
      if (iy < 0 || iy >= s.in_h) continue;
      const float* row = x + iy * s.in_w;
      if (!first_row) {
        first_row = row;
        const V neg_inf = S::set1(kNegInf);
        combine_row<S>(buf, row, s.in_w, [&](V r, V) { return S::max(r, neg_inf); });
      } else {
        combine_row<S>(buf, row, s.in_w, [](V r, V b) { return S::max(r, b); });
      }
    }
    if (!first_row) {  // the window lies in the top or bottom padding
      std::fill(yrow, yrow + s.out_w, kNegInf);
      continue;
    }
    int64_t ox = 0;
    for (; ox < in.lo; ++ox) yrow[ox] = max_window(s, x, oy, ox);
    for (; ox + L <= in.hi; ox += L) {
      const float* b = buf + (ox * s.stride_w - s.pad_left);
      V acc = S::set1(kNegInf);
      for (int64_t kx = 0; kx < s.kernel_w; ++kx) acc = S::max(load_taps<S, kStride>(b + kx * s.dilation_w, s.stride_w), acc);
      // NaN exactly when the first tap is (see pool.h).
      const V first = load_taps<S, kStride>(first_row + (ox * s.stride_w - s.pad_left), s.stride_w);
      S::store(yrow + ox, S::max(acc, first));
    }
    for (; ox < s.out_w; ++ox) yrow[ox] = max_window(s, x, oy, ox);
  }
}

template <class S, int kStride>
void avgpool_rows(const Pool2dShape& s, const float* x, float* y, int64_t row_begin, int64_t row_end, float* buf) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const Interior in = interior_columns(s);
  for (int64_t oy = row_begin; oy < row_end; ++oy) {
    float* yrow = y + oy * s.out_w;
    int64_t rows = 0, padded_rows = 0;
    for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
      const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
      if (iy < s.in_h + s.pad_bottom) ++padded_rows;
      if (iy < 0 || iy >= s.in_h) continue;
      const float* row = x + iy * s.in_w;
      if (rows++ == 0) combine_row<S>(buf, row, s.in_w, [](V r, V) { return r; });
      else combine_row<S>(buf, row, s.in_w, [](V r, V b) { return S::add(r, b); });
    }
    if (rows == 0) {  // only padding: 0 / padded count, or 0 / 0 without count_include_pad
      std::fill(yrow, yrow + s.out_w, s.count_include_pad ? 0.0f : std::numeric_limits<float>::quiet_NaN());
      continue;
    }
    const V inv = S::set1(1.0f / static_cast<float>((s.count_include_pad ? padded_rows : rows) * s.kernel_w));
    int64_t ox = 0;
    for (; ox < in.lo; ++ox) yrow[ox] = average_window(s, buf, ox, rows, padded_rows);
    for (; ox + L <= in.hi; ox += L) {
      const float* b = buf + (ox * s.stride_w - s.pad_left);
      V acc = load_taps<S, kStride>(b, s.stride_w);
      for (int64_t kx = 1; kx < s.kernel_w; ++kx) acc = S::add(acc, load_taps<S, kStride>(b + kx * s.dilation_w, s.stride_w));
      S::store(yrow + ox, S::mul(acc, inv));
    }
    for (; ox < s.out_w; ++ox) yrow[ox] = average_window(s, buf, ox, rows, padded_rows);
  }
}

template <class S>
void maxpool2d(const Pool2dShape& s, const float* x, float* y, int64_t row_begin, int64_t row_end, float* buf) {
  if (s.stride_w == 1) maxpool_rows<S, 1>(s, x, y, row_begin, row_end, buf);
  else if (s.stride_w == 2) maxpool_rows<S, 2>(s, x, y, row_begin, row_end, buf);
  else maxpool_rows<S, 0>(s, x, y, row_begin, row_end, buf);
}

template <class S>
void avgpool2d(const Pool2dShape& s, const float* x, float* y, int64_t row_begin, int64_t row_end, float* buf) {
  if (s.stride_w == 1) avgpool_rows<S, 1>(s, x, y, row_begin, row_end, buf);
  else if (s.stride_w == 2) avgpool_rows<S, 2>(s, x, y, row_begin, row_end, buf);
  else avgpool_rows<S, 0>(s, x, y, row_begin, row_end, buf);
}

/// Maximum of each plane; any NaN makes the result NaN (the reference's rule); -inf for empty planes.
template <class S> void global_maxpool(const float* x, float* y, int64_t planes, int64_t size) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * size;
    V a0 = S::set1(kNegInf), a1 = a0, nan0 = S::zero(), nan1 = nan0;
    int64_t i = 0;
    for (; i + 2 * L <= size; i += 2 * L) {
      const V v0 = S::load(xp + i), v1 = S::load(xp + i + L);
      a0 = S::max(v0, a0), a1 = S::max(v1, a1);
      nan0 = S::select_nan(nan0, v0), nan1 = S::select_nan(nan1, v1);
    }
    float best = S::reduce_max(S::max(a0, a1));
    bool nan = std::isnan(S::reduce_add(S::add(nan0, nan1)));
    for (; i < size; ++i) {
      nan = nan || std::isnan(xp[i]);
      best = xp[i] > best ? xp[i] : best;
    }
    y[p] = nan ? std::numeric_limits<float>::quiet_NaN() : best;
  }
}

/// Mean of each plane (NaN for empty planes, as 0 / 0).
template <class S> void global_avgpool(const float* x, float* y, int64_t planes, int64_t size) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * size;
    V a0 = S::zero(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 4 * L <= size; i += 4 * L) {
      a0 = S::add(a0, S::load(xp + i));
      a1 = S::add(a1, S::load(xp + i + L));
      a2 = S::add(a2, S::load(xp + i + 2 * L));
      a3 = S::add(a3, S::load(xp + i + 3 * L));
    }
    for (; i + L <= size; i += L) a0 = S::add(a0, S::load(xp + i));
    if (i < size) a1 = S::add(a1, S::load_partial(xp + i, size - i));
    const float sum = S::reduce_add(S::add(S::add(a0, a1), S::add(a2, a3)));
    y[p] = size > 0 ? sum / static_cast<float>(size) : std::numeric_limits<float>::quiet_NaN();
  }
}

}  // namespace kiln::kernels::pool_impl

/// Defines the tier's kernel set (pool_list.h names) over wrapper S; used once in each ISA file.
#define KILN_DEFINE_POOL_KERNELS(suffix, S)                                                                       \
  void maxpool2d_f32_##suffix(const Pool2dShape& s, const float* x, float* y, int64_t r0, int64_t r1, float* b) { \
    pool_impl::maxpool2d<S>(s, x, y, r0, r1, b);                                                                  \
  }                                                                                                               \
  void avgpool2d_f32_##suffix(const Pool2dShape& s, const float* x, float* y, int64_t r0, int64_t r1, float* b) { \
    pool_impl::avgpool2d<S>(s, x, y, r0, r1, b);                                                                  \
  }                                                                                                               \
  void global_maxpool_f32_##suffix(const float* x, float* y, int64_t planes, int64_t size) {                      \
    pool_impl::global_maxpool<S>(x, y, planes, size);                                                             \
  }                                                                                                               \
  void global_avgpool_f32_##suffix(const float* x, float* y, int64_t planes, int64_t size) {                      \
    pool_impl::global_avgpool<S>(x, y, planes, size);                                                             \
  }
