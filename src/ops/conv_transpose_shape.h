#pragma once
// ConvTranspose's attributes and output-size rule, shared by its reference kernel (conv_transpose.cpp) and its
// prepared kernel (conv_transpose_prepared.cpp).

#include <memory>
#include <vector>

#include "ops/op.h"
#include "ops/window.h"

namespace kiln::ops {

struct TransposeAttrs {
  WindowAttrs w;
  std::vector<int64_t> output_padding, output_shape;
  bool has_pads = false;
};

/// Reads and checks the window attributes plus output_padding and output_shape for the spatial dims of `of`,
/// each list's length checked against its rank before use.
TransposeAttrs read_transpose_attrs(const NodeContext& ctx, const RankOf& of, std::vector<int64_t> kernel);

/// Axis i of the output for input size `in`: its size, and the pads of the forward convolution that maps the
/// output back to the input (allocates nothing).
WindowAxis resolve_transpose_axis(const TransposeAttrs& a, size_t i, int64_t in);

/// ConvTranspose's reference kernel (GEMM + col2im in conv_core.cpp).
void compute_conv_transpose(KernelContext& ctx);

/// The fast float32 ConvTranspose (packed Wᵀ, GEMM, col2im with bias), or nullptr where it does not apply.
std::unique_ptr<PreparedKernel> prepare_conv_transpose(PrepareContext& ctx);

}  // namespace kiln::ops
