// Constant folding at session creation: a node whose inputs are all constants (initializers the caller cannot
// replace, or outputs of nodes folded before it) is evaluated once with its reference kernel and its outputs
// become initializers. This covers subgraphs of any length and any size (the per-shape plan folds only small
// shape arithmetic): Transpose/Cast/Reshape of weights, Constant nodes, DequantizeLinear of constant weights.
//
// Also folded: values symbolic inference computes at the declared input shapes, for every feed those shapes
// accept (Shape of fixed dims and the arithmetic on it).
//
// Never folded: random ops (their schema says nondeterministic), nodes with subgraphs, nodes writing graph
// outputs, containers, and results much larger than what they read (ConstantOfShape or Expand to a large size
// would trade a cheap run-time fill for a large resident tensor): outputs may take at most 4x the bytes of the
// inputs, or 1 MiB. A node whose evaluation fails is left as it is, so its error names it when the model runs.

#include "base/checked.h"
#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"
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
    return fold_known_shapes(model) || changed;
  }

 private:
  // Values symbolic inference knows for every valid feed: shape arithmetic on dims the model fixes (inputs are
  // checked against fixed dims before a run), such as an attention scale computed as Shape(x)[2] ** -0.5.
  static bool fold_known_shapes(ir::Model& model) {
    ir::Graph& g = *model.graph;
    if (!has_op(g, "Shape") && !has_op(g, "Size")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      const ir::Node& node = g.nodes[n];
      const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
      if (!schema || schema->nondeterministic || has_subgraph(node) || node.outputs.empty()) continue;
      bool known = true;
      for (int o : node.outputs)
        known = known && (o < 0 || (facts.value(o) && !idx.is_graph_output(o) && !idx.read_by_subgraph(o)));
      if (!known) continue;
      for (int o : node.outputs) {
        if (o < 0) continue;
        const Tensor& t = *facts.value(o);
        ir::Value& value = g.value(o);
        value.type.kind = ir::ValueKind::kTensor;
        value.type.dtype = t.dtype();
        value.type.shape = Shape::from(t.dims());
        value.type.has_type = true;
        g.initializers[o] = t.clone();
      }
      dead[n] = 1;
      changed = true;
    }
    if (changed) erase_nodes(g, dead);
    return changed;
  }

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
    const int opset = static_cast<int>(model.opset(node.domain));
    const size_t limit = std::max(kMinFoldBytes, kGrowthLimit * in_bytes);
    std::vector<Tensor> out;
    try {
      // Sizes first, from inference: a result over the limit is never allocated.
      std::vector<ops::ValueInfo> in_infos(inputs.size()), out_infos(node.outputs.size());
      std::vector<const ops::ValueInfo*> ptrs(inputs.size(), nullptr);
      for (size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i]) ptrs[i] = &(in_infos[i] = ops::ValueInfo::of(*inputs[i], true));
      ops::InferContext ctx(node, index, opset, ptrs, out_infos);
      schema->infer(ctx);
      size_t out_bytes = 0;
      for (size_t o = 0; o < out_infos.size(); ++o) {
        const ops::ValueInfo& info = out_infos[o];
        if (node.outputs[o] < 0) continue;
        if (info.is_container() || !info.shape.is_concrete() || dtype_size(info.dtype) == 0) return std::nullopt;
        const size_t bytes = static_cast<size_t>(checked_mul(checked_numel(info.shape.values()),
                                                             static_cast<int64_t>(dtype_size(info.dtype))));
        if (bytes > limit || (out_bytes += bytes) > limit) return std::nullopt;
      }
      out = runtime::evaluate_node(node, index, opset, inputs);
    } catch (const Error&) {
      return std::nullopt;  // the run reports it, naming the node
    }
    for (size_t o = 0; o < out.size(); ++o)
      if (node.outputs[o] >= 0 && !out[o].is_tensor()) return std::nullopt;
    return out;
  }
};

}  // namespace

const Pass& fold_constants_pass() {
  static const FoldConstants pass;
  return pass;
}

}  // namespace kiln::passes
