// Nodes whose output equals one of their inputs, proven from constants and dim keys (ShapeFacts), are removed
// like Identity (their readers read that input):
//   - Cast to the type its input already has (exporters cast a bool mask to bool);
//   - Add or Sub of a constant that is all zeros, Mul or Div by a constant that is all ones (attention exports
//     scale by 1.0), when the constant neither widens the result's type nor grows its shape by broadcasting;
//   - Transpose with the identity permutation;
//   - Reshape, Expand, and Slice with positive steps whose output has the input's shape (proven equal dim keys,
//     which hold for every input size, never just the sizes of one run).
// Float results are exact (x * 1, x / 1 and x - 0 are x; x + 0 only turns -0 into +0).

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

bool all_equal_to(const Tensor* t, double v) {
  if (!t || !t->is_tensor() || t->dtype() == DType::kString || t->numel() == 0) return false;
  for (int64_t i = 0; i < t->numel(); ++i)
    if (t->double_at(i) != v) return false;
  return true;
}

bool same_type_and_shape(const ShapeFacts& facts, int a, int b) {
  return facts.dtype(a) != DType::kUndefined && facts.dtype(a) == facts.dtype(b) && facts.same_shape(a, b);
}

// Slice's steps (input 4) are all positive constants, or absent.
bool forward_steps(const ir::Node& n, const GraphIndex& idx) {
  if (n.inputs.size() < 5 || n.inputs[4] < 0) return true;
  const Tensor* steps = idx.constant(n.inputs[4]);
  if (!steps || !dtype_is_integer(steps->dtype())) return false;
  for (int64_t s : steps->to_int64_vector())
    if (s <= 0) return false;
  return true;
}

// The input node `n`'s output 0 equals, or nullopt.
std::optional<size_t> forwarded_input(const ir::Node& n, const GraphIndex& idx, const ShapeFacts& facts) {
  if (!n.domain.empty() || n.outputs.size() != 1 || n.outputs[0] < 0 || n.inputs.empty()) return std::nullopt;
  const int out = n.outputs[0];
  const std::string& op = n.op_type;
  if (op == "Cast") {
    const DType in = facts.dtype(n.inputs[0]);
    if (in != DType::kUndefined && in == facts.dtype(out)) return 0;
    return std::nullopt;
  }
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && n.inputs.size() == 2) {
    const double neutral = op == "Add" || op == "Sub" ? 0 : 1;
    const bool commutes = op == "Add" || op == "Mul";
    for (size_t keep = 0; keep < 2; ++keep) {
      if (keep == 1 && !commutes) break;
      const int x = n.inputs[keep], c = n.inputs[1 - keep];
      if (x >= 0 && all_equal_to(idx.constant(c), neutral) && same_type_and_shape(facts, x, out)) return keep;
    }
    return std::nullopt;
  }
  if (op == "Transpose") {
    const std::vector<int64_t> perm = get_ints(n, "perm");
    if (perm.empty()) return std::nullopt;  // the default reverses the dims
    for (size_t i = 0; i < perm.size(); ++i)
      if (perm[i] != static_cast<int64_t>(i)) return std::nullopt;
    return 0;
  }
  if (op == "Reshape" || op == "Expand" || (op == "Slice" && forward_steps(n, idx))) {
    if (same_type_and_shape(facts, n.inputs[0], out)) return 0;
  }
  return std::nullopt;
}

class RemoveNoOps : public Pass {
 public:
  std::string_view name() const override { return "remove_no_ops"; }
  std::string_view why() const override {
    return "a Cast to the same type, x+0, x*1, an identity Transpose or a Reshape to the same shape copies its input";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    return remove_pass_through(*model.graph, [&](const ir::Node& n, const GraphIndex& idx) {
             return forwarded_input(n, idx, facts);
           }) > 0;
  }
};

}  // namespace

const Pass& remove_no_ops_pass() {
  static const RemoveNoOps pass;
  return pass;
}

}  // namespace kiln::passes
