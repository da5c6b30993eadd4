#pragma once
// Which nodes of a model kiln cannot run, and why: shared by Session creation, `inspect` and `check`.

#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln {

/// One kind of node kiln cannot run (same op, same reason), with how many and which nodes.
struct OpProblem {
  enum class Kind { kNotImplemented, kDomainNotImported, kNotYetAtOpset, kRemovedAtOpset };
  Kind kind = Kind::kNotImplemented;
  std::string op;      ///< "Resize" or "com.microsoft.FusedConv"
  std::string reason;  ///< why kiln cannot run it
  int count = 0;
  std::vector<std::string> nodes;  ///< the first few node names ("#12" when unnamed)
};

/// Every op problem in the model, subgraphs included, grouped by op and reason.
std::vector<OpProblem> find_op_problems(const ir::Model& model);

/// Throws Error(kUnsupported) listing every problem find_op_problems finds.
void check_ops_supported(const ir::Model& model);

}  // namespace kiln
