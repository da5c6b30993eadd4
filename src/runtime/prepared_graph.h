#pragma once
// The graph a session runs, made ready once and independent of input shapes: for every node whose op offers a
// fast path, its prepared kernel (attributes parsed, ISA kernel chosen, constant weights packed). Every
// per-shape Plan of the session points its steps at these kernels, so weights are packed once per session
// whatever shapes are run (and later, once per engine file). Subgraph nodes (If/Loop/Scan bodies) are
// prepared too; values of enclosing scopes count as non-constant there.

#include <memory>
#include <string>
#include <unordered_map>

#include "ir/graph.h"
#include "ops/op.h"
#include "runtime/limits.h"
#include "runtime/plan.h"

namespace kiln::runtime {

class PreparedGraph {
 public:
  /// Prepares every node of `graph` (and of its subgraphs). Input types come from a symbolic plan of the graph
  /// at its declared input shapes; a node whose input types that plan cannot tell is left to its reference
  /// kernel. Initializers that are also graph inputs (a caller may override them) are never packed.
  /// With the active ISA tier at kRef (KILN_ISA=ref) nothing is prepared: `compute` runs everywhere.
  /// With `packed` (an engine being built or loaded), each node's packed constants go through it
  /// (ops::PackedWeightSource), nodes numbered in the order they are prepared (subgraph nodes before the node
  /// that holds them), and a kernel it gives a first-run check runs that check once before its first run.
  static std::shared_ptr<const PreparedGraph> build(const ir::Graph& graph, const OpsetTable& opsets,
                                                    const Limits& limits, ops::PackedWeightSource* packed = nullptr);

  /// The prepared kernel of `node`, or nullptr (the reference compute runs it).
  const ops::PreparedKernel* kernel(const ir::Node* node) const;
  /// Bytes of packed weights held.
  size_t packed_bytes() const { return packed_bytes_; }
  /// How many nodes got a prepared kernel, of how many.
  size_t prepared_count() const { return kernels_.size(); }
  size_t node_count() const { return nodes_; }

 private:
  void prepare_graph(const ir::Graph& graph, const OpsetTable& opsets, const Limits& limits, bool top_level,
                     ops::PackedWeightSource* packed);

  std::unordered_map<const ir::Node*, std::unique_ptr<ops::PreparedKernel>> kernels_;
  size_t packed_bytes_ = 0;
  size_t nodes_ = 0;
  size_t node_seq_ = 0;  ///< nodes prepared so far, all graphs: the next node's PrepareContext::node_seq
};

}  // namespace kiln::runtime
