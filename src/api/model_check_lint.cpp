// check: lint — unused initializers, initializers that are also graph inputs, domains used but not imported,
// outputs with no type, duplicate names, stray float64 in a float32 model.

#include <set>

#include "api/model_check.h"
#include "runtime/plan.h"

namespace kiln {

namespace {

std::string first_names(const std::vector<std::string>& names) {
  std::vector<std::string> shown(names.begin(), names.begin() + static_cast<long>(std::min<size_t>(names.size(), 5)));
  return fmt::format("'{}'{}", fmt::join(shown, "', '"), names.size() > shown.size() ? ", ..." : "");
}

void collect_domains(const ir::Graph& g, std::set<std::string>& domains) {
  for (const ir::Node& n : g.nodes) {
    domains.insert(n.domain == "ai.onnx" ? "" : n.domain);
    for (const ir::Attribute& a : n.attributes) {
      if (a.g) collect_domains(*a.g, domains);
      for (const auto& sub : a.graphs) collect_domains(*sub, domains);
    }
  }
}

void lint_initializers(const ir::Graph& g, std::vector<Finding>& out) {
  std::vector<char> read(g.values.size(), 0);
  for (const ir::Node& n : g.nodes) {
    for (int v : n.inputs)
      if (v >= 0) read[static_cast<size_t>(v)] = 1;
    std::vector<std::string> outer;
    for (const ir::Attribute& a : n.attributes) {
      if (a.g) runtime::collect_outer_names(*a.g, outer);
      for (const auto& sub : a.graphs) runtime::collect_outer_names(*sub, outer);
    }
    for (const std::string& name : outer)
      if (int v = g.find(name); v >= 0) read[static_cast<size_t>(v)] = 1;
  }
  for (int v : g.outputs) read[static_cast<size_t>(v)] = 1;
  std::vector<std::string> unused, overridable;
  for (const auto& [id, t] : g.initializers) {
    if (!read[static_cast<size_t>(id)]) unused.push_back(g.value(id).name);
    if (std::find(g.inputs.begin(), g.inputs.end(), id) != g.inputs.end()) overridable.push_back(g.value(id).name);
  }
  std::sort(unused.begin(), unused.end());
  std::sort(overridable.begin(), overridable.end());
  if (!unused.empty())
    out.push_back({Severity::kWarning, "unused-initializer", "initializers",
                   fmt::format("{} initializer{} no node reads: {}", unused.size(), unused.size() == 1 ? "" : "s",
                               first_names(unused)),
                   "they only make the file bigger; remove them (onnx's optimizer or onnxsim does)"});
  if (!overridable.empty())
    out.push_back({Severity::kInfo, "initializer-is-input", "initializers",
                   fmt::format("{} initializer{} also listed as graph inputs ({}): a caller may override them, which "
                               "prevents constant folding", overridable.size(), overridable.size() == 1 ? " is" : "s are",
                               first_names(overridable)),
                   "export with keep_initializers_as_inputs=False (the default for opset >= 9)"});
}

void lint_types(const ir::Graph& g, std::vector<Finding>& out) {
  for (int id : g.outputs)
    if (!g.value(id).type.has_type)
      out.push_back({Severity::kWarning, "untyped-output", fmt::format("output '{}'", g.value(id).name),
                     "the output has no declared type", "export with output_names so the exporter records types"});
  std::vector<std::string> f64;
  size_t f32 = 0;
  auto count = [&](const std::string& name, DType t) {
    if (t == DType::kFloat64) f64.push_back(name);
    if (t == DType::kFloat32) ++f32;
  };
  for (const auto& [id, t] : g.initializers) count(g.value(id).name, t.dtype());
  for (int id : g.inputs)
    if (!g.is_initializer(id)) count(g.value(id).name, g.value(id).type.dtype);
  std::sort(f64.begin(), f64.end());
  if (!f64.empty() && f32 > f64.size())
    out.push_back({Severity::kWarning, "mixed-float64", "model",
                   fmt::format("{} value{} float64 ({}) where the rest of the model is float32: float64 runs slower "
                               "and forces Casts", f64.size(), f64.size() == 1 ? " is" : "s are", first_names(f64)),
                   "create these tensors as float32 in the PyTorch model (torch.tensor(..., dtype=torch.float32))"});
  std::map<std::string, int> node_names;
  for (const ir::Node& n : g.nodes)
    if (!n.name.empty()) ++node_names[n.name];
  std::vector<std::string> dup;
  for (const auto& [name, c] : node_names)
    if (c > 1) dup.push_back(name);
  if (!dup.empty())
    out.push_back({Severity::kWarning, "duplicate-name", "nodes",
                   fmt::format("{} node name{} used more than once: {}", dup.size(), dup.size() == 1 ? " is" : "s are",
                               first_names(dup)),
                   "node names should be unique so errors and profiles point at one node"});
  std::map<std::string, int> input_names;
  for (int id : g.inputs) ++input_names[g.value(id).name];
  for (int id : g.outputs) input_names[g.value(id).name] += 0;
  for (const auto& [name, c] : input_names)
    if (c > 1)
      out.push_back({Severity::kError, "duplicate-name", fmt::format("input '{}'", name),
                     "the graph lists this input more than once", "give each graph input a unique name"});
}

}  // namespace

void check_lint(const ir::Model& model, std::vector<Finding>& out) {
  const ir::Graph& g = *model.graph;
  lint_initializers(g, out);
  lint_types(g, out);
  std::set<std::string> domains;
  collect_domains(g, domains);
  for (const std::string& d : domains)
    if (model.opset(d) == 0)
      out.push_back({Severity::kError, "missing-opset-import", fmt::format("domain '{}'", d.empty() ? "ai.onnx" : d),
                     "nodes use this domain but the model imports no opset for it, so their semantics are undefined",
                     "add an opset_import entry for the domain (torch.onnx.export always writes one for ai.onnx)"});
}

}  // namespace kiln
