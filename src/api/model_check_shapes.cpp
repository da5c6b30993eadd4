// check --shape: the given input sizes checked as `run` checks them, then inference over the whole graph at
// those sizes (catching, for instance, a Reshape whose target was baked in at export time for another size).

#include "api/model_check.h"
#include "runtime/input_check.h"
#include "runtime/plan.h"

namespace kiln {

namespace {

// A failure of inference over the whole graph, as a finding that says what kind of problem it is: a node that
// breaks its op's rules, a size over kiln's limits, or sizes that do not fit together.
Finding inference_finding(const Error& e, const char* sizes) {
  std::string msg = e.what(), where = "graph";
  // Node errors start with the node's label: "node 'fill' (ConstantOfShape): ...".
  if (size_t end = msg.find("): "); msg.rfind("node ", 0) == 0 && end != std::string::npos) {
    where = msg.substr(0, end + 1);
    msg = msg.substr(end + 3);
  }
  switch (e.code()) {
    case ErrorCode::kInvalidModel:
      return {Severity::kError, "invalid-node", where, msg,
              "the node breaks its operator's rules (attributes or inputs); fix the node or the exporter"};
    case ErrorCode::kLimitExceeded:
      return {Severity::kError, "over-limit", where, fmt::format("{}: {}", sizes, msg),
              "check the sizes this node is asked for; if the model really needs them, raise SessionOptions "
              "max_tensor_bytes / max_run_bytes"};
    case ErrorCode::kUnsupported:
      return {Severity::kError, "unsupported-op", where, msg, "kiln cannot run this node as it is"};
    default:
      return {Severity::kError, "shape-inference", where, fmt::format("{}: {}", sizes, msg),
              "the model cannot run at these sizes; if it works at the export size only, the export baked "
              "that size in: re-export with dynamic_axes"};
  }
}

}  // namespace

void check_shapes(const ir::Model& model, const std::map<std::string, std::vector<int64_t>>& shapes,
                  std::vector<Finding>& out) {
  const ir::Graph& g = *model.graph;
  for (const auto& [name, dims] : shapes) {
    int id = g.find(name);
    if (id < 0 || std::find(g.inputs.begin(), g.inputs.end(), id) == g.inputs.end())
      out.push_back({Severity::kError, "shape-mismatch", fmt::format("--shape {}", name),
                     fmt::format("'{}' is not an input of the model", name), "name one of the model's inputs"});
  }
  std::unordered_map<int, ops::ValueInfo> fed;
  runtime::SymbolBindings symbols;
  std::vector<std::string> unsized;
  bool ok = true;
  for (int id : g.required_inputs()) {
    const ir::Value& v = g.value(id);
    const ir::FlatType flat = ir::flatten_type(v.type);
    if (flat.runnable && flat.kind != TensorKind::kTensor) {  // a container: its tensors are sized at run time
      ops::ValueInfo info(flat.dtype, flat.shape);
      info.kind = flat.kind;
      info.holds = flat.holds;
      fed[id] = info;
      continue;
    }
    auto it = shapes.find(v.name);
    std::vector<int64_t> dims;
    if (it != shapes.end()) {
      dims = it->second;
    } else if (v.type.shape.is_concrete()) {
      dims = v.type.shape.values();
    } else {
      unsized.push_back(v.name);
      continue;
    }
    try {
      runtime::check_input(v, v.type.dtype, dims, symbols);
    } catch (const Error& e) {
      ok = false;
      out.push_back({Severity::kError, "shape-mismatch", fmt::format("input '{}'", v.name), e.what(),
                     "run at a size the model accepts, or re-export with dynamic_axes for this dim"});
    }
    fed[id] = {v.type.dtype, Shape::from(dims)};
  }
  for (const auto& [symbol, message] : symbols.conflicts)
    out.push_back({Severity::kWarning, "shared-symbol", fmt::format("dim '{}'", symbol), message,
                   "feed sizes that agree, or re-export naming the dims differently; `kiln run --strict-symbols` "
                   "and SessionOptions::strict_symbols refuse such feeds"});
  if (!ok) return;
  if (!unsized.empty()) {
    if (!shapes.empty())
      out.push_back({Severity::kInfo, "shape-not-checked", "inputs",
                     fmt::format("inputs {} have symbolic dims and no --shape, so the graph was not checked at a "
                                 "concrete size", fmt::format("'{}'", fmt::join(unsized, "', '"))),
                     "give every input a --shape NAME=DIMS"});
    return;
  }
  try {
    runtime::OpsetTable opsets{model.opsets};
    runtime::Plan::build(g, opsets, fed, runtime::Limits{});
  } catch (const Error& e) {
    out.push_back(inference_finding(e, shapes.empty() ? "at the declared input sizes" : "at these input sizes"));
  }
}

}  // namespace kiln
