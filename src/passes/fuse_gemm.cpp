// Gemm -> ai.kiln.FusedMatMul, where the contract can say it (Y = alpha * A * op(B) + bias + Z):
//   transA = 0 (A is [M, K]); transB any (FusedMatMul's transB: B stored [N, K], as nn.Linear exports);
//   alpha any; C absent, or added with beta = 1 as a 1-D [N] bias or a residual of exactly Y's shape, or a
//   constant of shape [N], [1, N] or a single value, which becomes a new [N] bias holding beta * C.
// Once a FusedMatMul, the Gemm can take a following residual Add and activation in the other MatMul fusions.

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

class FuseGemm : public Pass {
 public:
  std::string_view name() const override { return "fuse_gemm"; }
  std::string_view why() const override {
    return "Gemm becomes the fused MatMul, whose epilogue can then also take a residual and an activation";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("FusedMatMul")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    bool changed = false;
    for (ir::Node& n : g.nodes) {
      if (!is_op(n, "Gemm") || n.inputs.size() < 2 || n.outputs.size() != 1) continue;
      if (std::optional<ir::Node> fused = rewrite(g, idx, facts, n)) {
        n = std::move(*fused);
        changed = true;
      }
    }
    if (changed) import_kiln_domain(model);
    return changed;
  }

 private:
  static std::optional<ir::Node> rewrite(ir::Graph& g, const GraphIndex& idx, const ShapeFacts& facts, const ir::Node& n) {
    const int a = n.inputs[0], b = n.inputs[1], y = n.outputs[0];
    const int c = n.inputs.size() > 2 ? n.inputs[2] : -1;
    if (get_int(n, "transA", 0) != 0 || facts.dtype(y) != DType::kFloat32 || facts.rank(a) != 2u ||
        facts.rank(b) != 2u)
      return std::nullopt;
    const bool trans_b = get_int(n, "transB", 0) != 0;
    const std::optional<int64_t> cols = facts.dim(b, trans_b ? 0 : 1);  // N
    const float beta = get_float(n, "beta", 1.0f);
    int bias = -1, z = -1;
    if (c >= 0) {
      if (facts.dtype(c) != DType::kFloat32) return std::nullopt;
      const Tensor* k = idx.constant(c);
      if (beta == 1.0f && facts.rank(c) == 1u && cols && facts.dim(c, 0) == cols) {
        bias = c;
      } else if (beta == 1.0f && facts.same_shape(c, y)) {
        z = c;
      } else if (k && cols && (k->numel() == 1 || (k->numel() == *cols && k->dim(k->rank() - 1) == *cols &&
                                                   k->rank() <= 2))) {
        std::vector<float> v(static_cast<size_t>(*cols));
        for (int64_t j = 0; j < *cols; ++j) v[static_cast<size_t>(j)] = beta * k->data<float>()[k->numel() == 1 ? 0 : j];
        const std::string base = n.name.empty() ? g.value(y).name : n.name;
        bias = add_initializer(g, base + "/bias_scaled", Tensor::from_vector<float>({*cols}, v));
      } else {
        return std::nullopt;
      }
    }
    ir::Node fused;
    fused.name = n.name;
    fused.domain = kKilnDomain;
    fused.op_type = "FusedMatMul";
    fused.doc_string = n.doc_string;
    fused.inputs = {a, b, bias, z};
    while (fused.inputs.back() < 0) fused.inputs.pop_back();
    fused.outputs = {y};
    fused.attributes = {attr_int("transB", trans_b ? 1 : 0), attr_float("alpha", get_float(n, "alpha", 1.0f))};
    return fused;
  }
};

}  // namespace

const Pass& fuse_gemm_pass() {
  static const FuseGemm pass;
  return pass;
}

}  // namespace kiln::passes
