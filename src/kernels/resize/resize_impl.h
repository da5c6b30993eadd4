#pragma once
// The resize kernels, written once over a SIMD wrapper S (simd_extra.h) and instantiated per tier in
// resize_avx2.cpp and resize_avx512.cpp. Include only from those files. See resize.h for the method.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/resize/resize.h"
#include "kernels/simd/vector_loops.h"

namespace kiln::kernels::resize_impl {

/// When the source indices of kLanes outputs, from `first` up to `last` (the tables are non-decreasing, see
/// ResizeTables::cols_sorted), lie in one vector's span of the row: the first index of a whole-vector load
/// holding them all (clamped so the load stays inside the row); else -1. This is the case when upsampling and
/// for mild downsampling: a permute of one load then replaces a gather (several times faster on Zen 2).
template <class S> int64_t window_base(const ResizeTables& t, int64_t first, int64_t last) {
  constexpr int L = S::kLanes;
  const int64_t in_w = t.in_w;
  if (!t.cols_sorted || in_w < L || last - first >= L) return -1;
  const int64_t base = std::min<int64_t>(first, in_w - L);
  return last - base < L ? base : -1;
}

/// h[ox] = wx0[ox] * row[x0[ox]] + wx1[ox] * row[x1[ox]] over the output width.
template <class S> void interpolate_row(const ResizeTables& t, const float* row, float* h) {
  constexpr int L = S::kLanes;
  if (t.out_w < L) {
    for (int64_t ox = 0; ox < t.out_w; ++ox) h[ox] = std::fma(t.wx1[ox], row[t.x1[ox]], t.wx0[ox] * row[t.x0[ox]]);
    return;
  }
  simd::for_each_vector<S>(t.out_w, h, [&](int64_t ox) {
    typename S::V a, b;
    // x1 >= x0 lane by lane, so the span of both ends at x1's last lane.
    if (const int64_t base = window_base<S>(t, t.x0[ox], t.x1[ox + L - 1]); base >= 0) {
      const auto v = S::load(row + base);
      const auto k = static_cast<int32_t>(base);
      a = S::permute(v, S::sub_index(S::load_index(t.x0 + ox), k));
      b = S::permute(v, S::sub_index(S::load_index(t.x1 + ox), k));
    } else {
      a = S::gather(row, t.x0 + ox), b = S::gather(row, t.x1 + ox);
    }
    return S::fmadd(S::load(t.wx1 + ox), b, S::mul(S::load(t.wx0 + ox), a));
  });
}

/// out = w0 * a + w1 * b over n floats (a compute(i) may be partly redone: it reads only a and b).
template <class S> void blend_rows(const float* a, const float* b, float w0, float w1, float* out, int64_t n) {
  const auto v0 = S::set1(w0), v1 = S::set1(w1);
  if (n < S::kLanes) {
    for (int64_t i = 0; i < n; ++i) out[i] = std::fma(w1, b[i], w0 * a[i]);
    return;
  }
  simd::for_each_vector<S>(n, out, [&](int64_t i) { return S::fmadd(v1, S::load(b + i), S::mul(v0, S::load(a + i))); });
}

/// out = w * a over n floats (a copy when w is 1).
template <class S> void scale_row(const float* a, float w, float* out, int64_t n) {
  if (w == 1.0f) {
    std::memcpy(out, a, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  if (n < S::kLanes) {
    for (int64_t i = 0; i < n; ++i) out[i] = w * a[i];
    return;
  }
  const auto v = S::set1(w);
  simd::for_each_vector<S>(n, out, [&](int64_t i) { return S::mul(v, S::load(a + i)); });
}

/// Columns outside the input (tf_crop_and_resize) take the extrapolation value.
inline void fill_outside_columns(const ResizeTables& t, float* yrow) {
  std::fill(yrow, yrow + t.col_begin, t.extrapolation);
  std::fill(yrow + t.col_end, yrow + t.out_w, t.extrapolation);
}

inline bool row_outside(const ResizeTables& t, int64_t oy) { return oy < t.row_begin || oy >= t.row_end; }

template <class S>
void resize_linear(const ResizeTables& t, const float* x, float* y, int64_t row_begin, int64_t row_end, float* scratch) {
  // Two width-interpolated input rows, reused while consecutive output rows read them.
  const int64_t stride = (t.out_w + 15) / 16 * 16;
  float* slot[2] = {scratch, scratch + stride};
  int64_t tag[2] = {-1, -1};
  int recent = 0;
  auto row = [&](int64_t iy, int64_t keep) -> const float* {
    for (int s = 0; s < 2; ++s)
      if (tag[s] == iy) return slot[recent = s];
    const int victim = tag[0] == keep ? 1 : tag[1] == keep ? 0 : 1 - recent;
    interpolate_row<S>(t, x + iy * t.in_w, slot[victim]);
    tag[victim] = iy;
    return slot[recent = victim];
  };
  for (int64_t oy = row_begin; oy < row_end; ++oy) {
    float* yrow = y + oy * t.out_w;
    if (row_outside(t, oy)) {
      std::fill(yrow, yrow + t.out_w, t.extrapolation);
      continue;
    }
    const int64_t a = t.y0[oy], b = t.y1[oy];
    const float wa = t.wy0[oy], wb = t.wy1[oy];
    // A row of weight 0 is not read (as in the reference, which skips zero-weight taps).
    if (a == b) scale_row<S>(row(a, -1), wa + wb, yrow, t.out_w);
    else if (wb == 0) scale_row<S>(row(a, -1), wa, yrow, t.out_w);
    else if (wa == 0) scale_row<S>(row(b, -1), wb, yrow, t.out_w);
    else {
      const float* ha = row(a, b);
      const float* hb = row(b, a);
      blend_rows<S>(ha, hb, wa, wb, yrow, t.out_w);
    }
    fill_outside_columns(t, yrow);
  }
}

template <class S>
void resize_nearest(const ResizeTables& t, const float* x, float* y, int64_t row_begin, int64_t row_end, float*) {
  for (int64_t oy = row_begin; oy < row_end; ++oy) {
    float* yrow = y + oy * t.out_w;
    if (row_outside(t, oy)) {
      std::fill(yrow, yrow + t.out_w, t.extrapolation);
      continue;
    }
    const int64_t iy = t.y0[oy];
    if (oy > row_begin && !row_outside(t, oy - 1) && t.y0[oy - 1] == iy) {  // same source row as the last one
      std::memcpy(yrow, yrow - t.out_w, static_cast<size_t>(t.out_w) * sizeof(float));
      continue;
    }
    const float* src = x + iy * t.in_w;
    if (t.out_w < S::kLanes) {
      for (int64_t ox = 0; ox < t.out_w; ++ox) yrow[ox] = src[t.x0[ox]];
    } else {
      simd::for_each_vector<S>(t.out_w, yrow, [&](int64_t ox) {
        if (const int64_t base = window_base<S>(t, t.x0[ox], t.x0[ox + S::kLanes - 1]); base >= 0)
          return S::permute(S::load(src + base), S::sub_index(S::load_index(t.x0 + ox), static_cast<int32_t>(base)));
        return S::gather(src, t.x0 + ox);
      });
    }
    fill_outside_columns(t, yrow);
  }
}

}  // namespace kiln::kernels::resize_impl

/// Defines the tier's kernel set (resize_list.h names) over wrapper S; used once in each ISA file.
#define KILN_DEFINE_RESIZE_KERNELS(suffix, S)                                                                \
  void resize_linear_f32_##suffix(const ResizeTables& t, const float* x, float* y, int64_t r0, int64_t r1, \
                                  float* scratch) {                                                        \
    resize_impl::resize_linear<S>(t, x, y, r0, r1, scratch);                                               \
  }                                                                                                        \
  void resize_nearest_f32_##suffix(const ResizeTables& t, const float* x, float* y, int64_t r0, int64_t r1, \
                                   float* scratch) {                                                       \
    resize_impl::resize_nearest<S>(t, x, y, r0, r1, scratch);                                              \
  }
