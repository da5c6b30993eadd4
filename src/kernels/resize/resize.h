#pragma once
// Fast float32 resampling of NCHW planes along their two last axes: bilinear (ONNX Resize mode "linear" on H
// and W) and nearest, from index/weight tables the caller builds once per shape (ops/resize_prepared.cpp builds
// them with the reference's coordinate rules). One kernel set per ISA tier (resize_list.h), written once over
// the SIMD wrappers (resize_impl.h).
//
// Bilinear is separable: each input row an output row needs is first interpolated along the width into a row
// buffer (gathers of the two source columns, vectorised along the output width); two such buffers are kept, so
// when upsampling each input row is interpolated once for all the output rows that read it; the output row is
// then wy0 * row(y0) + wy1 * row(y1). Nearest gathers one source row per output row and copies the previous
// output row when two output rows read the same source row.
//
// Accuracy against the reference (which interpolates in double): float32 weights and sums, a relative error of
// a few 2^-24 for inputs of one sign (|error| <= 4 * 2^-24 * max |input|, measured ~1e-7 on random data).
// Nearest is exact. One difference in kind: a row of weight 0 is skipped as in the reference, but a column of
// weight 0 is multiplied by 0, so an infinite input beside a sampled column gives NaN where the reference
// gives the infinity.

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

namespace kiln::kernels {

/// Tables for one output plane shape. Linear: output column ox reads input columns x0[ox] and x1[ox] with
/// weights wx0[ox] and wx1[ox]; output row oy reads rows y0[oy], y1[oy] with wy0[oy], wy1[oy]. Nearest uses x0
/// and y0 only. Indices are already clamped into the input. Output rows outside [row_begin, row_end) and
/// columns outside [col_begin, col_end) lie outside the input (tf_crop_and_resize) and are set to
/// `extrapolation`.
struct ResizeTables {
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  const int32_t* x0 = nullptr;
  const int32_t* x1 = nullptr;
  const float* wx0 = nullptr;
  const float* wx1 = nullptr;
  const int32_t* y0 = nullptr;
  const int32_t* y1 = nullptr;
  const float* wy0 = nullptr;
  const float* wy1 = nullptr;
  int64_t row_begin = 0, row_end = 0, col_begin = 0, col_end = 0;
  float extrapolation = 0;
  /// x0 and x1 are non-decreasing and x1[ox] >= x0[ox] (every mode but a tf_crop_and_resize roi that runs
  /// backwards): the kernels may then read a run of outputs' sources from one vector load.
  bool cols_sorted = false;
};

/// Computes output rows [row_begin, row_end) of one plane (x: in_h * in_w floats, y: out_h * out_w).
/// `scratch` holds resize_scratch_floats(t) floats private to the calling thread.
using ResizeFn = void (*)(const ResizeTables& t, const float* x, float* y, int64_t row_begin, int64_t row_end,
                          float* scratch);

/// Floats of scratch a ResizeFn needs (two interpolated rows).
size_t resize_scratch_floats(const ResizeTables& t);

#define KILN_RESIZE_KERNELS(suffix, tier)                                                             \
  void resize_linear_f32_##suffix(const ResizeTables&, const float*, float*, int64_t, int64_t, float*); \
  void resize_nearest_f32_##suffix(const ResizeTables&, const float*, float*, int64_t, int64_t, float*);
#include "kernels/resize/resize_list.h"
#undef KILN_RESIZE_KERNELS

/// One tier's kernel set.
struct ResizeKernels {
  const char* name;  ///< "avx2", "avx512"
  IsaTier tier;
  ResizeFn linear;
  ResizeFn nearest;
};

/// The best kernel set at or below `tier` that this CPU runs, or nullptr.
const ResizeKernels* resize_kernels(IsaTier tier);

}  // namespace kiln::kernels
