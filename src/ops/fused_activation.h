#pragma once
// The `activation` and `activation_params` attributes of kiln's fused ops (ai.kiln.FusedConv, FusedMatMul):
// one parser so every fused op reads them the same way.

#include <string_view>

#include "kernels/activation.h"
#include "ops/op.h"

namespace kiln::ops {

/// Reads `activation` ("" | "Relu" | "Clip" | "LeakyRelu" | "Sigmoid" | "Tanh" | "HardSigmoid" | "HardSwish" |
/// "Silu" | "GeluErf" | "GeluTanh") and `activation_params` (alpha, beta: Clip min/max, LeakyRelu alpha,
/// HardSigmoid alpha/beta). Missing params take the ONNX op's defaults (Clip: no bound, LeakyRelu 0.01,
/// HardSigmoid 0.2/0.5); params the activation does not read are ignored. Fails naming the node for an unknown
/// name or more than two params.
/// `prefix` names a fused op's other activations the same way: prefix + "activation", prefix +
/// "activation_params" (ai.kiln.InvertedResidualNhwc's "expand_activation", ...).
kernels::ActivationParams read_fused_activation(const NodeContext& ctx, std::string_view prefix = "");

}  // namespace kiln::ops
