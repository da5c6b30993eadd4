#pragma once
// Evaluates one node on concrete tensors: inference (with the input values known) sizes the outputs,
// then the op's reference kernel runs. Used for constant folding at plan time and by op unit tests.

#include <span>
#include <vector>

#include "ir/graph.h"
#include "kiln/tensor.h"
#include "ops/op.h"

namespace kiln::runtime {

/// Runs `node` (at `opset` for its domain) on `inputs` (nullptr for absent optional inputs) and returns
/// one tensor per listed output. Throws Error naming the node on any failure.
std::vector<Tensor> evaluate_node(const ir::Node& node, size_t node_index, int opset,
                                  std::span<const Tensor* const> inputs, ops::SubgraphRunner* subgraphs = nullptr);

/// Allocates output tensors for the inferred infos; outputs whose shape is not concrete stay undefined
/// (the kernel allocates those).
std::vector<Tensor> allocate_outputs(std::span<const ops::ValueInfo> infos);

}  // namespace kiln::runtime
