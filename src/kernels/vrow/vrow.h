#pragma once
// Vectorised float32 kernels that work along a row (a run of contiguous elements) or, for Softmax over a
// non-last axis, along a strided column of rows: Softmax / LogSoftmax, LayerNormalization, and the row sum
// behind ReduceSum / ReduceMean over trailing axes. Built on the vunary exp (vunary.h states its accuracy).
//
// Sums accumulate in float in 4 vector accumulators (4·lanes partial sums, then a tree), so the rounding error
// grows with about sqrt(n / (4·lanes)) rather than n: relative error ~1e-6 for rows of 10^4 ordinary values,
// where the references sum in double.

#include <cstdint>
#include <span>

#include "kernels/isa.h"

namespace kiln::kernels {

struct VRowKernels {
  const char* name;
  IsaTier tier;
  /// Softmax (log = false) or LogSoftmax (log = true) over each of `rows` rows of n contiguous elements.
  /// A row whose maximum is not finite (+inf, or all -inf, or NaN) takes the reference's scalar formula.
  void (*softmax_rows)(const float* x, float* y, int64_t rows, int64_t n, bool log);
  /// The same along the middle axis of an [n, inner] block: for each i < inner, the elements
  /// x[k * inner + i], k < n (vectorised across i).
  void (*softmax_cols)(const float* x, float* y, int64_t n, int64_t inner, bool log);
  /// LayerNormalization of `rows` rows of n: y = (x - mean) / sqrt(var + eps) * scale + bias (bias may be
  /// null); mean and variance over the row (two passes: the variance of the centred values).
  void (*layer_norm_rows)(const float* x, float* y, int64_t rows, int64_t n, const float* scale, const float* bias,
                          float eps);
  /// out[r] = scale * sum of row r (n elements).
  void (*sum_rows)(const float* x, float* out, int64_t rows, int64_t n, float scale);
  /// out[i] = scale * sum over k < n of x[k * inner + i], for i < inner: the sum along the middle axis of an
  /// [n, inner] block (ReduceMean over H and W of an NHWC tensor), vectorised across i.
  void (*sum_cols)(const float* x, float* out, int64_t n, int64_t inner, float scale);
};

#define KILN_VROW(name, tier) extern const VRowKernels name;
#include "kernels/vrow/vrow_list.h"
#undef KILN_VROW

std::span<const VRowKernels* const> vrow_kernels();
/// The best kernels at or below `tier`, or nullptr (kRef).
const VRowKernels* vrow_kernels_for(IsaTier tier);

}  // namespace kiln::kernels
