#pragma once
// 2-D convolution of an input with few channels (an RGB stem: 3 -> 16..64 channels, 3x3 or 7x7 stride 2) on
// NCHW tensors: output pixels in the vector lanes, a few output channels at a time, each tap's weight broadcast
// (see stemconv_impl.h). dwconv's general kernel does the same for any group but re-splits the group's whole input
// for every block of 4 output channels and reads its taps in runtime loops; here an item keeps the split input
// rows of a band of output rows for every channel, and the stems of the model suite are compiled whole. Bias and
// activation are fused.
//
// Same arguments as dwconv (DwConvShape, DwConvArgs); one group of at most kStemConvMaxIn input channels, no
// residual (stemconv_supports). Work items are (image, band of output rows); an output's value does not depend
// on how items are split.

#include <cstddef>
#include <cstdint>

#include "kernels/dwconv/dwconv.h"

namespace kiln::kernels {

/// Most input channels the kernels take.
inline constexpr int64_t kStemConvMaxIn = 4;
/// Most outputs of a row one block of accumulators covers (2 vectors of the widest tier).
inline constexpr int64_t kStemConvMaxVector = 32;

/// Output rows of one work item.
int64_t stemconv_band_rows(const DwConvShape& s);

/// Whether the kernels take `a`: one group, 1..kStemConvMaxIn input channels, no residual, a window of at most
/// kDwConvMaxKernel rows and columns spanning at most 64 input rows.
bool stemconv_supports(const DwConvShape& s, const DwConvArgs& a);

/// Work items of `a`: images x row bands.
int64_t stemconv_items(const DwConvShape& s, const DwConvArgs& a);

/// Floats of scratch one kernel call needs: per input channel a ring of split input rows, a zero row and a padded
/// row. Nothing in it is kept between calls.
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
