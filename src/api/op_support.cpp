#include <map>

#include "api/session_impl.h"
#include "ops/op.h"

namespace kiln {

namespace {

struct Problem {
  int count = 0;
  std::vector<std::string> nodes;
  std::string why;
};

void scan(const ir::Graph& g, const ir::Model& model, std::map<std::string, Problem>& problems) {
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    for (const ir::Attribute& a : node.attributes) {
      if (a.g) scan(*a.g, model, problems);
      for (const auto& sub : a.graphs) scan(*sub, model, problems);
    }
    std::string key = node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
    int64_t opset = model.opset(node.domain);
    std::string why;
    const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
    if (!schema) {
      why = "kiln has no implementation of this operator";
    } else if (opset == 0) {
      why = fmt::format("the model does not import domain '{}' (add an opset_import for it)",
                        node.domain.empty() ? "ai.onnx" : node.domain);
    } else if (ops::version_in_force(*schema, static_cast<int>(opset)) == 0) {
      why = fmt::format("the operator first exists at opset {}, but the model declares opset {}",
                        schema->versions.front(), opset);
    } else if (schema->removed_in && opset >= schema->removed_in) {
      why = fmt::format("the operator was removed at opset {}, and the model declares opset {}", schema->removed_in,
                        opset);
    } else {
      continue;
    }
    Problem& p = problems[key + ": " + why];
    p.why = why;
    ++p.count;
    if (p.nodes.size() < 5) p.nodes.push_back(node.name.empty() ? fmt::format("#{}", n) : "'" + node.name + "'");
  }
}

}  // namespace

void check_ops_supported(const ir::Model& model) {
  std::map<std::string, Problem> problems;
  scan(*model.graph, model, problems);
  if (problems.empty()) return;
  std::string msg = fmt::format("kiln cannot run {} kind{} of node in this model:", problems.size(),
                                problems.size() == 1 ? "" : "s");
  for (const auto& [key, p] : problems) {
    std::string op = key.substr(0, key.find(':'));
    msg += fmt::format("\n  {} x{} (nodes {}{}): {}", op, p.count, fmt::join(p.nodes, ", "),
                       p.count > static_cast<int>(p.nodes.size()) ? ", ..." : "", p.why);
  }
  throw Error(ErrorCode::kUnsupported, msg);
}

}  // namespace kiln
