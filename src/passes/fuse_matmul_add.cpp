// MatMul + Add -> ai.kiln.FusedMatMul (Y = MatMul(A, B) + bias + Z):
//   an Add of a 1-D [N] value (N = the MatMul's last output dim) becomes the bias; a constant of shape [1, N],
//   [1, 1, N], ... that does not grow the output becomes a new 1-D bias initializer;
//   an Add of a value with exactly the output's shape becomes the residual Z (a transformer's skip connection).
// Both may follow one another, on a MatMul or on a FusedMatMul that does not have them yet (a Gemm rewritten by
// fuse_gemm, or one fused earlier). Never after an activation: the epilogue adds before it activates.
// A and B must both have rank 2 or more (MatMul's vector cases stay MatMul); float32 only.

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

class FuseMatMulAdd : public Pass {
 public:
  std::string_view name() const override { return "fuse_matmul_add"; }
  std::string_view why() const override {
    return "bias and residual added in the MatMul's epilogue instead of two more passes over its output";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("FusedMatMul") || !has_op(*model.graph, "Add")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t m = 0; m < g.nodes.size(); ++m) {
      const ir::Node& n = g.nodes[m];
      if (dead[m] || n.outputs.size() != 1 || facts.dtype(n.outputs[0]) != DType::kFloat32) continue;
      if (is_op(n, "MatMul")) {
        if (n.inputs.size() != 2 || facts.rank(n.inputs[0]).value_or(0) < 2 || facts.rank(n.inputs[1]).value_or(0) < 2)
          continue;
      } else if (!is_fused_matmul(n) || n.attr("activation")) {
        continue;
      }
      changed |= fuse(g, idx, facts, dead, static_cast<int>(m));
    }
    if (!changed) return false;
    erase_nodes(g, dead);
    import_kiln_domain(model);
    return true;
  }

 private:
  static bool fuse(ir::Graph& g, const GraphIndex& idx, const ShapeFacts& facts, std::vector<char>& dead, int m) {
    ir::Node fused = as_fused_matmul(g.nodes[static_cast<size_t>(m)]);
    fused.inputs.resize(4, -1);
    const int y = fused.outputs[0];
    const std::optional<int64_t> cols = facts.dim(y, -1);
    std::vector<int> nodes = {m};
    int last = m, cur = y;
    for (int round = 0; round < 2; ++round) {
      const std::vector<int>& readers = idx.readers(cur);
      if (readers.size() != 1 || !idx.only_read_by(cur, readers[0])) break;
      const int a = readers[0];
      const ir::Node& add = g.nodes[static_cast<size_t>(a)];
      const int operand = other_input(add, cur);
      if (dead[static_cast<size_t>(a)] || !is_op(add, "Add") || operand < 0 || operand == cur || add.outputs.size() != 1 ||
          facts.dtype(operand) != DType::kFloat32)
        break;
      if (fused.inputs[2] < 0 && cols && facts.rank(operand) == 1u && facts.dim(operand, 0) == cols) {
        fused.inputs[2] = operand;
      } else if (fused.inputs[2] < 0 && cols && idx.constant(operand) && facts.broadcasts_into(operand, y) &&
                 facts.dim(operand, -1) == cols && idx.constant(operand)->numel() == *cols) {
        const Tensor& k = *idx.constant(operand);
        const std::string base = (fused.name.empty() ? g.value(y).name : fused.name) + "/bias";
        fused.inputs[2] = add_initializer(g, base, k.clone().reshaped({*cols}));
      } else if (fused.inputs[3] < 0 && facts.same_shape(operand, y)) {
        fused.inputs[3] = operand;
      } else {
        break;
      }
      nodes.push_back(a);
      last = a;
      cur = add.outputs[0];
    }
    if (nodes.size() == 1) return false;
    while (!fused.inputs.empty() && fused.inputs.back() < 0) fused.inputs.pop_back();
    fused.outputs = {cur};
    replace_pattern(g, dead, nodes, last, std::move(fused));
    return true;
  }
};

}  // namespace

const Pass& fuse_matmul_add_pass() {
  static const FuseMatMulAdd pass;
  return pass;
}

}  // namespace kiln::passes
