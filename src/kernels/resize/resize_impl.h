#pragma once
// The resize kernels, written once over a SIMD wrapper S (simd_extra.h) and instantiated per tier in
// resize_avx2.cpp and resize_avx512.cpp. Include only from those files. See resize.h for the method.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/resize/resize.h"

namespace kiln::kernels::resize_impl {

/// h[ox] = wx0[ox] * row[x0[ox]] + wx1[ox] * row[x1[ox]] over the output width.
template <class S> void interpolate_row(const ResizeTables& t, const float* row, float* h) {
  constexpr int L = S::kLanes;
  int64_t ox = 0;
  for (; ox + L <= t.out_w; ox += L) {
    const auto a = S::gather(row, t.x0 + ox), b = S::gather(row, t.x1 + ox);
    S::store(h + ox, S::fmadd(S::load(t.wx1 + ox), b, S::mul(S::load(t.wx0 + ox), a)));
  }
  for (; ox < t.out_w; ++ox) h[ox] = std::fma(t.wx1[ox], row[t.x1[ox]], t.wx0[ox] * row[t.x0[ox]]);
}

/// out = w0 * a + w1 * b over n floats.
template <class S> void blend_rows(const float* a, const float* b, float w0, float w1, float* out, int64_t n) {
  constexpr int L = S::kLanes;
  const auto v0 = S::set1(w0), v1 = S::set1(w1);
  int64_t i = 0;
  for (; i + L <= n; i += L) S::store(out + i, S::fmadd(v1, S::load(b + i), S::mul(v0, S::load(a + i))));
  if (i < n) S::store_partial(out + i, S::fmadd(v1, S::load_partial(b + i, n - i), S::mul(v0, S::load_partial(a + i, n - i))), n - i);
}

/// out = w * a over n floats (a copy when w is 1).
template <class S> void scale_row(const float* a, float w, float* out, int64_t n) {
  if (w == 1.0f) {
    std::memcpy(out, a, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  constexpr int L = S::kLanes;
  const auto v = S::set1(w);
  int64_t i = 0;
  for (; i + L <= n; i += L) S::store(out + i, S::mul(v, S::load(a + i)));
  if (i < n) S::store_partial(out + i, S::mul(v, S::load_partial(a + i, n - i)), n - i);
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
  constexpr int L = S::kLanes;
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
    int64_t ox = 0;
    for (; ox + L <= t.out_w; ox += L) S::store(yrow + ox, S::gather(src, t.x0 + ox));
    for (; ox < t.out_w; ++ox) yrow[ox] = src[t.x0[ox]];
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
