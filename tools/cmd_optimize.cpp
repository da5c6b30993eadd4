// kiln optimize MODEL [-o OUT.onnx] [--shape NAME=DIMS]... [--level N] [--disable-pass NAME]... [--verbose] [--json]:
// the graph passes, written back as a model. At the default level (1) every pass leaves standard ONNX (cleanup,
// constant and shape folding, Conv+BatchNorm folding, constant Reshape targets with 0/-1 for symbolic dims, no-op
// removal, common subexpressions), so the output loads in other runtimes (ONNX Runtime, TensorRT): the step many
// users take before those. --shape fixes input dims first, which lets every shape chain on them fold away.
// Level 2 shows what a kiln session runs: it adds kiln's fused ops (domain ai.kiln), which only kiln loads.

#include <nlohmann/json.hpp>

#include <iostream>
#include <map>

#include "api/session_impl.h"
#include "cli_util.h"
#include "commands.h"
#include "onnx/writer.h"
#include "pass_table.h"

namespace kiln::cli {

namespace {

struct OptimizeArgs {
  std::string model, output;
  int level = 1;
  std::vector<std::string> disabled, shapes;
  bool verbose = false, json = false;
};

void print_json(const OptimizeArgs& args, size_t before, const Session::Impl& impl) {
  nlohmann::json j;
  j["model"] = args.model;
  j["level"] = args.level;
  j["nodes_before"] = before;
  j["nodes_after"] = impl.model.graph->nodes.size();
  j["passes"] = nlohmann::json::array();
  for (const passes::PassRun& r : impl.pass_runs)
    j["passes"].push_back({{"name", r.name}, {"changed", r.changed}, {"nodes_before", r.nodes_before},
                           {"nodes_after", r.nodes_after},
                           {"fused_nodes_made", static_cast<int64_t>(r.kiln_nodes_after) - static_cast<int64_t>(r.kiln_nodes_before)},
                           {"op_changes", r.op_changes}, {"milliseconds", r.milliseconds}, {"error", r.error}});
  j["ops"] = passes::op_counts(*impl.model.graph);
  if (!args.output.empty()) j["output"] = args.output;
  std::cout << j.dump(2) << "\n";
}

void print_text(const OptimizeArgs& args, size_t before, const Session::Impl& impl) {
  if (args.verbose) print_pass_table(impl.pass_runs);
  for (const passes::PassRun& r : impl.pass_runs)
    if (!r.error.empty()) fmt::print("error   {}\n", r.error);
  fmt::print("nodes   {} -> {}\n", before, impl.model.graph->nodes.size());
  fmt::print("ops     {}\n", op_list(passes::op_counts(*impl.model.graph), false));
  if (!args.output.empty())
    fmt::print("wrote   {}{}\n", args.output,
               args.level >= 2 ? " (with kiln's fused ops, domain ai.kiln: only kiln loads it; --level 1 writes "
                                 "standard ONNX)"
                               : " (standard ONNX)");
}

int optimize_command(const OptimizeArgs& args) {
  SessionOptions options;
  options.graph_optimization_level = 0;
  const size_t before = Session::from_file(args.model, options).impl().model.graph->nodes.size();
  options.graph_optimization_level = args.level;
  options.disabled_passes = args.disabled;
  options.fixed_input_shapes = parse_shape_args(args.shapes);
  Session session = Session::from_file(args.model, options);
  const Session::Impl& impl = session.impl();
  if (!args.output.empty()) onnx::save_model(impl.model, args.output);
  if (args.json) print_json(args, before, impl);
  else print_text(args, before, impl);
  return 0;
}

}  // namespace

Runner add_optimize(CLI::App& app) {
  auto args = std::make_shared<OptimizeArgs>();
  CLI::App* cmd = app.add_subcommand("optimize", "Simplify a model with kiln's graph passes and write it back as ONNX");
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("--output,-o", args->output, "Write the rewritten model here");
  cmd->add_option("--shape,-s", args->shapes,
                  "NAME=DIMS: fix this input's size first (shape computations on it fold; the output then only "
                  "takes this size)");
  cmd->add_option("--level", args->level,
                  "1 standard ONNX passes (the default: cleanup, constant and shape folding, Conv+BatchNorm, common "
                  "subexpressions); 2 also "
                  "kiln's fusions, as a kiln session runs them (output only kiln loads); 0 none")
      ->check(CLI::Range(0, 2));
  cmd->add_option("--disable-pass", args->disabled, "NAME: switch one graph pass off (repeatable)");
  cmd->add_flag("--verbose,-v", args->verbose, "List every pass and what it changed");
  cmd->add_flag("--json", args->json, "Machine-readable output");
  return [args]() { return optimize_command(*args); };
}

}  // namespace kiln::cli
