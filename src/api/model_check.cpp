#include "api/model_check.h"

#include <algorithm>
#include <iterator>

#include "api/engine_load.h"
#include "api/node_validation.h"
#include "api/op_support.h"
#include "onnx/loader.h"

namespace kiln {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: return "info";
  }
  return "?";
}

bool CheckReport::will_run() const {
  for (const Finding& f : findings)
    if (f.severity == Severity::kError) return false;
  return true;
}

const Finding* CheckReport::first() const {
  for (const Finding& f : findings)
    if (f.severity != Severity::kInfo) return &f;
  return nullptr;
}

void order_findings(std::vector<Finding>& findings) {
  // Among errors, the ones that explain others come first: an unreadable file or broken graph explains
  // everything; weights missing (export_params=False) explain shape and node failures downstream; an opset
  // mismatch or an op kiln lacks explains a node failing.
  static const char* const kCauses[] = {"unreadable-model", "invalid-graph", "missing-weights", "opset-mismatch",
                                        "unsupported-op", "missing-opset-import"};
  auto rank = [](const Finding& f) {
    int cause = static_cast<int>(std::size(kCauses));
    for (int i = 0; i < static_cast<int>(std::size(kCauses)); ++i)
      if (f.kind == kCauses[i]) cause = i;
    return std::make_pair(static_cast<int>(f.severity), f.severity == Severity::kError ? cause : 0);
  };
  std::stable_sort(findings.begin(), findings.end(),
                   [&](const Finding& a, const Finding& b) { return rank(a) < rank(b); });
}

namespace {

// What to do about a file the reader refused, by what was wrong with it.
std::string unreadable_fix(const Error& e) {
  std::string_view msg = e.what();
  if (msg.find("external data") != std::string_view::npos)
    return "keep external data inside the model's folder as regular files (no links, absolute paths or '..'), "
           "with offsets and lengths inside them: onnx.save_model(model, path, save_as_external_data=True) "
           "writes them so";
  if (e.code() == ErrorCode::kLimitExceeded)
    return "the model nests subgraphs deeper than kiln accepts (SessionOptions::max_nesting); flatten the "
           "control flow";
  if (e.code() == ErrorCode::kUnsupported)
    return "re-export with an onnx (and torch) whose IR version kiln reads";
  if (msg.find("not an ONNX model") != std::string_view::npos)
    return "give kiln the .onnx file that torch.onnx.export or onnx.save wrote";
  return "re-export the model; if it came from another tool, check that the file is complete";
}

}  // namespace

CheckReport check_model(const std::string& path, const std::map<std::string, std::vector<int64_t>>& shapes) {
  CheckReport report;
  report.path = path;
  auto& out = report.findings;
  ir::Model model;
  if (file_is_engine(path)) {  // checked at build time; what it was built from is the file to check
    out.push_back({Severity::kError, "engine-not-model", path, "the file is a kiln engine (made by kiln build), not an "
                   "ONNX model", "check the ONNX model it was built from (kiln inspect names it); kiln run, bench and "
                   "inspect take the engine itself"});
    return report;
  }
  try {
    model = onnx::load_model(path);
    if (!model.graph) throw Error(ErrorCode::kInvalidModel, "the model has no graph");
  } catch (const Error& e) {
    out.push_back({Severity::kError, "unreadable-model", path, e.what(), unreadable_fix(e)});
    return report;
  }
  bool structure_ok = true;
  try {
    ir::validate(*model.graph);
  } catch (const Error& e) {
    structure_ok = false;
    out.push_back({Severity::kError, "invalid-graph", "graph", e.what(), "the graph is malformed; re-export it"});
  }
  check_inputs(model, out);
  check_opsets(model, out);
  for (const OpProblem& p : find_op_problems(model)) {
    // Ops that exist but not at the declared opset are check_opsets' findings, with the standard's ranges.
    if (p.kind == OpProblem::Kind::kNotYetAtOpset || p.kind == OpProblem::Kind::kRemovedAtOpset) continue;
    std::string nodes = fmt::format("'{}'", fmt::join(p.nodes, "', '"));
    if (p.count > static_cast<int>(p.nodes.size())) nodes += ", ...";
    out.push_back({Severity::kError, "unsupported-op", fmt::format("op {} ({} node{}: {})", p.op, p.count,
                   p.count == 1 ? "" : "s", nodes), p.reason,
                   p.kind == OpProblem::Kind::kDomainNotImported
                       ? "add the domain to the model's opset_import"
                       : "kiln cannot run this operator yet; if it is a custom op, replace it before export"});
  }
  if (structure_ok) {
    for (NodeProblem& p : validate_nodes(model))
      out.push_back({Severity::kError, p.code == ErrorCode::kUnsupported ? "unsupported-op" : "invalid-node", p.where,
                     std::move(p.message),
                     p.code == ErrorCode::kUnsupported
                         ? "kiln cannot run this node as it is"
                         : "the node breaks its operator's rules whatever the input sizes; fix its attributes "
                           "(or the exporter that wrote them)"});
  }
  check_lint(model, out);
  if (structure_ok && report.will_run()) check_shapes(model, shapes, out);
  order_findings(out);
  return report;
}

}  // namespace kiln
