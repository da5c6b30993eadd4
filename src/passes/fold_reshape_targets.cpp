// A Reshape whose target shape is computed at run time (Shape -> Gather -> Unsqueeze -> Concat, as PyTorch exports
// `x.view(x.size(0), 128, 4, 64)` with a dynamic batch) gets a constant target instead, so the chain that built
// it is dead. Each element of the target is known as a dim key (ShapeFacts::contents): a number stays that number;
// a symbolic element equal to the input's dim at the same position becomes 0 ("copy that dim", when allowzero is
// 0); at most one remaining element becomes -1 (inferred from the element count). A symbolic dim is never replaced
// by the size it had in one run: only numbers the model fixes are written as numbers.
//
// Why -1 is exact: the original Reshape succeeds only when the product of its target equals the input's element
// count, so an element the others do not fix is that count divided by their product, which is what -1 computes.
// The one input where the two differ is an empty tensor whose other target dims include a 0: the quotient is then
// undefined (ONNX leaves -1 undefined there); onnxsim's and onnxslim's outputs have the same limit.

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

// The constant target for Reshape `n`, or nullopt when it cannot be written without a run-time value.
std::optional<std::vector<int64_t>> constant_target(const ir::Node& n, const ShapeFacts& facts) {
  const std::vector<DimKey>* target = facts.contents(n.inputs[1]);
  const std::optional<size_t> target_rank = facts.rank(n.inputs[1]);
  if (!target || !target_rank || *target_rank != 1) return std::nullopt;
  return constant_reshape_target(facts.keys(n.inputs[0]), *target, get_int(n, "allowzero", 0) != 0);
}

class FoldReshapeTargets : public Pass {
 public:
  std::string_view name() const override { return "fold_reshape_targets"; }
  std::string_view why() const override {
    return "a Reshape target computed from Shape at every run becomes a constant with 0 (copy a dim) and -1 "
           "(infer one), so the shape chain goes";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    if (!has_op(g, "Reshape")) return false;
    const GraphIndex idx(g);
    std::vector<size_t> todo;
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      const ir::Node& node = g.nodes[n];
      if (is_op(node, "Reshape") && node.inputs.size() == 2 && node.inputs[0] >= 0 && node.inputs[1] >= 0 &&
          !idx.constant(node.inputs[1]))
        todo.push_back(n);
    }
    if (todo.empty()) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    bool changed = false;
    for (size_t n : todo) {
      const std::optional<std::vector<int64_t>> target = constant_target(g.nodes[n], facts);
      if (!target) continue;
      g.nodes[n].inputs[1] = add_ints_initializer(g, g.nodes[n], "target", *target);
      changed = true;
    }
    return changed;
  }
};

}  // namespace

const Pass& fold_reshape_targets_pass() {
  static const FoldReshapeTargets pass;
  return pass;
}

}  // namespace kiln::passes
