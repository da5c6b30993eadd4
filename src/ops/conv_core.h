#pragma once
// Convolution arithmetic shared by Conv, ConvTranspose, ConvInteger and QLinearConv, on plain arrays of one
// compute type (float, double or int32; callers convert float16/bfloat16 to float and subtract integer zero
// points first). Float goes through im2col + the reference GEMM; depthwise 2-D convolutions take a direct loop.

#include <cstdint>

#include "ops/window.h"

namespace kiln::ops {

/// One convolution's sizes. For ConvTranspose, `geo` describes the forward convolution that maps the
/// transposed output (geo.in) back to its input (geo.out): the same window arithmetic read backwards.
struct ConvProblem {
  int64_t batch = 0;
  int64_t in_channels = 0;   ///< channels of x
  int64_t out_channels = 0;  ///< channels of y
  int64_t group = 1;
  WindowGeometry geo;
};

/// y[N, M, out...] = conv(x[N, C, in...], w[M, C/group, kernel...]) + bias[M] (bias may be null).
template <typename T> void conv_forward(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y);

/// y[N, M, geo.in...] = conv_transpose(x[N, C, geo.out...], w[C, M/group, kernel...]) + bias[M] (may be null).
template <typename T> void conv_transpose_forward(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y);

/// The output positions o in [0, out_len) whose input coordinate o * stride + base lies in [0, in_len):
/// returns them as [*lo, *hi).
void valid_output_range(int64_t base, int64_t stride, int64_t in_len, int64_t out_len, int64_t* lo, int64_t* hi);

}  // namespace kiln::ops
