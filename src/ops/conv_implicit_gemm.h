#pragma once
// Convolution as an implicit GEMM: per image and group, Y_g [Mg, out positions] = W_g [Mg, Cg * kernel] times
// the column matrix [Cg * kernel, out positions] of input windows. The column matrix is never stored: the GEMM
// asks for it block by block while it packs B (kernels::GemmBSource), so only a cache-sized block of it exists.

#include <cstdint>

namespace kiln::ops {

/// One run's convolution sizes, with the spatial dims padded to three by leading 1s so 1-D, 2-D and 3-D share
/// one code path. Fixed arrays: resolving them allocates nothing.
struct ConvDims {
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dilation[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0}, pad_end[3] = {0, 0, 0};

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
  /// 1x1, stride 1, no padding: the input planes already are the column matrix.
  bool pointwise() const;
};

/// The column matrix of one image's group: x points at its first input channel. Built once per GEMM call, with
/// the output columns each kernel column reads inside its input row (the fill needs them for every row).
struct ConvColumns {
  /// phase_width > 0 (column stride 2 only): every input row of x holds its even columns, then from phase_width
  /// (= ceil(width / 2)) its odd ones (split_column_phases), so each tap reads a contiguous run of its row.
  ConvColumns(const float* x, const ConvDims& dims, int64_t phase_width = 0);
  static constexpr int64_t kTableWidth = 16;  ///< kernel columns tabulated; wider kernels compute theirs per row
  const float* x;
  const ConvDims* dims;
  int64_t phase_width = 0;
  int64_t lo[kTableWidth], hi[kTableWidth];
};

/// Writes `rows` rows of `width` floats from x to dst, each as its even columns followed by its odd ones (the
/// layout ConvColumns reads with phase_width = (width + 1) / 2). For column stride 2: the fill then copies runs
/// instead of gathering every other float, which took a third of a ResNet stride-2 3x3 layer's time.
void split_column_phases(const float* x, int64_t rows, int64_t width, float* dst);

/// kernels::GemmBSource::fill over a ConvColumns: rows k = c * kernel_size + kernel offset, columns = output
/// positions; padding reads as zero.
void fill_conv_columns(const void* columns, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld);

}  // namespace kiln::ops
