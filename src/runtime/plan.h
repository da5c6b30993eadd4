#pragma once
// A Plan is a graph specialised for one set of concrete input shapes: the steps in order, every value's
// inferred type and shape, the values already computed at plan time (constants and shape arithmetic), and
// arena offsets for every intermediate whose size is known, reused by liveness. Plans are cached per input
// signature by the Session; a Plan is immutable once built and may be run by several threads at once.

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "ops/op.h"
#include "runtime/limits.h"
#include "runtime/run_state.h"

namespace kiln::runtime {

class PreparedGraph;

/// Opset lookup for a model's domains.
struct OpsetTable {
  std::vector<ir::OpsetImport> imports;
  int version(std::string_view domain) const;
};

struct Step {
  int node = -1;  ///< index into Graph::nodes
  const ops::OpSchema* schema = nullptr;
  int opset = 0;
  std::vector<int> outputs;  ///< value ids (-1 for absent optional outputs)
  bool shapes_known = false;  ///< every output's shape was resolved at plan time
  /// With shapes_known: each output's dims (empty for absent outputs), so a run reads them without building them.
  std::vector<std::vector<int64_t>> output_dims;
  std::vector<int> release;   ///< values whose last reader is this step (freed after it)
  const ops::PreparedKernel* prepared = nullptr;  ///< the session's fast kernel for the node, else compute runs
  /// Output 0 is a view of input 0 with other dims (OpSchema::output_views_input): no kernel runs, and the
  /// viewed memory lives until the view's last reader.
  bool view_of_input = false;
  /// A Concat whose inputs were written into their slices of output 0 by their producers (runtime/
  /// concat_in_place.h): no kernel runs; an input found elsewhere is copied into its slice.
  bool concat_in_place = false;
  /// Elements between output 0's images when an in-place Concat at batch > 1 holds it (KernelContext::
  /// output_image_stride), and on that Concat's own step; 0: packed.
  int64_t output_image_stride = 0;
};

class Plan {
 public:
  /// Builds a plan for `graph` given the type and shape of every value fed from outside (graph inputs and
  /// outer-scope values), keyed by value id. Throws Error naming the node on inference failures.
  /// Steps run the kernels `prepared` holds for their nodes (null: reference kernels everywhere).
  static std::shared_ptr<const Plan> build(const ir::Graph& graph, const OpsetTable& opsets,
                                           const std::unordered_map<int, ops::ValueInfo>& fed,
                                           const Limits& limits, const PreparedGraph* prepared = nullptr);

  const ir::Graph& graph() const { return *graph_; }
  const std::vector<Step>& steps() const { return steps_; }
  /// Inferred info per value id (value pointer set for constants).
  const std::vector<ops::ValueInfo>& infos() const { return infos_; }
  /// Value known before any run (initializer, folded node), or nullptr.
  const Tensor* constant(int value) const;
  /// Arena offset of a value, or -1 when it is not arena-backed.
  int64_t arena_offset(int value) const { return arena_offsets_[static_cast<size_t>(value)]; }
  /// Arena bytes one run needs.
  size_t arena_bytes() const { return arena_bytes_; }
  /// Values fed from outside (graph inputs and outer-scope reads) whose last reader is step s are released
  /// by the step's release list like any other value.
  const std::vector<int>& fed_values() const { return fed_; }
  /// Names read from enclosing scopes by nodes' subgraphs, per step index (kept alive until that step).
  const std::vector<std::vector<int>>& implicit_inputs() const { return implicit_inputs_; }
  /// Run states of finished runs, for the next runs of this plan (a cache: the plan stays logically const).
  RunStatePool& run_states() const { return run_states_; }

 private:
  /// Info of a value by name in the scopes enclosing the graph being planned (for plan-time subgraph
  /// inference), or nullptr.
  using OuterLookup = std::function<const ops::ValueInfo*(const std::string&)>;
  friend class PlanSubgraphInferrer;
  /// `prepared`: the kernels the steps run, known before memory is planned (an in-place Concat at batch > 1 asks
  /// its producers' kernels whether they write strided images).
  static std::shared_ptr<Plan> build_in_scope(const ir::Graph& graph, const OpsetTable& opsets,
                                              const std::unordered_map<int, ops::ValueInfo>& fed,
                                              const Limits& limits, const OuterLookup* outer,
                                              const PreparedGraph* prepared = nullptr);
  /// This plan's info for `name` (a value of its graph that has a type by now), else the outer scopes'.
  const ops::ValueInfo* find_in_scope(const std::string& name, const OuterLookup* outer) const;
  void infer_and_fold(const Limits& limits, const OuterLookup* outer);
  void plan_lifetimes_and_memory(const Limits& limits);

  const ir::Graph* graph_ = nullptr;
  const OpsetTable* opsets_ = nullptr;
  std::vector<Step> steps_;
  std::vector<ops::ValueInfo> infos_;
  std::vector<Tensor> constants_;
  std::vector<int64_t> arena_offsets_;
  std::vector<int> fed_;
  std::vector<std::vector<int>> implicit_inputs_;
  size_t arena_bytes_ = 0;
  mutable RunStatePool run_states_;
};

/// Adds the node's label to an Error that does not carry it yet.
[[noreturn]] void rethrow_with_node(const Error& e, const std::string& label);

}  // namespace kiln::runtime
