#pragma once
// Prepares the nodes of one graph with the input infos PreparedGraph::build gives them: a symbolic plan at the
// declared input shapes (types, shapes with symbols, constants), or the initializers and declared types when that
// plan fails or the graph is a subgraph. PreparedGraph uses it for every graph; `kiln build` prepares a top-level
// node alone with it to time each of its candidate tactics (api/engine_tactics).

#include <memory>
#include <vector>

#include "ir/graph.h"
#include "ops/op.h"
#include "runtime/limits.h"
#include "runtime/plan.h"

namespace kiln::runtime {

class NodePreparer {
 public:
  /// `symbolic`: plan the graph at its declared input shapes for the infos (a top-level graph; a subgraph reads
  /// values of enclosing scopes that plan cannot see, and prepares from initializers and declared types alone).
  NodePreparer(const ir::Graph& graph, const OpsetTable& opsets, const Limits& limits, bool symbolic = true);
  /// The infos of `node`'s inputs (absent ones null in `ptrs`; they point into `infos` and into this preparer).
  void input_infos(const ir::Node& node, std::vector<ops::ValueInfo>& infos,
                   std::vector<const ops::ValueInfo*>& ptrs) const;
  /// Node `index` of the graph prepared on its own (packing for itself, with `node_seq` as its number; tactics
  /// from the ops::TacticScope in force), or nullptr when its op has no fast path for it. Throws what prepare
  /// throws.
  std::unique_ptr<ops::PreparedKernel> prepare(size_t index, size_t node_seq) const;

 private:
  const ir::Graph& graph_;
  const OpsetTable& opsets_;
  std::shared_ptr<const Plan> symbolic_;
  std::vector<char> overridable_;
};

}  // namespace kiln::runtime
