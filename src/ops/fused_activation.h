#pragma once
// The `activation` and `activation_params` attributes of kiln's fused ops (ai.kiln.FusedConv, FusedMatMul):
// one parser so every fused op reads them the same way.

#include "kernels/activation.h"
#include "ops/op.h"

namespace kiln::ops {

/// Reads `activation` ("" | "Relu" | "Clip" | "LeakyRelu" | "Sigmoid" | "Tanh" | "HardSigmoid" | "HardSwish" |
/// "Silu" | "GeluErf" | "GeluTanh") and `activation_params` (alpha, beta: Clip min/max, LeakyRelu alpha,
/// HardSigmoid alpha/beta). Missing params take the ONNX op's defaults (Clip: no bound, LeakyRelu 0.01,
/// HardSigmoid 0.2/0.5). Fails naming the node for an unknown name or too many params.
kernels::ActivationParams read_fused_activation(const NodeContext& ctx);

}  // namespace kiln::ops
