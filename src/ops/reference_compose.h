#pragma once
// How the fused ops of kiln's own domain (ai.kiln.FusedMatMul, ScaledDotProductAttention, ...) build their
// reference kernels: by running the reference `compute` of the ONNX ops they stand for, never a fast kernel,
// so the oracle a fused kernel is tested against is the same code that runs the unfused graph.

#include <initializer_list>
#include <span>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

/// Runs the reference kernel of ONNX operator `op_type` at `opset` with `attrs` on `inputs` (nullptr for an
/// absent optional input) into `outputs`, which the caller allocates with the dims the op produces. Errors
/// name the fused node (`ctx`) and the op.
void run_reference_op(const NodeContext& ctx, const char* op_type, int opset, std::vector<ir::Attribute> attrs,
                      std::initializer_list<const Tensor*> inputs, std::span<Tensor> outputs);

/// As run_reference_op, for an op of kiln's own domain (ai.kiln, version 1): a fused op composed of other fused
/// ops (ai.kiln.InvertedResidualNhwc of ConvNhwc's).
void run_kiln_reference_op(const NodeContext& ctx, const char* op_type, std::vector<ir::Attribute> attrs,
                           std::initializer_list<const Tensor*> inputs, std::span<Tensor> outputs);

/// An int or ints attribute for run_reference_op.
ir::Attribute int_attr(const char* name, int64_t v);
ir::Attribute ints_attr(const char* name, std::vector<int64_t> v);

/// x with its last two dims swapped (a copy), through the reference Transpose.
Tensor transpose_last_two(const NodeContext& ctx, const Tensor& x);

}  // namespace kiln::ops
