// A Transpose that only moves dims of size 1 (the dims that are not 1 keep their order) leaves the elements in
// memory order: it is a Reshape, which kiln runs without copying and which merge_reshapes can join to its
// neighbours. LSTM exports at batch 1 write such Transposes around the direction and batch dims. "Size 1" is
// proven by dim keys (a known 1); a dim whose size is not known counts as not 1, so the rewrite only happens
// where it holds for every input the model accepts. The new target uses 0 and -1 for symbolic dims
// (constant_reshape_target).

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

// The Reshape target equivalent to Transpose `n`, or nullopt.
std::optional<std::vector<int64_t>> reshape_target(const ir::Node& n, const ShapeFacts& facts) {
  const std::vector<DimKey>* in = facts.keys(n.inputs[0]);
  const std::vector<DimKey>* out = facts.keys(n.outputs[0]);
  const std::vector<int64_t> perm = get_ints(n, "perm");
  if (!in || !out || perm.size() != in->size() || out->size() != in->size()) return std::nullopt;
  int64_t last = -1;  // the input axis of the last dim that is not 1
  for (int64_t axis : perm) {
    if (axis < 0 || axis >= static_cast<int64_t>(in->size())) return std::nullopt;
    if ((*in)[static_cast<size_t>(axis)].is_one()) continue;
    if (axis < last) return std::nullopt;
    last = axis;
  }
  for (const DimKey& k : *out)
    if (k.known() && k.offset == 0) return std::nullopt;  // a 0 in a target copies a dim: empty tensors stay
  return constant_reshape_target(in, *out, false);
}

class TransposeToReshape : public Pass {
 public:
  std::string_view name() const override { return "transpose_to_reshape"; }
  std::string_view why() const override {
    return "a Transpose that only moves dims of size 1 keeps memory order: it is a Reshape, which copies nothing";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    if (!has_op(g, "Transpose")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    bool changed = false;
    for (ir::Node& n : g.nodes) {
      if (!is_op(n, "Transpose") || n.inputs.size() != 1 || n.inputs[0] < 0 || n.outputs.size() != 1 ||
          n.outputs[0] < 0)
        continue;
      const std::optional<std::vector<int64_t>> target = reshape_target(n, facts);
      if (!target) continue;
      const int shape = add_ints_initializer(g, n, "target", *target);
      n.op_type = "Reshape";
      n.attributes.clear();
      n.inputs.push_back(shape);
      changed = true;
    }
    return changed;
  }
};

}  // namespace

const Pass& transpose_to_reshape_pass() {
  static const TransposeToReshape pass;
  return pass;
}

}  // namespace kiln::passes
