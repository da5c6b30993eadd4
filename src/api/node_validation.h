#pragma once
// Load-time node checks: what is wrong with a node at every input size (an attribute list whose length does not
// fit the rank of the weight it describes, a stride of 0, ...) is found when the model is loaded, before any
// input is given, so Session creation, `kiln run` and `kiln check` (with or without --shape) all refuse it the
// same way ONNX Runtime does at load.

#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/error.h"

namespace kiln {

/// A node the load-time checks refuse.
struct NodeProblem {
  std::string where;    ///< "node 'conv1' (Conv)"
  std::string message;  ///< what is wrong, without the node's label
  ErrorCode code = ErrorCode::kInvalidModel;
};

/// Runs every op's load-time checks (ops::OpSchema::validate) over the graph and its subgraphs with what is
/// known before any input is fed: initializers (shapes and values), declared input types, and what the ops'
/// own inference derives from them (a failure of inference only leaves that node's outputs unknown). Returns
/// every problem, in graph order; never throws for a bad node. Expects a graph that passed ir::validate.
std::vector<NodeProblem> validate_nodes(const ir::Model& model);

/// Throws Error listing every problem validate_nodes finds (the problem's own code when there is one).
void refuse_invalid_nodes(const ir::Model& model);

}  // namespace kiln
