#include "api/engine_build.h"

#include <chrono>
#include <cmath>
#include <random>
#include <optional>

#include "api/engine_packed.h"
#include "api/engine_tactics.h"
#include "api/session_impl.h"
#include "engine/build_options.h"
#include "engine/engine_file.h"
#include "kernels/isa.h"
#include "onnx/loader.h"
#include "onnx/writer.h"
#include "runtime/executor.h"
#include "runtime/run_state.h"

namespace kiln {

namespace {

/// Plans the graph at every profile's min and max shapes (inference and memory planning, no kernel runs), so a
/// profile the model cannot run at fails the build, naming the profile and the shapes, rather than the first
/// run at that size. (Models fed sequences or optionals are planned at run time only.)
void plan_at_profile_corners(Session::Impl& impl, const std::vector<engine::Profile>& profiles) {
  const ir::Graph& g = *impl.model.graph;
  for (int id : g.required_inputs())
    if (g.value(id).type.kind != ir::ValueKind::kTensor) return;
  for (size_t pi = 0; pi < profiles.size(); ++pi)
    for (bool at_max : {false, true}) {
      std::unordered_map<int, ops::ValueInfo> fed;
      std::string shapes;
      for (int id : g.required_inputs()) {
        const ir::Value& v = g.value(id);
        const engine::InputRange* r = profiles[pi].find(v.name);
        Shape shape = r ? Shape::from(at_max ? r->max : r->min) : v.type.shape;
        if (r) shapes += fmt::format("{}{}={}", shapes.empty() ? "" : " ", v.name, dims_str(at_max ? r->max : r->min));
        fed[id] = ops::ValueInfo(v.type.dtype, std::move(shape));
      }
      try {
        impl.plan_for(g, fed, nullptr);
      } catch (const Error& e) {
        throw Error(e.code(), fmt::format("the model cannot run at the {} shapes of profile {} ({}): {}; change "
                                          "the --{} sizes", at_max ? "max" : "min", pi, shapes, e.what(),
                                          at_max ? "max" : "min"));
      }
    }
}

/// A plan of the graph at `profile`'s opt shapes, for its value infos (inference only: not cached, no kernel runs,
/// no prepared kernels); null when an input is not a tensor. Keep it while its infos are used: their constants'
/// `value`s point into it.
std::shared_ptr<const runtime::Plan> opt_plan(const Session::Impl& impl, const engine::Profile& profile) {
  const ir::Graph& g = *impl.model.graph;
  std::unordered_map<int, ops::ValueInfo> fed;
  for (int id : g.required_inputs()) {
    const ir::Value& v = g.value(id);
    if (v.type.kind != ir::ValueKind::kTensor) return nullptr;
    const engine::InputRange* r = profile.find(v.name);
    fed[id] = ops::ValueInfo(v.type.dtype, r ? Shape::from(r->opt) : v.type.shape);
  }
  try {
    return runtime::Plan::build(g, impl.opsets, fed, impl.limits);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("the model cannot run at the opt shapes of profile 0: {}; change the --opt "
                                      "sizes", e.what()));
  }
}

// The chosen tactics are kept when the network runs at most this fraction of the rules' time (a 1 % edge: less
// is within what two runs of one engine differ by).
constexpr double kNetworkMargin = 0.99;

struct NetworkTimes {
  double chosen_ms = -1, rule_ms = -1;
  bool from_cache = false;
};

/// The whole graph at `profile`'s opt shapes on random inputs, prepared by the rules (`rule`) and with the chosen
/// tactics (`chosen`), run in turns (`runs` rounds after a warm-up; the fastest run of each counts) on impl's
/// pool; or the timings `timings` holds under `key`. Not measured (negative) when an input is not a float32
/// tensor of known size (random data would not do for indices).
NetworkTimes time_network(Session::Impl& impl, const engine::Profile& profile, const runtime::PreparedGraph& rule,
                          const runtime::PreparedGraph& chosen, int runs, TacticTimings& timings,
                          const std::string& key) {
  NetworkTimes times;
  auto cached_rule = timings.by_key.find({key, "rules"}), cached_chosen = timings.by_key.find({key, "chosen"});
  if (cached_rule != timings.by_key.end() && cached_chosen != timings.by_key.end()) {
    times.rule_ms = cached_rule->second.ms, times.chosen_ms = cached_chosen->second.ms;
    times.from_cache = true;
    return times;
  }
  const ir::Graph& g = *impl.model.graph;
  std::unordered_map<int, ops::ValueInfo> fed;
  std::unordered_map<int, Tensor> feeds;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int id : g.required_inputs()) {
    const ir::Value& v = g.value(id);
    const engine::InputRange* r = profile.find(v.name);
    if (v.type.kind != ir::ValueKind::kTensor || v.type.dtype != DType::kFloat32) return times;
    if (!r && !v.type.shape.is_concrete()) return times;
    const std::vector<int64_t> dims = r ? r->opt : v.type.shape.values();
    Tensor t(DType::kFloat32, dims);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
    fed[id] = ops::ValueInfo(DType::kFloat32, Shape::from(dims));
    feeds.emplace(id, std::move(t));
  }
  const std::shared_ptr<const runtime::Plan> plans[2] = {
      runtime::Plan::build(g, impl.opsets, fed, impl.limits, &chosen),
      runtime::Plan::build(g, impl.opsets, fed, impl.limits, &rule)};
  runtime::RunControl control = impl.control_for(RunOptions{});
  runtime::MemoryStats memory;
  runtime::RunState states[2] = {runtime::RunState(*plans[0]), runtime::RunState(*plans[1])};
  double best[2] = {INFINITY, INFINITY};
  for (int r = -1; r < std::max(3, runs); ++r)  // round -1 warms up
    for (int k = 0; k < 2; ++k) {
      const int i = (r & 1) ? 1 - k : k;  // the order alternates
      runtime::Executor executor(*plans[i], control, memory, states[i]);
      const auto t0 = std::chrono::steady_clock::now();
      executor.run(feeds);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (r >= 0) best[i] = std::min(best[i], ms);
    }
  times.chosen_ms = best[0], times.rule_ms = best[1];
  timings.by_key[{key, "chosen"}] = {times.chosen_ms, true, false};
  timings.by_key[{key, "rules"}] = {times.rule_ms, true, false};
  timings.added += 2;
  return times;
}

}  // namespace

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
  std::vector<engine::FoldedDim> folded = engine::fold_fixed_dims(*model.graph, request.profiles);

  stage("optimizing");
  SessionOptions options;
  options.graph_optimization_level = request.level;
  options.disabled_passes = request.disabled_passes;
  options.intra_op_threads = request.threads;
  // The session validates and prepares too, so a model that would fail at load fails at build, named.
  // What prepare packs, saved in the engine and used in place when it is loaded (a new one when tactics other
  // than the rules' are prepared below).
  auto recorder = std::make_unique<PackedRecorder>();
  TacticChooser tactics;  // records which nodes offer tactics; the rules choose in this first prepare
  std::optional<ops::TacticScope> scope(&tactics);
  Session::Impl impl(std::move(model), options, recorder.get(), request.on_pass);
  scope.reset();
  result.nodes_after = impl.model.graph->nodes.size();
  if (request.tactic_runs > 0) {
    stage("timing tactics at the opt shape");
    auto warn = [&](std::string w) {
      if (request.warn) request.warn(w);
      result.warnings.push_back(std::move(w));
    };
    TacticTimings timings;
    if (!request.timing_cache.empty()) read_timing_cache(request.timing_cache, timings, warn);
    const std::shared_ptr<const runtime::Plan> plan = opt_plan(impl, request.profiles.front());
    result.tactics = tactics.time_all(impl, plan ? plan->infos() : std::vector<ops::ValueInfo>{},
                                      request.tactic_runs, timings, request.on_tactic);
    result.tactics_measured = timings.added;
    for (const engine::TacticRecord& r : result.tactics) result.tactics_from_cache += r.from_cache;
    if (tactics.any_differs_from_rule()) {  // prepared again with the choices, packing for them
      stage("preparing the chosen tactics");
      auto chosen_recorder = std::make_unique<PackedRecorder>();
      std::shared_ptr<const runtime::PreparedGraph> chosen;
      {
        const ops::TacticScope scope_chosen(&tactics);
        chosen = runtime::PreparedGraph::build(*impl.model.graph, impl.opsets, impl.limits, chosen_recorder.get());
      }
      // Nodes timed alone can mislead (warm weights, another split of the threads than in the network), so the
      // choices are kept only where the whole network at the opt shape runs faster with them than with the rules.
      stage("checking the chosen tactics on the whole network");
      const NetworkTimes net = time_network(impl, request.profiles.front(), *impl.prepared, *chosen,
                                            request.tactic_runs, timings, tactics.network_key());
      result.network_chosen_ms = net.chosen_ms, result.network_rule_ms = net.rule_ms;
      result.network_from_cache = net.from_cache;
      if (net.rule_ms >= 0 && !(net.chosen_ms < net.rule_ms * kNetworkMargin)) {
        result.tactics = tactics.back_to_rules();
        result.kept_rules = true;
      } else {
        impl.prepared = std::move(chosen);
        recorder = std::move(chosen_recorder);
      }
    }
    if (!request.timing_cache.empty() && timings.added > 0) write_timing_cache(request.timing_cache, timings, warn);
  }
  stage("planning at the profiles' min and max shapes");
  plan_at_profile_corners(impl, request.profiles);
  result.pass_runs = impl.pass_runs;

  stage("writing");
  engine::BuildOptions built;
  built.source_model = request.model_path;
  built.level = request.level;
  built.disabled_passes = request.disabled_passes;
  built.folded_dims = std::move(folded);
  built.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto [packed_index, packed_data] = write_packed_sections(impl, *recorder);  // before the model: it moves weights
  std::vector<engine::Section> sections = {
      {engine::SectionKind::kProfiles, engine::encode_profiles(request.profiles)},
      {engine::SectionKind::kBuildOptions, engine::encode_build_options(built)},
      {engine::SectionKind::kModel, onnx::serialize_model(impl.model)},
  };
  if (!packed_index.empty()) {
    sections.push_back({engine::SectionKind::kPackedWeights, std::move(packed_index)});
    sections.push_back({engine::SectionKind::kPackedData, std::move(packed_data)});
  }
  if (!result.tactics.empty()) sections.push_back({engine::SectionKind::kTactics, engine::encode_tactics(result.tactics)});
  result.bytes = engine::write_engine(sections, kernels::active_isa());
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace kiln
