#pragma once
// 2-D convolution of an input with few channels (an RGB stem: 3 -> 16..64 channels, 3x3 stride 2) on NCHW
// tensors, with output channels in the vector lanes. dwconv's kernel for these vectorises along the output width
// and, at stride 2, first splits every row into even and odd columns; here each tap is one broadcast input value
// times a vector of 16 output channels' weights, T pixels at a time (T x 16 accumulators), and each output row
// is transposed back into the planes (kernels/dwchan/pixel_tiles.h). Bias and activation are fused.
//
// Same arguments as dwconv (DwConvShape, DwConvArgs); one group of at most kStemConvMaxIn input channels, no
// residual (stemconv_supports). Work items are (image, block of kStemConvBlock output channels, band of output
// rows); an output's value does not depend on how items are split.

#include <cstddef>
#include <cstdint>

#include "kernels/dwconv/dwconv.h"

namespace kiln::kernels {

/// Output channels one work item covers (two AVX2 vectors, one AVX-512 vector).
inline constexpr int64_t kStemConvBlock = 16;
/// Most input channels the kernels take.
inline constexpr int64_t kStemConvMaxIn = 4;

/// Whether the kernels take `a`: one group, 1..kStemConvMaxIn input channels, no residual, a window of at most
/// kDwConvMaxKernel rows and columns spanning at most 64 input rows.
bool stemconv_supports(const DwConvShape& s, const DwConvArgs& a);

/// Work items of `a`: images x output channel blocks x row bands.
int64_t stemconv_items(const DwConvShape& s, const DwConvArgs& a);

/// Floats of scratch one kernel call needs: per input channel a ring of zero-padded input rows and a zero row, an
/// output pixel row, the packed filters and bias. Nothing in it is kept between calls.
size_t stemconv_scratch_floats(const DwConvShape& s, const DwConvArgs& a);

/// A kernel of one ISA tier: work items [begin, end) of `a` (stemconv_supports must hold).
using StemConvFn = void (*)(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch);

/// The kernel for `tier`, or null when none is compiled for it (dwconv_f32_ref is the oracle).
StemConvFn stemconv_kernel(IsaTier tier);
/// The AVX-512 kernel's 16-lane logic run on AVX2 instructions (tests only: it checks that logic on a CPU without
/// AVX-512; needs AVX2).
void stemconv_f32_avx512_logic(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end,
                               float* scratch);
/// Name of the kernel stemconv_f32 uses at the active tier ("stemconv_f32_avx2"), or null below AVX2.
const char* stemconv_kernel_name();

/// Runs `a` at the active tier on `pool`; false (nothing done) when no kernel fits the tier or the arguments.
bool stemconv_f32(const DwConvShape& s, const DwConvArgs& a, ThreadPool* pool);

}  // namespace kiln::kernels
