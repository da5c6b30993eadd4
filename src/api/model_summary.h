#pragma once
// What `kiln inspect` reports about a model, computed without building a session (so models kiln cannot run
// can still be inspected).

#include <map>
#include <string>
#include <vector>

#include "api/op_support.h"
#include "ir/graph.h"
#include "kiln/session.h"

namespace kiln {

struct ModelSummary {
  ModelInfo info;
  std::vector<IoInfo> inputs;       ///< to be fed
  std::vector<IoInfo> overridable;  ///< graph inputs with an initializer (weights a caller may override)
  std::vector<IoInfo> outputs;
  std::map<std::string, int> op_counts;  ///< op (domain-qualified outside ai.onnx) -> nodes, subgraphs included
  size_t nodes = 0;
  int64_t parameters = 0;     ///< elements in initializers
  int64_t parameter_bytes = 0;
  std::vector<OpProblem> op_problems;
};

ModelSummary summarize(const ir::Model& model);

}  // namespace kiln
