// MatMul or FusedMatMul + activation -> FusedMatMul with its `activation` attribute (Relu, GELU in its Erf and
// tanh forms as exporters write them, SiLU, Clip, ...: see activation_match.h), applied in the epilogue after
// bias and residual. float32 only; A and B of rank 2 or more; intermediates read only inside the pattern.

#include "passes/activation_match.h"
#include "passes/passes.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

class FuseMatMulActivation : public Pass {
 public:
  std::string_view name() const override { return "fuse_matmul_activation"; }
  std::string_view why() const override {
    return "the activation after a MatMul runs in its epilogue instead of another pass (several for GELU)";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("FusedMatMul")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t m = 0; m < g.nodes.size(); ++m) {
      const ir::Node& n = g.nodes[m];
      if (dead[m] || n.outputs.size() != 1 || facts.dtype(n.outputs[0]) != DType::kFloat32) continue;
      const bool fused_mm = is_fused_matmul(n);
      if (is_op(n, "MatMul")) {
        if (n.inputs.size() != 2 || facts.rank(n.inputs[0]).value_or(0) < 2 || facts.rank(n.inputs[1]).value_or(0) < 2)
          continue;
      } else if (!fused_mm || n.attr("activation")) {
        continue;
      }
      std::optional<ActivationMatch> act = match_activation(g, idx, n.outputs[0], dead);
      if (!act) continue;
      ir::Node fused = as_fused_matmul(n);
      set_activation_attrs(fused, *act);
      fused.outputs = {act->output};
      std::vector<int> nodes = act->nodes;
      nodes.push_back(static_cast<int>(m));
      replace_pattern(g, dead, nodes, act->last, std::move(fused));
      changed = true;
    }
    if (!changed) return false;
    erase_nodes(g, dead);
    import_kiln_domain(model);
    return true;
  }
};

}  // namespace

const Pass& fuse_matmul_activation_pass() {
  static const FuseMatMulActivation pass;
  return pass;
}

}  // namespace kiln::passes
