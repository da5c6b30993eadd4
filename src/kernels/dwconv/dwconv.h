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

/// One output plane: y = act(conv(x, w) + bias + residual).
struct DwConvPlane {
  const float* x = nullptr;         ///< [in_h, in_w]
  const float* w = nullptr;         ///< [kernel_h, kernel_w]
  float bias = 0.0f;
  const float* residual = nullptr;  ///< [out_h, out_w], or null
  float* y = nullptr;               ///< [out_h, out_w]
};

/// Largest kernel_h and kernel_w the plane kernels take (larger windows go to the implicit GEMM).
inline constexpr int64_t kDwConvMaxKernel = 64;

/// Floats in one stride-phase row of a plane kernel's scratch: the outputs rounded up to whole 16-lane vectors
/// (so every tier's loads stay inside), plus the columns the window reaches beyond them.
inline int64_t dwconv_phase_row_floats(const DwConvShape& s) {
  return (s.out_w + 15) / 16 * 16 + (s.kernel_w - 1) * s.dilation_w / s.stride_w + 1;
}

/// A plane kernel of one ISA tier. `scratch` holds dwconv_scratch_floats(shape) floats, private to the call.
using DwConvPlaneFn = void (*)(const DwConvShape& shape, const DwConvPlane& plane, const ActivationParams& act,
                               float* scratch);

/// Scratch a plane kernel needs for `shape`: the zero-padded input plane split by stride phase, in_h rows of
/// stride_w phase rows.
size_t dwconv_scratch_floats(const DwConvShape& shape);

/// The plain scalar plane kernel (the oracle; no scratch needed).
void dwconv_f32_ref(const DwConvShape& shape, const DwConvPlane& plane, const ActivationParams& act, float* scratch);

/// The plane kernel for `tier` (kRef: the reference), or null when none is compiled for it.
DwConvPlaneFn dwconv_plane_kernel(IsaTier tier);
/// Name of the kernel dwconv_f32 uses at the active tier ("dwconv_f32_avx2").
const char* dwconv_kernel_name();

/// The whole operation on `planes` = images x channels output planes. Output plane p is image n = p / channels,
/// channel m = p % channels: it reads input plane n * channels / channel_multiplier + m / channel_multiplier of
/// x, weights w + m * kernel_h * kernel_w, bias[m] (when bias is not null) and residual + p * out_h * out_w
/// (when not null), and writes y + p * out_h * out_w. Runs at the active tier on `pool`, one plane per task.
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
void dwconv_f32(const DwConvShape& shape, const DwConvArgs& args, ThreadPool* pool);

}  // namespace kiln::kernels
