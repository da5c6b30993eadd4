// check: nodes whose op, input count or attributes do not exist at the model's declared opset, with the
// opsets where that form does exist (from the ONNX standard's schemas).

#include "api/model_check.h"
#include "ops/onnx_schema_table.h"

namespace kiln {

namespace {

// "2", "1 to 3" or "1 or more" (variadic schemas store INT32_MAX as the maximum).
std::string count_range(int lo, int hi) {
  if (hi >= (1 << 30)) return fmt::format("{} or more", lo);
  return lo == hi ? fmt::format("{}", lo) : fmt::format("{} to {}", lo, hi);
}

// "opset 11", "opsets 11-12" or "opset 11 and later": versions [first, last] of the list, joined as one span.
std::string span_of(const std::vector<const ops::StandardSchema*>& versions, size_t first, size_t last) {
  int from = versions[first]->since_version;
  if (last + 1 == versions.size()) return fmt::format("opset {} and later", from);
  int to = versions[last + 1]->since_version - 1;
  return from == to ? fmt::format("opset {}", from) : fmt::format("opsets {}-{}", from, to);
}

// The spans where `accepts` holds, neighbours merged ("opsets 1-10, opset 13 and later"), or "" when none.
template <typename F>
std::string spans_where(const std::vector<const ops::StandardSchema*>& versions, F accepts) {
  std::vector<std::string> spans;
  for (size_t i = 0; i < versions.size();) {
    if (versions[i]->deprecated || !accepts(*versions[i])) {
      ++i;
      continue;
    }
    size_t last = i;
    while (last + 1 < versions.size() && !versions[last + 1]->deprecated && accepts(*versions[last + 1])) ++last;
    spans.push_back(span_of(versions, i, last));
    i = last + 1;
  }
  return fmt::format("{}", fmt::join(spans, ", "));
}

void check_node(const ir::Node& node, size_t index, int opset, std::vector<Finding>& out) {
  auto versions = ops::standard_versions(node.op_type);
  if (versions.empty()) return;  // not a standard op: the op-support finding covers it
  std::string where = node.label(index);
  std::string fix_opset = "re-export with a torch.onnx.export opset_version in that range, or change the node";
  const ops::StandardSchema* s = ops::standard_schema(node.op_type, opset);
  if (!s) {
    out.push_back({Severity::kError, "opset-mismatch", where,
                   fmt::format("{} does not exist at the model's opset {}; it exists from opset {}", node.op_type,
                               opset, versions.front()->since_version),
                   fmt::format("re-export with opset_version={} or later", versions.front()->since_version)});
    return;
  }
  if (s->deprecated) {
    out.push_back({Severity::kError, "opset-mismatch", where,
                   fmt::format("{} was removed at opset {} and the model declares opset {}; it exists at {}",
                               node.op_type, s->since_version, opset,
                               spans_where(versions, [](const auto&) { return true; })),
                   node.op_type == "Upsample" ? "use Resize at this opset (PyTorch exports it for opset >= 10)"
                                              : "re-export at an opset where the op exists"});
    return;
  }
  int n_in = static_cast<int>(node.inputs.size()), n_out = static_cast<int>(node.outputs.size());
  if (n_in < s->min_inputs || n_in > s->max_inputs)
    out.push_back({Severity::kError, "opset-mismatch", where,
                   fmt::format("{}-{} (in force at the model's opset {}) takes {} inputs, but the node has {}; "
                               "the {}-input form exists at {}", node.op_type, s->since_version, opset,
                               count_range(s->min_inputs, s->max_inputs), n_in, n_in,
                               spans_where(versions, [&](const auto& v) {
                                 return n_in >= v.min_inputs && n_in <= v.max_inputs;
                               })),
                   fix_opset});
  if (n_out < s->min_outputs || n_out > s->max_outputs)
    out.push_back({Severity::kError, "opset-mismatch", where,
                   fmt::format("{}-{} produces {} outputs, but the node lists {}", node.op_type, s->since_version,
                               count_range(s->min_outputs, s->max_outputs), n_out),
                   fix_opset});
  for (const ir::Attribute& a : node.attributes) {
    if (s->has_attribute(a.name)) continue;
    std::string where_exists = spans_where(versions, [&](const auto& v) { return v.has_attribute(a.name); });
    out.push_back({Severity::kError, "opset-mismatch", where,
                   fmt::format("attribute '{}' does not exist in {}-{} (the model's opset {}){}", a.name,
                               node.op_type, s->since_version, opset,
                               where_exists.empty() ? "" : "; it exists at " + where_exists),
                   where_exists.empty() ? "remove the attribute" : fix_opset});
  }
}

void check_graph(const ir::Graph& g, int opset, std::vector<Finding>& out) {
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    if (node.domain.empty() || node.domain == "ai.onnx") check_node(node, n, opset, out);
    for (const ir::Attribute& a : node.attributes) {
      if (a.g) check_graph(*a.g, opset, out);
      for (const auto& sub : a.graphs) check_graph(*sub, opset, out);
    }
  }
}

}  // namespace

void check_opsets(const ir::Model& model, std::vector<Finding>& out) {
  int opset = static_cast<int>(model.opset(""));
  if (opset > ops::newest_standard_opset()) {
    out.push_back(unreleased_opset_finding(opset));
    return;
  }
  if (opset > 0) check_graph(*model.graph, opset, out);
}

Finding unreleased_opset_finding(int64_t opset) {
  const int newest = ops::newest_standard_opset();
  Finding f;
  f.kind = "unreleased-opset";
  f.where = "opset_import ai.onnx";
  f.message = fmt::format("the model imports ai.onnx opset {}, newer than any released one kiln knows ({} is the "
                          "newest): what its operators mean there is not known", opset, newest);
  f.fix = fmt::format("export with opset_version={} or lower (torch.onnx.export(..., opset_version={}))", newest,
                      newest);
  return f;
}

}  // namespace kiln
