#include "api/op_support.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "ops/op.h"

namespace kiln {

namespace {

constexpr size_t kNodesNamed = 5;

using Kind = OpProblem::Kind;

bool kiln_knows_domain(const std::string& domain) {
  for (const ops::OpSchema* op : ops::all_ops())
    if (op->domain == domain) return true;
  return false;
}

const ir::Function* find_function(const ir::Model& model, const std::string& domain, const std::string& name) {
  for (const ir::Function& f : model.functions)
    if (f.domain == domain && f.name == name) return &f;
  return nullptr;
}

// The operators ONNX defines (onnx.defs, ONNX 1.23) that kiln has no schema for: every other name without a
// schema in ai.onnx or ai.onnx.ml is not an ONNX operator at all, which ONNX Runtime calls an invalid graph rather
// than a missing implementation. python/tests/test_errors.py checks this list against the onnx package.
bool is_standard_op_kiln_lacks(const std::string& domain, const std::string& op) {
  static constexpr std::string_view kOnnx[] = {"Bernoulli", "ImageDecoder", "Multinomial", "RandomNormal",
                                               "RandomNormalLike", "RandomUniform", "RandomUniformLike"};
  static constexpr std::string_view kMl[] = {"CastMap", "CategoryMapper", "DictVectorizer", "FeatureVectorizer",
                                             "Imputer", "LinearClassifier", "LinearRegressor", "Normalizer",
                                             "OneHotEncoder", "SVMClassifier", "SVMRegressor", "Scaler",
                                             "TreeEnsembleClassifier", "TreeEnsembleRegressor", "ZipMap"};
  auto listed = [&](auto& names) { return std::find(std::begin(names), std::end(names), op) != std::end(names); };
  if (domain.empty() || domain == "ai.onnx") return listed(kOnnx);
  if (domain == "ai.onnx.ml") return listed(kMl);
  return false;
}

// Calls `visit` for every node of `g` and of the subgraphs inside it.
template <typename F> void for_each_node(const ir::Graph& g, F&& visit) {
  for (const ir::Node& n : g.nodes) {
    visit(n);
    for (const ir::Attribute& a : n.attributes) {
      if (a.g) for_each_node(*a.g, visit);
      for (const auto& sub : a.graphs) for_each_node(*sub, visit);
    }
  }
}

// True when local function `f` can reach itself through calls to local functions (ONNX forbids recursion).
bool calls_itself(const ir::Model& model, const ir::Function& f) {
  std::vector<const ir::Function*> todo{&f}, seen;
  while (!todo.empty()) {
    const ir::Function* cur = todo.back();
    todo.pop_back();
    if (!cur->body) continue;
    bool found = false;
    for_each_node(*cur->body, [&](const ir::Node& n) {
      const ir::Function* callee = find_function(model, n.domain, n.op_type);
      if (!callee) return;
      if (callee == &f) found = true;
      if (std::find(seen.begin(), seen.end(), callee) == seen.end()) {
        seen.push_back(callee);
        todo.push_back(callee);
      }
    });
    if (found) return true;
  }
  return false;
}

// Why kiln cannot run `node` at `opset`; nullopt when it can.
std::optional<std::pair<Kind, std::string>> problem_with(const ir::Node& node, int64_t opset,
                                                         const ir::Model& model) {
  const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
  if (!schema) {
    if (const ir::Function* f = find_function(model, node.domain, node.op_type))
      return std::pair{Kind::kNotImplemented,
                       fmt::format("it calls local function '{}' (a FunctionProto in the model), and kiln does not "
                                   "run local functions yet{}", f->name,
                                   calls_itself(model, *f) ? fmt::format("; besides, '{}' calls itself, and ONNX "
                                                                         "forbids recursive functions", f->name)
                                                           : "")};
    if (opset == 0 && !node.domain.empty() && node.domain != "ai.onnx")
      return std::pair{Kind::kDomainNotImported,
                       fmt::format("the model does not import domain '{}' (add an opset_import for it)", node.domain)};
    if (!node.domain.empty() && node.domain != "ai.onnx" && !kiln_knows_domain(node.domain))
      return std::pair{Kind::kNotImplemented,
                       node.domain.rfind("ai.onnx.", 0) == 0
                           ? fmt::format("kiln implements no operators of the ONNX domain '{}' yet", node.domain)
                           : fmt::format("'{}' is a custom operator domain that kiln knows no operators of",
                                         node.domain)};
    const bool onnx_domain = node.domain.empty() || node.domain == "ai.onnx" || node.domain == "ai.onnx.ml";
    if (!onnx_domain || is_standard_op_kiln_lacks(node.domain, node.op_type))
      return std::pair{Kind::kNotImplemented, std::string("kiln has no implementation of this operator")};
    return std::pair{Kind::kNotImplemented,
                     fmt::format("'{}' is not an operator of ONNX's domain '{}' at any opset (a misspelt name? a "
                                 "custom operator belongs in a domain of its own)", node.op_type,
                                 node.domain.empty() ? "ai.onnx" : node.domain)};
  }
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
    auto problem = problem_with(node, model.opset(node.domain), model);
    if (!problem) continue;
    std::string op = node.qualified_op();
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
