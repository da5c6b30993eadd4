#pragma once
// Fast float32 pooling over NCHW planes: MaxPool / AveragePool windows in 1-D and 2-D (a 1-D pool is a 2-D
// one with in_h = out_h = kernel_h = 1) and the global pools. One kernel set per ISA tier, listed in
// pool_list.h; written once over the SIMD wrappers (pool_impl.h).
//
// How the windowed kernels work: a window is separable, so for each output row the valid input rows are
// first folded column by column into a row buffer padded on both sides with the padding's neutral value (-inf
// for max, 0 for sums); every output is then a vector lane taking kernel_w taps of that buffer (stride 1 and 2
// by vector loads, larger strides by lane fills), the row's last vector overlapping its predecessor instead of
// a masked store. AveragePool multiplies by 1 / (rows counted) * 1 / (columns counted), the column factors
// from a table made once per call.
//
// Results against the reference kernel (src/ops/pool.cpp): MaxPool gives the same values, NaN included (the
// reference returns NaN when the first valid tap of a window is NaN and otherwise ignores NaNs: the kernels take
// a NaN-ignoring maximum and then max(result, first tap), which is NaN exactly when that tap is); only the sign
// of a zero may differ when +0 and -0 tie. Average sums in float where the reference sums in double, and
// multiplies by two reciprocals where it divides once: relative error within (kernel_size + 3) * 2^-24, a few
// ULP for the usual windows. GlobalMaxPool propagates any NaN, as the reference does.

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

namespace kiln::kernels {

/// The geometry of one windowed pool on one plane, as the reference resolves it (ops/window.h).
struct Pool2dShape {
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool count_include_pad = false;  ///< AveragePool: divide by the taps inside input + pads, not the valid ones
};

/// Computes output rows [row_begin, row_end) of one plane: x is in_h * in_w floats, y is out_h * out_w.
/// `scratch` holds pool2d_scratch_floats(shape) floats, private to the caller's thread.
using Pool2dFn = void (*)(const Pool2dShape& shape, const float* x, float* y, int64_t row_begin, int64_t row_end,
                          float* scratch);
/// Global pools: y[p] = reduce over x[p * size, (p + 1) * size) for p in [0, planes).
using GlobalPoolFn = void (*)(const float* x, float* y, int64_t planes, int64_t size);

/// Floats of scratch a Pool2dFn needs for `shape` (one input row and some slack).
size_t pool2d_scratch_floats(const Pool2dShape& shape);

#define KILN_POOL_KERNELS(suffix, tier)                                                                  \
  void maxpool2d_f32_##suffix(const Pool2dShape&, const float*, float*, int64_t, int64_t, float*);       \
  void avgpool2d_f32_##suffix(const Pool2dShape&, const float*, float*, int64_t, int64_t, float*);       \
  void global_maxpool_f32_##suffix(const float*, float*, int64_t, int64_t);                             \
  void global_avgpool_f32_##suffix(const float*, float*, int64_t, int64_t);
#include "kernels/pool/pool_list.h"
#undef KILN_POOL_KERNELS

/// One tier's kernel set.
struct PoolKernels {
  const char* name;  ///< "avx2", "avx512"
  IsaTier tier;
  Pool2dFn max2d;
  Pool2dFn avg2d;
  GlobalPoolFn global_max;
  GlobalPoolFn global_avg;
};

/// The best kernel set at or below `tier` that this CPU runs, or nullptr (kRef, or a CPU without AVX2).
const PoolKernels* pool_kernels(IsaTier tier);

}  // namespace kiln::kernels
