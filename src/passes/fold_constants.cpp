// Constant folding at session creation: a node whose inputs are all constants (initializers the caller cannot
// replace, or outputs of nodes folded before it) is evaluated once with its reference kernel and its outputs
// become initializers. This covers subgraphs of any length and any size (the per-shape plan folds only small
// shape arithmetic): Transpose/Cast/Reshape of weights, Constant nodes, DequantizeLinear of constant weights.
//
// Never folded: random ops (their schema says nondeterministic), nodes with subgraphs, nodes writing graph
// outputs, containers, and results much larger than what they read (ConstantOfShape or Expand to a large size
// would trade a cheap run-time fill for a large resident tensor): outputs may take at most 4x the bytes of the
// inputs, or 1 MiB. A node whose evaluation fails is left as it is, so its error names it when the model runs.

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "runtime/eval_node.h"

namespace kiln::passes {
namespace {

constexpr size_t kMinFoldBytes = size_t{1} << 20;
constexpr size_t kGrowthLimit = 4;

bool has_subgraph(const ir::Node& n) {
  for (const ir::Attribute& a : n.attributes)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

class FoldConstants : public Pass {
 public:
  std::string_view name() const override { return "fold_constants"; }
  std::string_view why() const override {
    return "computes once, at session creation, what every run would compute again from constants";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (int n : ir::topological_order(g)) {
      const ir::Node& node = g.nodes[static_cast<size_t>(n)];
      std::optional<std::vector<Tensor>> results = fold(model, idx, node, static_cast<size_t>(n));
      if (!results) continue;
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        const int v = node.outputs[o];
        if (v < 0) continue;
        ir::Value& value = g.value(v);
        value.type.kind = ir::ValueKind::kTensor;
        value.type.dtype = (*results)[o].dtype();
        value.type.shape = Shape::from((*results)[o].dims());
        value.type.has_type = true;
        g.initializers[v] = std::move((*results)[o]);
      }
      dead[static_cast<size_t>(n)] = 1;
      changed = true;
    }
    if (changed) erase_nodes(g, dead);
    return changed;
  }

 private:
  // The node's outputs, or nullopt when it is not to be folded. `idx` was built before this sweep, but
  // initializers added by it are seen through the graph itself (constant() looks the value up in it).
  static std::optional<std::vector<Tensor>> fold(const ir::Model& model, const GraphIndex& idx, const ir::Node& node,
                                                 size_t index) {
    const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
    if (!schema || schema->nondeterministic || has_subgraph(node) || node.outputs.empty()) return std::nullopt;
    for (int o : node.outputs)
      if (o >= 0 && (idx.is_graph_output(o) || idx.read_by_subgraph(o))) return std::nullopt;
    if (is_op(node, "Constant")) {  // its tensor attribute is the value: no copy
      const ir::Attribute* a = node.attr("value");
      if (a && a->type == ir::AttrType::kTensor && a->t.is_tensor() && node.outputs.size() == 1)
        return std::vector<Tensor>{a->t};
    }
    std::vector<const Tensor*> inputs(node.inputs.size(), nullptr);
    size_t in_bytes = 0;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int v = node.inputs[i];
      if (v < 0) continue;
      const Tensor* t = idx.constant(v);
      if (!t) {  // folded earlier in this sweep?
        auto it = model.graph->initializers.find(v);
        if (it == model.graph->initializers.end() || idx.producer(v) < 0) return std::nullopt;
        t = &it->second;
      }
      inputs[i] = t;
      in_bytes += t->nbytes();
    }
    std::vector<Tensor> out;
    try {
      out = runtime::evaluate_node(node, index, static_cast<int>(model.opset(node.domain)), inputs);
    } catch (const Error&) {
      return std::nullopt;  // the run reports it, naming the node
    }
    size_t out_bytes = 0;
    for (size_t o = 0; o < out.size(); ++o) {
      if (node.outputs[o] < 0) continue;
      if (!out[o].is_tensor()) return std::nullopt;
      out_bytes += out[o].nbytes();
    }
    if (out_bytes > std::max(kMinFoldBytes, kGrowthLimit * in_bytes)) return std::nullopt;
    return out;
  }
};

}  // namespace

const Pass& fold_constants_pass() {
  static const FoldConstants pass;
  return pass;
}

}  // namespace kiln::passes
