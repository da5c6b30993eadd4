#pragma once
// Depthwise 2-D convolution on NCHW planes (group == input channels: MobileNet/EfficientNet's 3x3 and 5x5
// convolutions, stride 1 or 2, any padding and dilation), and other 2-D convolutions with few input channels per
// group (an RGB stem's 3, ResNeXt's 4), with the epilogue fused: bias, residual, activation. A GEMM formulation
// would run these as dot products of kernel_h * kernel_w (times a few channels) per output, far below the FMA
// peak; a direct kernel vectorised along the output width does the same work from L1.
//
// The kernels (dwconv_list.h names one per ISA tier) take ranges of work items (image, group, block of output
// channels); the dispatcher below spreads them over the thread pool. Results do not depend on the thread count.

#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"

namespace kiln::kernels {

/// The sizes of one depthwise convolution (the same for every plane).
struct DwConvShape {
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  ///< the end pads follow from out_h/out_w; reads past the input are zeros
};

/// Largest kernel_h, kernel_w and stride_w the kernels take (larger windows go to the implicit GEMM).
inline constexpr int64_t kDwConvMaxKernel = 64;

/// Floats in one stride-phase row of a kernel's scratch: the outputs rounded up to whole 16-lane vectors (so every
/// tier's loads stay inside), plus the columns the window reaches beyond them.
inline int64_t dwconv_phase_row_floats(const DwConvShape& s) {
  return (s.out_w + 15) / 16 * 16 + (s.kernel_w - 1) * s.dilation_w / s.stride_w + 1;
}

/// One grouped convolution computed directly on NCHW planes, y = act(conv(x, w) + bias + residual): depthwise
/// (one input channel per group) and other convolutions with few input channels per group (an RGB stem, ResNeXt
/// groups of 4). Output channel m of group g = m / (channels / groups) reads input planes
/// [g * in_channels / groups, (g + 1) * in_channels / groups), filter w + m * (in_channels / groups) * kernel_h *
/// kernel_w, bias[m] (when bias is not null) and its residual plane (when not null; planes like y).
struct DwConvArgs {
  const float* x = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;
  const float* residual = nullptr;
  float* y = nullptr;
  int64_t images = 1;
  int64_t in_channels = 1, channels = 1, groups = 1;
  ActivationParams act;

  int64_t group_in() const { return in_channels / groups; }
  int64_t group_out() const { return channels / groups; }
  /// Output channels computed together (they share the group's input reads): 1 when groups have one output
  /// channel (depthwise), else 4.
  int64_t block() const { return group_out() == 1 ? 1 : 4; }
  /// Work items, in order: image, group, block of output channels.
  int64_t items() const { return images * groups * ((group_out() + block() - 1) / block()); }
};

/// Largest input channels per group the kernels take (the tactic's limit; the implicit GEMM takes more).
inline constexpr int64_t kDwConvMaxGroupIn = 16;

/// Scratch a kernel needs: per input channel of a group, its zero-padded plane split by stride phase (in_h rows
/// of stride_w phase rows) and one zero row for taps in the top and bottom padding.
size_t dwconv_scratch_floats(const DwConvShape& shape, const DwConvArgs& a);

/// A kernel of one ISA tier: work items [begin, end) of `a`. `scratch` holds dwconv_scratch_floats(shape, a)
/// floats, private to the call, which the caller zero-fills once per shape: kernels write only the input's
/// columns into it, so the padding columns stay zero across calls.
using DwConvFn = void (*)(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch);

/// The plain scalar kernel (the oracle; needs no scratch).
void dwconv_f32_ref(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch);

/// The kernel for `tier` (kRef: the reference), or null when none is compiled for it.
DwConvFn dwconv_kernel(IsaTier tier);
/// Name of the kernel dwconv_f32 uses at the active tier ("dwconv_f32_avx2").
const char* dwconv_kernel_name();

/// Runs `a` at the active tier on `pool` (items split into tasks; an output's value does not depend on it).
void dwconv_f32(const DwConvShape& shape, const DwConvArgs& a, ThreadPool* pool);

}  // namespace kiln::kernels
