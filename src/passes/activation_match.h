#pragma once
// Recognises the activation a graph applies to a value, in the forms exporters write it, for the fusions that
// fold an activation into FusedConv / FusedMatMul (`activation` attribute) and for the standalone GELU fusion.
//
//   single ops:  Relu, Sigmoid, Tanh, LeakyRelu, HardSigmoid, HardSwish, Clip (constant min/max), Gelu
//                (ONNX-20 and ai.kiln)
//   SiLU:        x * Sigmoid(x)                         HardSwish: x * HardSigmoid(x, 1/6, 1/2)
//   GELU (erf):  x * 0.5 * (1 + Erf(x / sqrt 2))        with x/sqrt2 as Div or Mul(1/sqrt2), and the three
//                                                       factors multiplied in any order and association
//   GELU (tanh): x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))   x^3 as Pow(x, 3) or x*(x*x)
//
// Constants must equal their exact values within float rounding (relative 1e-6), so a rewrite never swaps one
// approximation for another.

#include <optional>
#include <string>
#include <vector>

#include "passes/rewrite_util.h"

namespace kiln::passes {

struct ActivationMatch {
  std::string kind;           ///< the `activation` attribute of the fused ops: "Relu", "Clip", ..., "GeluTanh"
  std::vector<float> params;  ///< `activation_params` {alpha, beta}; empty when the activation has none
  std::vector<int> nodes;     ///< every node of the pattern
  int last = -1;              ///< the node writing the activation's result
  int output = -1;            ///< the activation's result
};

/// The activation applied to `x`, when every intermediate of the pattern is read only inside it (not a graph
/// output, not read by a subgraph), and, with `x_exclusive` (x is to disappear into a fused op), when every
/// reader of `x` belongs to it too. Constant operands must have rank 0 or 1 (so they cannot broadcast `x` to a
/// larger shape when x has rank 1 or more: callers ensure that). `dead` flags nodes already consumed by an
/// earlier rewrite of the same sweep; they never match.
std::optional<ActivationMatch> match_activation(const ir::Graph& g, const GraphIndex& idx, int x,
                                                const std::vector<char>& dead, bool x_exclusive = true);

/// The `activation` / `activation_params` attributes for a match (params only when the kind has some).
void set_activation_attrs(ir::Node& fused, const ActivationMatch& m);

}  // namespace kiln::passes
