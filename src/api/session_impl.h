#pragma once
// Session internals shared by the API's source files.

#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <string_view>

#include "api/op_support.h"
#include "engine/engine_facts.h"
#include "ir/graph.h"
#include "kiln/session.h"
#include "runtime/executor.h"
#include "kernels/thread_pool.h"
#include "passes/pipeline.h"
#include "runtime/plan.h"
#include "runtime/prepared_graph.h"

namespace kiln {

struct Session::Impl {
  /// `packed`: where prepare's packed constants come from and go (an engine being built or loaded), or null.
  /// `on_pass`: told the name of each graph pass as it finishes (kiln build's progress), or empty.
  Impl(ir::Model model, const SessionOptions& options, ops::PackedWeightSource* packed = nullptr,
       const std::function<void(std::string_view)>& on_pass = {});

  ir::Model model;
  runtime::OpsetTable opsets;
  runtime::Limits limits;
  std::vector<IoInfo> inputs, overridable_inputs, outputs;
  ModelInfo info;
  std::unique_ptr<kernels::ThreadPool> threads;
  /// What each graph pass did when the session was created (src/passes).
  std::vector<passes::PassRun> pass_runs;
  /// Prepared kernels and packed weights, shared by every plan of the session.
  std::shared_ptr<const runtime::PreparedGraph> prepared;

  /// Set when the session was loaded from an engine file (api/engine_load): its header, profiles and build
  /// options; check_feeds refuses feeds outside every profile.
  std::shared_ptr<const engine::EngineFacts> engine;

  /// Runs the graph passes on `model` (SessionOptions::graph_optimization_level, disabled_passes).
  void optimize_graph(const SessionOptions& options, const std::function<void(std::string_view)>& on_pass);

  bool strict_symbols = false;
  std::function<void(const std::string&)> warn;

  /// Passes `message` to `warn` the first time `key` is warned about in this session.
  void warn_once(const std::string& key, const std::string& message);

  /// Feeds checked against the model (names, types, ranks, fixed dims, symbols; every required input present),
  /// by value id, with the facts a plan is chosen by.
  struct CheckedFeeds {
    std::unordered_map<int, Tensor> by_id;
    std::unordered_map<int, ops::ValueInfo> fed;
  };
  CheckedFeeds check_feeds(const NamedTensors& feeds);
  /// Positions in the graph's outputs of the outputs asked for by name (all of them, in order, when none is).
  std::vector<size_t> output_positions(const std::vector<std::string>& names) const;
  /// A run's controls: cancellation, deadline, limits, the pool, profiling, subgraph plans.
  runtime::RunControl control_for(const RunOptions& options);

  /// The plan for one input signature, built on first use; at most `max_plans` are kept (least recently used
  /// dropped first; runs holding a dropped plan finish with it).
  std::shared_ptr<const runtime::Plan> plan_for(const ir::Graph& graph,
                                                const std::unordered_map<int, ops::ValueInfo>& fed, bool* reused);

 private:
  using PlanCache = std::list<std::pair<std::string, std::shared_ptr<const runtime::Plan>>>;
  std::mutex mutex_;
  size_t max_plans_ = 64;
  PlanCache plans_;  ///< most recently used first
  std::map<std::string, PlanCache::iterator> plan_index_;
  std::set<std::string> warned_;
};


}  // namespace kiln
