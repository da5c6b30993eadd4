#pragma once
// Inference and run-time checks shared by the convolution ops (Conv, ConvInteger, QLinearConv):
// x [N, C, spatial...] and w [M, C/group, kernel...].

#include <optional>

#include "ops/conv_core.h"
#include "ops/op.h"
#include "ops/window.h"

namespace kiln::ops {

/// The window attributes (kernel_shape, strides, dilations, pads, auto_pad) of a forward convolution, each list
/// checked against the rank of x, or of w when x's rank is unknown (so a weight from an initializer is enough),
/// and kernel_shape against w's kernel dims where known. nullopt when neither rank is known.
std::optional<WindowAttrs> conv_window_attrs(const NodeContext& ctx, const Shape& xs, const Shape& ws);

/// Load-time checks of a forward convolution (OpSchema::validate) with x at input `x_index` and w at `w_index`:
/// group and the window attributes, against whichever of the two ranks is known.
void validate_conv_attrs(const InferContext& ctx, size_t x_index, size_t w_index);
template <size_t XIndex, size_t WIndex> void validate_conv(const InferContext& ctx) {
  validate_conv_attrs(ctx, XIndex, WIndex);
}

/// Output shape of a forward convolution with x at input `x_index` and w at `w_index`: [N, M, spatial...].
/// Checks ranks, the channel relation C == w[1] * group and M % group == 0 where the dims are known, naming
/// both shapes. Keeps N's symbol; a spatial dim computed from a symbol is unknown.
Shape infer_conv_shape(const InferContext& ctx, size_t x_index, size_t w_index);
/// The same for shapes given directly (ai.kiln.ConvNhwc infers on its input's dims put in NCHW order).
Shape conv_output_shape(const NodeContext& ctx, const Shape& xs, const Shape& ws);

/// The concrete problem for run time (same checks, bad_input on a mismatch).
ConvProblem conv_problem(const KernelContext& ctx, const Tensor& x, const Tensor& w);

/// Checks that an optional per-output-channel input (bias, w_zero_point, w_scale) has M elements (or 1 when
/// `allow_scalar`); names the input.
void check_per_channel(const NodeContext& ctx, const char* what, const std::vector<int64_t>& dims, int64_t M,
                       bool allow_scalar);

}  // namespace kiln::ops
