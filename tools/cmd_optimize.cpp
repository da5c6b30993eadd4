// kiln optimize MODEL [--level N] [--disable-pass NAME]... [--output FILE] [--json]: what the graph passes do to a
// model (the session runs the same pipeline when it loads it), pass by pass, and optionally the rewritten model.
// The written file holds kiln's own ops (domain ai.kiln): it is for reading (e.g. in Netron), not for other
// runtimes.

#include <nlohmann/json.hpp>

#include <iostream>
#include <map>

#include "api/session_impl.h"
#include "commands.h"
#include "onnx/writer.h"

namespace kiln::cli {

namespace {

struct OptimizeArgs {
  std::string model, output;
  int level = SessionOptions{}.graph_optimization_level;
  std::vector<std::string> disabled;
  bool json = false;
};

std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> counts;
  for (const ir::Node& n : g.nodes) ++counts[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
  return counts;
}

int optimize_command(const OptimizeArgs& args) {
  SessionOptions options;
  options.graph_optimization_level = 0;
  const size_t before = Session::from_file(args.model, options).impl().model.graph->nodes.size();
  options.graph_optimization_level = args.level;
  options.disabled_passes = args.disabled;
  Session session = Session::from_file(args.model, options);
  const Session::Impl& impl = session.impl();
  const std::map<std::string, int> ops = op_counts(*impl.model.graph);
  if (args.json) {
    nlohmann::json j;
    j["model"] = args.model;
    j["nodes_before"] = before;
    j["nodes_after"] = impl.model.graph->nodes.size();
    j["passes"] = nlohmann::json::array();
    for (const passes::PassRun& r : impl.pass_runs)
      j["passes"].push_back({{"name", r.name}, {"changed", r.changed}, {"nodes_before", r.nodes_before},
                             {"nodes_after", r.nodes_after},
                             {"fused_nodes_made", static_cast<int64_t>(r.kiln_nodes_after) - static_cast<int64_t>(r.kiln_nodes_before)},
                             {"milliseconds", r.milliseconds}});
    j["ops"] = ops;
    std::cout << j.dump(2) << "\n";
  } else {
    fmt::print("{:<24} {:>7} {:>7} {:>8} {:>9}\n", "pass", "nodes", "removed", "ai.kiln+", "ms");
    for (const passes::PassRun& r : impl.pass_runs)
      fmt::print("{:<24} {:>7} {:>7} {:>8} {:>9.2f}\n", r.name, r.nodes_after,
                 static_cast<int64_t>(r.nodes_before) - static_cast<int64_t>(r.nodes_after),
                 static_cast<int64_t>(r.kiln_nodes_after) - static_cast<int64_t>(r.kiln_nodes_before), r.milliseconds);
    fmt::print("nodes   {} -> {}\n", before, impl.model.graph->nodes.size());
    std::string list;
    for (const auto& [op, n] : ops) list += fmt::format("{}{} {}", list.empty() ? "" : ", ", op, n);
    fmt::print("ops     {}\n", list);
  }
  if (!args.output.empty()) onnx::save_model(impl.model, args.output);
  return 0;
}

}  // namespace

Runner add_optimize(CLI::App& app) {
  auto args = std::make_shared<OptimizeArgs>();
  CLI::App* cmd = app.add_subcommand("optimize", "Show what the graph passes do to a model, pass by pass");
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("--level", args->level, "0 none, 1 basic (cleanup, folding), 2 all (fusions; the default)")
      ->check(CLI::Range(0, 2));
  cmd->add_option("--disable-pass", args->disabled, "NAME: switch one graph pass off (repeatable)");
  cmd->add_option("--output,-o", args->output, "Write the rewritten model here (it holds ai.kiln ops)");
  cmd->add_flag("--json", args->json, "Machine-readable output");
  return [args]() { return optimize_command(*args); };
}

}  // namespace kiln::cli
