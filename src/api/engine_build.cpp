#include "api/engine_build.h"

#include <chrono>

#include "api/session_impl.h"
#include "engine/build_options.h"
#include "engine/engine_file.h"
#include "kernels/isa.h"
#include "onnx/loader.h"
#include "onnx/writer.h"

namespace kiln {

EngineBuildResult build_engine(const EngineBuildRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  auto stage = [&](const char* name) {
    if (request.on_stage) request.on_stage(name);
  };
  stage("loading");
  ir::Model model = onnx::load_model(request.model_path);
  if (!model.graph) fail(ErrorCode::kInvalidModel, "{}: the model has no graph", request.model_path);
  EngineBuildResult result;
  result.nodes_before = model.graph->nodes.size();
  engine::check_profiles_fit_model(*model.graph, request.profiles);
  engine::fold_fixed_dims(*model.graph, request.profiles);

  stage("optimizing");
  SessionOptions options;
  options.graph_optimization_level = request.level;
  options.disabled_passes = request.disabled_passes;
  options.intra_op_threads = request.threads;
  // The session validates and prepares too, so a model that would fail at load fails at build, named.
  Session::Impl impl(std::move(model), options);
  result.nodes_after = impl.model.graph->nodes.size();
  result.pass_runs = impl.pass_runs;

  stage("writing");
  engine::BuildOptions built;
  built.source_model = request.model_path;
  built.level = request.level;
  built.disabled_passes = request.disabled_passes;
  built.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<engine::Section> sections = {
      {engine::SectionKind::kProfiles, engine::encode_profiles(request.profiles)},
      {engine::SectionKind::kBuildOptions, engine::encode_build_options(built)},
      {engine::SectionKind::kModel, onnx::serialize_model(impl.model)},
  };
  result.bytes = engine::write_engine(sections, kernels::active_isa());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace kiln
