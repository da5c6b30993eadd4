// kiln inspect MODEL [--json]: what a model holds and whether kiln can run it. For an engine (.kiln), also the
// engine's facts (engine_info.h), then the optimized model it holds.

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "api/engine_load.h"
#include "api/model_summary.h"
#include "engine_info.h"
#include "cli_util.h"
#include "commands.h"
#include "onnx/loader.h"

namespace kiln::cli {

namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
};

// "float", or for containers "seq(float)", "opt(float)", "opt(seq(float))".
std::string type_label(const IoInfo& io) {
  std::string t(dtype_name(io.dtype));
  if (io.kind == TensorKind::kSequence || io.holds == TensorKind::kSequence) t = "seq(" + t + ")";
  if (io.kind == TensorKind::kOptional) t = "opt(" + t + ")";
  return t;
}

nlohmann::json io_json(const IoInfo& io) {
  nlohmann::json dims = nlohmann::json::array();
  if (io.shape.rank_known)
    for (const Dim& d : io.shape.dims) {
      if (d.is_known()) dims.push_back(d.value());
      else if (d.is_symbol()) dims.push_back(d.symbol_name());
      else dims.push_back(nullptr);
    }
  nlohmann::json j = {{"name", io.name}, {"dtype", std::string(dtype_name(io.dtype))},
                      {"shape", io.shape.rank_known ? dims : nlohmann::json(nullptr)}};
  if (io.kind != TensorKind::kTensor) {  // dtype and shape then describe the tensors inside
    j["kind"] = tensor_kind_name(io.kind);
    if (io.kind == TensorKind::kOptional) j["holds"] = tensor_kind_name(io.holds);
  }
  return j;
}

nlohmann::json to_json(const ModelSummary& s, const std::string& path) {
  nlohmann::json j;
  j["model"] = path;
  j["ir_version"] = s.info.ir_version;
  j["producer"] = {{"name", s.info.producer_name}, {"version", s.info.producer_version}};
  j["graph"] = s.info.graph_name;
  j["opsets"] = nlohmann::json::object();
  for (const auto& [d, v] : s.info.opsets) j["opsets"][d.empty() ? "ai.onnx" : d] = v;
  for (const char* key : {"inputs", "overridable_initializers", "outputs"}) j[key] = nlohmann::json::array();
  for (const IoInfo& io : s.inputs) j["inputs"].push_back(io_json(io));
  for (const IoInfo& io : s.overridable) j["overridable_initializers"].push_back(io_json(io));
  for (const IoInfo& io : s.outputs) j["outputs"].push_back(io_json(io));
  j["nodes"] = s.nodes;
  j["ops"] = s.op_counts;
  j["parameters"] = {{"count", s.parameters}, {"bytes", s.parameter_bytes}};
  j["unsupported"] = nlohmann::json::array();
  for (const OpProblem& p : s.op_problems)
    j["unsupported"].push_back({{"op", p.op}, {"count", p.count}, {"nodes", p.nodes}, {"reason", p.reason}});
  j["metadata"] = nlohmann::json::object();
  for (const auto& [k, v] : s.info.metadata) j["metadata"][k] = v;
  return j;
}

void print_text(const ModelSummary& s, const std::string& path) {
  std::string opsets;
  for (const auto& [d, v] : s.info.opsets) opsets += fmt::format("{}{} {}", opsets.empty() ? "" : ", ", d.empty() ? "ai.onnx" : d, v);
  fmt::print("model      {}\n", path);
  fmt::print("format     IR version {}, opsets: {}\n", s.info.ir_version, opsets);
  fmt::print("producer   {} {}\n", s.info.producer_name, s.info.producer_version);
  for (const IoInfo& io : s.inputs) fmt::print("input      {:<24} {:<8} {}\n", io.name, type_label(io), io.shape.str());
  for (const IoInfo& io : s.outputs) fmt::print("output     {:<24} {:<8} {}\n", io.name, type_label(io), io.shape.str());
  if (!s.overridable.empty())
    fmt::print("note       {} initializers are also graph inputs (a caller may override them)\n", s.overridable.size());
  fmt::print("parameters {} ({})\n", s.parameters, human_bytes(static_cast<double>(s.parameter_bytes)));
  fmt::print("nodes      {}\n", s.nodes);
  std::vector<std::pair<int, std::string>> ops;
  for (const auto& [op, n] : s.op_counts) ops.emplace_back(-n, op);
  std::sort(ops.begin(), ops.end());
  for (const auto& [n, op] : ops) fmt::print("  {:<28} {}\n", op, -n);
  if (s.op_problems.empty()) {
    fmt::print("kiln can run every node of this model\n");
  } else {
    fmt::print("kiln cannot run:\n");
    for (const OpProblem& p : s.op_problems)
      fmt::print("  {} x{} (nodes {}{}): {}\n", p.op, p.count, fmt::join(p.nodes, ", "),
                 p.count > static_cast<int>(p.nodes.size()) ? ", ..." : "", p.reason);
  }
}

}  // namespace

Runner add_inspect(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show a model's (or an engine's) inputs, outputs, opsets, ops, parameters and profiles");
  cmd->add_option("model", args->model, "ONNX model or kiln engine file")->required();
  cmd->add_flag("--json", args->json, "Print JSON instead of text");
  return [args]() {
    const bool is_engine = file_is_engine(args->model);
    engine::EngineFacts facts;
    ir::Model model = is_engine ? load_engine_model(args->model, facts) : onnx::load_model(args->model);
    ModelSummary s = summarize(model);
    if (args->json) {
      nlohmann::json j = to_json(s, args->model);
      if (is_engine) j["engine"] = engine_facts_json(facts);
      std::cout << j.dump(2) << "\n";
    } else {
      if (is_engine) print_engine_facts(facts);
      print_text(s, args->model);
    }
    return 0;
  };
}

}  // namespace kiln::cli
