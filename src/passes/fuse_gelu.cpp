// The GELU subgraphs exporters write (x * 0.5 * (1 + Erf(x / sqrt 2)), and the tanh approximation; see
// activation_match.h for the forms) -> one ai.kiln.Gelu node (ONNX Gelu-20 semantics, approximate "none" or
// "tanh"), available at any opset: one pass over the tensor instead of five to nine. Runs after the MatMul and
// Conv fusions, which absorb the GELUs that directly follow them. Any float type; x of rank 1 or more (so the
// pattern's rank-1 constants cannot have grown its shape).

#include "passes/activation_match.h"
#include "passes/passes.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

class FuseGelu : public Pass {
 public:
  std::string_view name() const override { return "fuse_gelu"; }
  std::string_view why() const override { return "one GELU kernel instead of the five to nine exported element-wise ops"; }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("Gelu")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t v = 0; v < g.values.size(); ++v) {
      const int x = static_cast<int>(v);
      if (!dtype_is_float(facts.dtype(x)) || facts.rank(x).value_or(0) < 1) continue;
      std::optional<ActivationMatch> act = match_activation(g, idx, x, dead, /*x_exclusive=*/false);
      if (!act || (act->kind != "GeluErf" && act->kind != "GeluTanh") || act->nodes.size() < 2) continue;
      ir::Node gelu;
      gelu.name = g.nodes[static_cast<size_t>(act->last)].name;
      gelu.domain = kKilnDomain;
      gelu.op_type = "Gelu";
      gelu.inputs = {x};
      gelu.outputs = {act->output};
      gelu.attributes = {attr_string("approximate", act->kind == "GeluErf" ? "none" : "tanh")};
      replace_pattern(g, dead, act->nodes, act->last, std::move(gelu));
      changed = true;
    }
    if (!changed) return false;
    erase_nodes(g, dead);
    import_kiln_domain(model);
    return true;
  }
};

}  // namespace

const Pass& fuse_gelu_pass() {
  static const FuseGelu pass;
  return pass;
}

}  // namespace kiln::passes
