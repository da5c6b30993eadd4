#pragma once
// Conv's pieces that ai.kiln.FusedConv shares: inference, the reference kernel, and the prepared (fast) kernel.

#include <memory>

#include "kernels/activation.h"
#include "kernels/gemm/gemm.h"
#include "kernels/thread_pool.h"
#include "ops/op.h"

namespace kiln::ops {

/// Conv's type and shape inference over inputs X, W, B (optional).
void infer_conv(InferContext& ctx);
/// Conv's reference kernel (im2col + the reference GEMM; the oracle of the prepared kernel).
void compute_conv(KernelContext& ctx);
/// The fast float32 Conv for Conv and FusedConv nodes (conv_prepared.cpp): weights packed once, 1x1 as GEMM,
/// implicit GEMM, depthwise kernels, bias/residual/activation fused. nullptr where it does not apply.
std::unique_ptr<PreparedKernel> prepare_conv(PrepareContext& ctx);
/// A 1x1 convolution of 1x1 planes (a squeeze-excitation FC after the global pool), in either layout (a pixel's
/// channels are the same vector in NCHW and NHWC): per image, y = act(W.x + bias + residual) with W packed by
/// kernels::gemv_pack. bias and residual may be null.
void run_conv_gemv(const float* packed_w, int64_t images, int64_t in_channels, int64_t out_channels, const float* x,
                   const float* bias, const float* residual, float* y, const kernels::ActivationParams& act,
                   kernels::ThreadPool* pool);
/// A channels-last 1x1 convolution as a GEMM (ConvNhwc, InvertedResidualNhwc; conv_nhwc_prepared.cpp):
/// c [rows, N] = act(a [rows, K] . B + bias per column + residual [rows, N]), B = W^T from pack_pointwise_nhwc.
/// bias and residual may be null; pool may be null (the calling thread).
void run_pointwise_nhwc(const kernels::PackedGemmOperand& b, int64_t rows, const float* a, const float* bias,
                        const float* residual, const kernels::ActivationParams& act, float* c,
                        kernels::ThreadPool* pool);
/// W [M, K(, 1, 1)] packed once as that GEMM's B = W^T, keyed by `what` (saved in engines).
kernels::PackedGemmOperand pack_pointwise_nhwc(PrepareContext& ctx, const char* what, const float* w, int64_t M,
                                               int64_t K);
/// Depthwise W [C, 1, kernel_h, kernel_w] packed for kernels/dwnhwc (saved in engines).
PackedBytes pack_depthwise_nhwc(PrepareContext& ctx, const float* w, int64_t channels, int64_t kernel_h,
                                int64_t kernel_w);
/// The fast ai.kiln.ConvNhwc (conv_nhwc_prepared.cpp): 1x1 as a GEMM over rows of pixels, depthwise on
/// channel vectors, 1x1 planes as a matrix-vector product. nullptr for other convolutions (the reference runs).
std::unique_ptr<PreparedKernel> prepare_conv_nhwc(PrepareContext& ctx);
/// The fast ai.kiln.InvertedResidualNhwc (inverted_residual_nhwc_prepared.cpp): expand, depthwise and projection
/// row band by row band through per-thread rings, the expanded tensor never in memory. nullptr where it does not
/// apply (below AVX2, weights not constant).
std::unique_ptr<PreparedKernel> prepare_inverted_residual_nhwc(PrepareContext& ctx);

}  // namespace kiln::ops
