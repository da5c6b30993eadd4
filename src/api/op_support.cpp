#include "api/op_support.h"

#include <map>
#include <optional>

#include "base/error.h"
#include "ops/op.h"

namespace kiln {

namespace {

constexpr size_t kNodesNamed = 5;

using Kind = OpProblem::Kind;

// Why kiln cannot run `node` at `opset`; nullopt when it can.
std::optional<std::pair<Kind, std::string>> problem_with(const ir::Node& node, int64_t opset) {
  const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
  if (!schema) return std::pair{Kind::kNotImplemented, std::string("kiln has no implementation of this operator")};
  if (opset == 0)
    return std::pair{Kind::kDomainNotImported,
                     fmt::format("the model does not import domain '{}' (add an opset_import for it)",
                                 node.domain.empty() ? "ai.onnx" : node.domain)};
  if (ops::version_in_force(*schema, static_cast<int>(opset)) == 0)
    return std::pair{Kind::kNotYetAtOpset, fmt::format("the operator first exists at opset {}, but the model "
                                                       "declares opset {}", schema->versions.front(), opset)};
  if (schema->removed_in && opset >= schema->removed_in)
    return std::pair{Kind::kRemovedAtOpset, fmt::format("the operator was removed at opset {}, and the model "
                                                        "declares opset {}", schema->removed_in, opset)};
  return std::nullopt;
}

void scan(const ir::Graph& g, const ir::Model& model, std::map<std::pair<std::string, std::string>, OpProblem>& out) {
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    for (const ir::Attribute& a : node.attributes) {
      if (a.g) scan(*a.g, model, out);
      for (const auto& sub : a.graphs) scan(*sub, model, out);
    }
    auto problem = problem_with(node, model.opset(node.domain));
    if (!problem) continue;
    std::string op = node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
    OpProblem& p = out[{op, problem->second}];
    p.kind = problem->first;
    p.op = op;
    p.reason = problem->second;
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
