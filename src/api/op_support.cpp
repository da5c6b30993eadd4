#include "api/op_support.h"

#include <map>

#include "base/error.h"
#include "ops/op.h"

namespace kiln {

namespace {

constexpr size_t kNodesNamed = 5;

// Why kiln cannot run `node` at `opset`, or "" when it can.
std::string problem_with(const ir::Node& node, int64_t opset) {
  const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
  if (!schema) return "kiln has no implementation of this operator";
  if (opset == 0)
    return fmt::format("the model does not import domain '{}' (add an opset_import for it)",
                       node.domain.empty() ? "ai.onnx" : node.domain);
  if (ops::version_in_force(*schema, static_cast<int>(opset)) == 0)
    return fmt::format("the operator first exists at opset {}, but the model declares opset {}",
                       schema->versions.front(), opset);
  if (schema->removed_in && opset >= schema->removed_in)
    return fmt::format("the operator was removed at opset {}, and the model declares opset {}", schema->removed_in,
                       opset);
  return "";
}

void scan(const ir::Graph& g, const ir::Model& model, std::map<std::pair<std::string, std::string>, OpProblem>& out) {
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    for (const ir::Attribute& a : node.attributes) {
      if (a.g) scan(*a.g, model, out);
      for (const auto& sub : a.graphs) scan(*sub, model, out);
    }
    std::string why = problem_with(node, model.opset(node.domain));
    if (why.empty()) continue;
    std::string op = node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
    OpProblem& p = out[{op, why}];
    p.op = op;
    p.reason = why;
    ++p.count;
    if (p.nodes.size() < kNodesNamed) p.nodes.push_back(node.name.empty() ? fmt::format("#{}", n) : node.name);
  }
}

}  // namespace

std::vector<OpProblem> find_op_problems(const ir::Model& model) {
  std::map<std::pair<std::string, std::string>, OpProblem> grouped;
  if (model.graph) scan(*model.graph, model, grouped);
  std::vector<OpProblem> v;
  for (auto& [k, p] : grouped) v.push_back(std::move(p));
  return v;
}

void check_ops_supported(const ir::Model& model) {
  std::vector<OpProblem> problems = find_op_problems(model);
  if (problems.empty()) return;
  std::string msg = fmt::format("kiln cannot run {} kind{} of node in this model:", problems.size(),
                                problems.size() == 1 ? "" : "s");
  for (const OpProblem& p : problems)
    msg += fmt::format("\n  {} x{} (nodes '{}'{}): {}", p.op, p.count, fmt::join(p.nodes, "', '"),
                       p.count > static_cast<int>(p.nodes.size()) ? ", ..." : "", p.reason);
  throw Error(ErrorCode::kUnsupported, msg);
}

}  // namespace kiln
