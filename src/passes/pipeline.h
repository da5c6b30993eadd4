#pragma once
// The one ordered list of graph passes (pipeline.cpp) and the function that runs it on a model.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "passes/pass.h"

namespace kiln::passes {

struct PipelineEntry {
  const Pass* pass;
  std::string_view reason;  ///< why the pass sits at this point of the list
};

/// Every pass, in the order it runs. A pass may appear more than once (dead-node elimination does).
const std::vector<PipelineEntry>& pipeline();
/// The pass called `name`, or nullptr.
const Pass* find_pass(std::string_view name);

struct PipelineOptions {
  Level level = Level::kAll;
  /// Passes not to run, by name. An unknown name is an error (a typo would silently leave a pass on).
  std::vector<std::string> disabled;
  /// Called after every pass that ran (changed or not), with the model as that pass left it. Tests use it to
  /// re-validate the graph and re-run inference after every pass.
  std::function<void(const Pass&, const ir::Model&)> after_each;
};

/// What one pass did.
struct PassRun {
  std::string name;
  bool changed = false;
  size_t nodes_before = 0, nodes_after = 0;
  size_t kiln_nodes_before = 0, kiln_nodes_after = 0;  ///< nodes of kiln's own fused ops (domain ai.kiln)
  /// What the pass changed, by op (op_counts' keys): nodes it added (> 0) or removed (< 0); unchanged ops absent.
  std::map<std::string, int> op_changes;
  double milliseconds = 0;
  /// Set when the pass threw or left an invalid graph: it was undone (a kiln bug; tests assert this is empty).
  std::string error;
};

/// Nodes of g's top-level graph by op: "Conv", or "<domain>.<op>" outside ai.onnx ("ai.kiln.FusedConv").
std::map<std::string, int> op_counts(const ir::Graph& g);

/// Runs the pipeline on `model`'s top-level graph. Graph inputs and outputs keep their names and meaning.
/// Throws only for an unknown name in `disabled`. A pass that throws or leaves an invalid graph (a kiln bug) is
/// undone and reported in its PassRun::error, so the model still runs.
std::vector<PassRun> optimize(ir::Model& model, const PipelineOptions& options = {});

}  // namespace kiln::passes
