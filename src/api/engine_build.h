#pragma once
// `kiln build`'s library half: an ONNX model and optimization profiles in, an engine file's bytes out. Lives in
// src/api because it builds a Session::Impl (validation, the graph passes, prepare) exactly as loading the ONNX
// file would, so an engine runs the graph a session of the same model and options would run.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/profiles.h"
#include "engine/tactics.h"
#include "passes/pipeline.h"

namespace kiln {

struct EngineBuildRequest {
  std::string model_path;
  std::vector<engine::Profile> profiles;
  int level = 2;  ///< graph optimization level (SessionOptions::graph_optimization_level)
  std::vector<std::string> disabled_passes;
  int threads = 0;  ///< SessionOptions::intra_op_threads for the session the build prepares
  /// Told each stage as it starts ("loading", "optimizing", "writing"), for progress on a terminal.
  std::function<void(const std::string&)> on_stage;
  /// Told the name of each graph pass as it finishes, in the order of EngineBuildResult::pass_runs.
  std::function<void(std::string_view)> on_pass;
  /// Told before each node whose tactics are timed: (k, n, node name), k counting from 0; (n, n, "") at the end.
  std::function<void(size_t, size_t, const std::string&)> on_tactic;
  /// Timed runs per candidate tactic at the opt shape (the fastest counts); 0 times nothing (prepare's rules).
  int tactic_runs = 5;
  /// The timing cache file (--timing-cache), or empty: timings found there are not measured again, and the file
  /// is written back with this build's timings added.
  std::string timing_cache;
  /// Told each warning (a timing cache ignored, and why); they are also kept in the result.
  std::function<void(const std::string&)> warn;
};

struct EngineBuildResult {
  std::vector<uint8_t> bytes;  ///< the engine file
  size_t nodes_before = 0, nodes_after = 0;
  std::vector<passes::PassRun> pass_runs;
  double seconds = 0;
  /// The tactic chosen for each node that offered a choice (also in the engine's section 6).
  std::vector<engine::TacticRecord> tactics;
  size_t tactics_measured = 0;   ///< candidate timings measured by this build
  size_t tactics_from_cache = 0;  ///< nodes whose every candidate's timing came from the timing cache
  /// The whole network at the opt shape with the chosen tactics and with the rules' (fastest run of each, in
  /// turns), when any choice differed from the rule; negative when not measured (an input that is not float32).
  double network_chosen_ms = -1, network_rule_ms = -1;
  bool network_from_cache = false;
  /// The chosen tactics were not faster on the whole network: the engine keeps the rules' (records say so).
  bool kept_rules = false;
  std::vector<std::string> warnings;
};

/// Loads the model, checks the profiles against it (engine::check_profiles_fit_model), folds the dims every
/// profile fixes, runs the passes and prepares the graph as a session would, times the candidate tactics of the
/// nodes that offer a choice at the first profile's opt shape and prepares them with the fastest, and writes the
/// engine: profiles, build options, the optimized model as ONNX, packed weights, tactics. Throws Error naming what is wrong (an input the model lacks, a
/// rank or fixed dim the profile contradicts, a variable input without a range).
EngineBuildResult build_engine(const EngineBuildRequest& request);

}  // namespace kiln
