#pragma once
// `kiln build`'s library half: an ONNX model and optimization profiles in, an engine file's bytes out. Lives in
// src/api because it builds a Session::Impl (validation, the graph passes, prepare) exactly as loading the ONNX
// file would, so an engine runs the graph a session of the same model and options would run.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/profiles.h"
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
};

struct EngineBuildResult {
  std::vector<uint8_t> bytes;  ///< the engine file
  size_t nodes_before = 0, nodes_after = 0;
  std::vector<passes::PassRun> pass_runs;
  double seconds = 0;
};

/// Loads the model, checks the profiles against it (engine::check_profiles_fit_model), folds the dims every
/// profile fixes, runs the passes and prepares the graph as a session would, and writes the engine: profiles,
/// build options, the optimized model as ONNX. Throws Error naming what is wrong (an input the model lacks, a
/// rank or fixed dim the profile contradicts, a variable input without a range).
EngineBuildResult build_engine(const EngineBuildRequest& request);

}  // namespace kiln
