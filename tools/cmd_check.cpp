// kiln check MODEL [--shape NAME=DIMS]... [--json]: every problem at once, each with its fix.
// Exit status 0 when the model will run (no error findings), 1 otherwise.

#include <nlohmann/json.hpp>

#include <iostream>

#include "api/model_check.h"
#include "cli_util.h"
#include "commands.h"

namespace kiln::cli {

namespace {

struct CheckArgs {
  std::string model;
  std::vector<std::string> shapes;
  bool json = false;
};

void print_text(const CheckReport& r) {
  fmt::print("kiln check {}\n", r.path);
  int errors = 0, warnings = 0;
  for (const Finding& f : r.findings) {
    errors += f.severity == Severity::kError;
    warnings += f.severity == Severity::kWarning;
    fmt::print("\n{}: [{}] {}\n  {}\n  fix: {}\n", severity_name(f.severity), f.kind, f.where, f.message, f.fix);
  }
  if (!r.findings.empty()) fmt::print("\n");
  // The summary ends with what to do first, so that a long report still leads to its cause.
  std::string first;
  if (const Finding* f = r.first())
    first = fmt::format(". {}: {} ([{}] {})", r.will_run() ? "Worth doing" : "Do this first", f->fix, f->kind,
                        f->where);
  fmt::print("{}: {} error{}, {} warning{}{}\n", r.will_run() ? "OK, the model will run" : "FAILED, the model will not run",
             errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s", first);
}

nlohmann::json to_json(const CheckReport& r) {
  nlohmann::json j;
  j["model"] = r.path;
  j["will_run"] = r.will_run();
  if (const Finding* f = r.first()) j["first"] = {{"kind", f->kind}, {"where", f->where}, {"fix", f->fix}};
  j["findings"] = nlohmann::json::array();
  for (const Finding& f : r.findings)
    j["findings"].push_back({{"severity", severity_name(f.severity)}, {"kind", f.kind}, {"where", f.where},
                             {"message", f.message}, {"fix", f.fix}});
  return j;
}

}  // namespace

Runner add_check(CLI::App& app) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand("check", "Find what will go wrong with a model, and how to fix it");
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("--shape,-s", args->shapes, "NAME=DIMS: check the model at this input size");
  cmd->add_flag("--json", args->json, "Print JSON instead of text");
  return [args]() {
    CheckReport report = check_model(args->model, parse_shape_args(args->shapes));
    if (args->json) std::cout << to_json(report).dump(2) << "\n";
    else print_text(report);
    return report.will_run() ? 0 : 1;
  };
}

}  // namespace kiln::cli
