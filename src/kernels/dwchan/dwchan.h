#pragma once
// Depthwise 2-D convolution with channels in the vector lanes (MobileNet/EfficientNet's 3x3 and 5x5, stride 1 or 2),
// on NCHW tensors. The NCHW kernel of kernels/dwconv vectorises along the output width, which wastes lanes and
// pays per-row and per-plane overhead on the 7x7 and 14x14 planes of a mobile net's later layers and on stride 2
// (measured on Zen 2: 2 to 13 GFLOP/s there). Here a block of channels is transposed, a few input rows at a time,
// into a scratch where each pixel holds its channels side by side (what ONNX Runtime's NCHWc layout keeps across
// layers): every tap of a vector of channels is then one load and one FMA with no edge case, whatever the plane's
// width or stride, and the output rows are transposed back into the planes. Bias and the activation are fused.
//
// Same arguments as dwconv (DwConvShape, DwConvArgs); only depthwise convolutions (one input and one output
// channel per group) without a residual (dwchan_supports). Work items are (image, band of output rows, block of
// kDwChanBlock channels), numbered in that order: a thread's range of items (thread_pool.h) is then a band of rows
// of every plane, the rows the GEMM of the 1x1 convolutions around it gives the same thread (its items are column
// ranges). An output's value does not depend on how items are split.

#include <cstddef>
#include <cstdint>

#include "kernels/dwconv/dwconv.h"

namespace kiln::kernels {

/// Channels one work item covers: the widest tier's lanes (AVX2 does them as two 8-lane halves).
inline constexpr int64_t kDwChanBlock = 16;

/// Most input rows one output row's window spans ((kernel_h - 1) * dilation_h + 1) that the kernels take.
inline constexpr int64_t kDwChanMaxRing = 64;

/// Whether the channel-blocked kernels take `a`: depthwise (groups == in_channels == channels), no residual, a
/// window of at most kDwChanMaxRing rows and kDwConvMaxKernel columns.
bool dwchan_supports(const DwConvShape& s, const DwConvArgs& a);

/// Output rows per work item: about 16K outputs of a channel block, so that 112x112 planes still split over
/// threads (each band re-transposes the kernel_h - stride_h input rows it shares with the band above).
int64_t dwchan_band_rows(const DwConvShape& s);

/// Work items of `a`: images x channel blocks x row bands.
int64_t dwchan_items(const DwConvShape& s, const DwConvArgs& a);

/// Floats of scratch one kernel call needs (at any tier): a ring of input rows, a zero row, an output row, the
/// packed filters and bias. Nothing in it needs to be kept or zeroed between calls.
size_t dwchan_scratch_floats(const DwConvShape& s);

/// A kernel of one ISA tier: work items [begin, end) of `a` (dwchan_supports must hold).
using DwChanFn = void (*)(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch);

/// The kernel for `tier`, or null when none is compiled for it (there is no scalar one: dwconv_f32_ref is the
/// oracle).
DwChanFn dwchan_kernel(IsaTier tier);
/// The AVX-512 kernel's 16-lane logic run on AVX2 instructions (tests only: it checks that logic on a CPU without
/// AVX-512; needs AVX2).
void dwchan_f32_avx512_logic(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch);
/// Name of the kernel dwchan_f32 uses at the active tier ("dwchan_f32_avx2"), or null below AVX2.
const char* dwchan_kernel_name();

/// Runs `a` at the active tier on `pool`; false (nothing done) when no kernel fits the tier or the arguments.
bool dwchan_f32(const DwConvShape& s, const DwConvArgs& a, ThreadPool* pool);

}  // namespace kiln::kernels
