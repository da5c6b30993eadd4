#pragma once
// Conv's pieces that ai.kiln.FusedConv shares: inference, the reference kernel, and the prepared (fast) kernel.

#include <memory>

#include "ops/op.h"

namespace kiln::ops {

/// Conv's type and shape inference over inputs X, W, B (optional).
void infer_conv(InferContext& ctx);
/// Conv's reference kernel (im2col + the reference GEMM; the oracle of the prepared kernel).
void compute_conv(KernelContext& ctx);
/// The fast float32 Conv for Conv and FusedConv nodes (conv_prepared.cpp): weights packed once, 1x1 as GEMM,
/// implicit GEMM, depthwise kernels, bias/residual/activation fused. nullptr where it does not apply.
std::unique_ptr<PreparedKernel> prepare_conv(PrepareContext& ctx);
/// The fast ai.kiln.ConvNhwc (conv_nhwc_prepared.cpp): 1x1 as a GEMM over rows of pixels, depthwise on
/// channel vectors, 1x1 planes as a matrix-vector product. nullptr for other convolutions (the reference runs).
std::unique_ptr<PreparedKernel> prepare_conv_nhwc(PrepareContext& ctx);

}  // namespace kiln::ops
