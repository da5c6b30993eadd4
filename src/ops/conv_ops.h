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

}  // namespace kiln::ops
