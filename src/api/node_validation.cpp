#include "api/node_validation.h"

#include <algorithm>

#include "ops/op.h"
#include "runtime/plan.h"

namespace kiln {

namespace {

// What a caller will feed for a declared graph input: its declared kind, type and shape (enforced by the feed
// checks, so a rank known here is the rank every run sees).
ops::ValueInfo declared_info(const ir::Value& v) {
  const ir::FlatType flat = ir::flatten_type(v.type);
  if (!flat.runnable) return {};
  ops::ValueInfo info(flat.dtype, flat.shape);
  info.kind = flat.kind;
  info.holds = flat.holds;
  return info;
}

void split_label(const Error& e, const std::string& label, NodeProblem& p) {
  std::string msg = e.what();
  if (msg.rfind(label + ": ", 0) == 0) msg = msg.substr(label.size() + 2);
  p.where = label;
  p.message = std::move(msg);
  p.code = e.code();
}

class Walker {
 public:
  Walker(const runtime::OpsetTable& opsets, std::vector<NodeProblem>& out) : opsets_(opsets), out_(out) {}

  // The main graph's declared inputs are what every feed is checked against. A subgraph's inputs (a loop
  // body's carried values) and the values it reads from enclosing scopes are not checked against declarations,
  // so they start unknown there: only the subgraph's own initializers, and what follows from them, count.
  void walk(const ir::Graph& g, bool main_graph) {
    std::vector<ops::ValueInfo> infos(g.values.size());
    if (main_graph)
      for (int id : g.inputs) infos[static_cast<size_t>(id)] = declared_info(g.value(id));
    for (const auto& [id, t] : g.initializers) {
      const bool overridable = std::find(g.inputs.begin(), g.inputs.end(), id) != g.inputs.end();
      // A caller may feed an overridable initializer: only its declared type holds for every run.
      if (overridable && g.value(id).type.has_type) continue;
      infos[static_cast<size_t>(id)] = ops::ValueInfo(t.dtype(), Shape::from(t.dims()), overridable ? nullptr : &t);
    }
    std::vector<int> order;
    try {
      order = ir::topological_order(g);
    } catch (const Error&) {
      return;  // ir::validate reports cycles
    }
    for (int n : order) visit(g, static_cast<size_t>(n), infos);
  }

 private:
  void visit(const ir::Graph& g, size_t index, std::vector<ops::ValueInfo>& infos) {
    const ir::Node& node = g.nodes[index];
    for (const ir::Attribute& a : node.attributes) {
      if (a.g) walk(*a.g, false);
      for (const auto& sub : a.graphs) walk(*sub, false);
    }
    const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
    if (!schema) return;  // the op-support check names it
    std::vector<const ops::ValueInfo*> in(node.inputs.size(), nullptr);
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (node.inputs[i] >= 0) in[i] = &infos[static_cast<size_t>(node.inputs[i])];
    std::vector<ops::ValueInfo> out(node.outputs.size());
    ops::InferContext ctx(node, index, opsets_.version(node.domain), in, out);
    if (schema->validate) {
      try {
        schema->validate(ctx);
      } catch (const Error& e) {
        NodeProblem p;
        split_label(e, ctx.label(), p);
        out_.push_back(std::move(p));
        return;  // its outputs stay unknown
      }
    }
    // Inference only carries ranks (and small constants) forward to later nodes' checks; where it fails, the
    // plan reports the failure with the sizes that cause it.
    try {
      std::vector<TensorKind> kinds;
      for (const ops::ValueInfo* i : in) kinds.push_back(i ? i->kind : TensorKind::kTensor);
      ops::check_container_inputs(ctx, *schema, kinds);
      schema->infer(ctx);
    } catch (const Error&) {
      return;
    }
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (node.outputs[o] >= 0) infos[static_cast<size_t>(node.outputs[o])] = std::move(out[o]);
  }

  const runtime::OpsetTable& opsets_;
  std::vector<NodeProblem>& out_;
};

}  // namespace

std::vector<NodeProblem> validate_nodes(const ir::Model& model) {
  std::vector<NodeProblem> out;
  if (!model.graph) return out;
  const runtime::OpsetTable opsets{model.opsets};
  Walker(opsets, out).walk(*model.graph, true);
  return out;
}

void refuse_invalid_nodes(const ir::Model& model) {
  const std::vector<NodeProblem> problems = validate_nodes(model);
  if (problems.empty()) return;
  if (problems.size() == 1)
    fail(problems[0].code, "{}: {}", problems[0].where, problems[0].message);
  std::string msg;
  for (const NodeProblem& p : problems) msg += fmt::format("\n  {}: {}", p.where, p.message);
  fail(ErrorCode::kInvalidModel, "{} nodes can never run as the model gives them:{}", problems.size(), msg);
}

}  // namespace kiln
