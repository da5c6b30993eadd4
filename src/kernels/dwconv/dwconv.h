#pragma once
// Depthwise 2-D convolution on NCHW planes (group == input channels: MobileNet/EfficientNet's 3x3 and 5x5
// convolutions, stride 1 or 2, any padding and dilation), with the epilogue fused: bias, residual, activation.
// A GEMM formulation would run these as K = kernel_h * kernel_w dot products per output, far below the FMA
// peak; a direct kernel vectorised along the output width does the same work from L1.
//
// Each output plane is computed by one call of a plane kernel (dwconv_list.h names one per ISA tier); the
// dispatcher below spreads planes over the thread pool. A plane's result does not depend on the thread count.

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

/// Scratch a kernel needs for `shape`: the zero-padded input plane split by stride phase (in_h rows of stride_w
/// phase rows) and one zero row for taps in the top and bottom padding.
size_t dwconv_scratch_floats(const DwConvShape& shape);

/// One depthwise convolution over `planes` = images x channels output planes, y = act(conv(x, w) + bias + residual).
/// Output plane p is image n = p / channels, channel m = p % channels: it reads input plane
/// n * channels / channel_multiplier + m / channel_multiplier of x, weights w + m * kernel_h * kernel_w, bias[m]
/// (when bias is not null) and residual + p * out_h * out_w (when not null), and writes y + p * out_h * out_w.
struct DwConvArgs {
  const float* x = nullptr;
  const float* w = nullptr;
  const float* bias = nullptr;
  const float* residual = nullptr;
  float* y = nullptr;
  int64_t planes = 0;
  int64_t channels = 1;            ///< output channels: planes p and p + channels share weights and bias
  int64_t channel_multiplier = 1;  ///< output channels per input channel
  ActivationParams act;
};

/// Output plane p of `a`, resolved to pointers.
struct DwConvPlane {
  const float* x;         ///< [in_h, in_w]
  const float* w;         ///< [kernel_h, kernel_w]
  float bias;
  const float* residual;  ///< [out_h, out_w], or null
  float* y;               ///< [out_h, out_w]
};
inline DwConvPlane dwconv_plane(const DwConvShape& s, const DwConvArgs& a, int64_t p) {
  const int64_t image = p / a.channels, m = p % a.channels, out_plane = s.out_h * s.out_w;
  const int64_t in_plane = image * (a.channels / a.channel_multiplier) + m / a.channel_multiplier;
  return {a.x + in_plane * s.in_h * s.in_w, a.w + m * s.kernel_h * s.kernel_w, a.bias ? a.bias[m] : 0.0f,
          a.residual ? a.residual + p * out_plane : nullptr, a.y + p * out_plane};
}

/// A kernel of one ISA tier: output planes [begin, end) of `a`. `scratch` holds dwconv_scratch_floats(shape)
/// floats, private to the call, which the caller zero-fills once per shape: kernels write only the input's
/// columns into it, so the padding columns stay zero across calls.
using DwConvFn = void (*)(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch);

/// The plain scalar kernel (the oracle; needs no scratch).
void dwconv_f32_ref(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch);

/// The kernel for `tier` (kRef: the reference), or null when none is compiled for it.
DwConvFn dwconv_kernel(IsaTier tier);
/// Name of the kernel dwconv_f32 uses at the active tier ("dwconv_f32_avx2").
const char* dwconv_kernel_name();

/// Runs `a` at the active tier on `pool` (planes split into tasks; a plane's result does not depend on it).
void dwconv_f32(const DwConvShape& shape, const DwConvArgs& a, ThreadPool* pool);

}  // namespace kiln::kernels
