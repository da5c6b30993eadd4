// An operand of a broadcasting op that is one value repeated (ConstantOfShape(shape), or Expand of a one-element
// constant) is only there for its value when the op's other operands already give the result its shape: it
// becomes a scalar constant, and the shape chain that sized the fill goes dead. Attention exports build their
// mask as Where(mask, -inf, ConstantOfShape(Shape(mask))), which is Where(mask, -inf, 0).
//
// "Already give the result its shape" is proven with dim keys: the broadcast of the other operands' dims equals
// the op's output dims, for every input size.

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "passes/dim_keys_impl.h"
#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

// Ops with multidirectional (numpy) broadcasting over every input.
const std::unordered_set<std::string_view> kBroadcastOps = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Mod", "BitShift"};

// The one element a fill repeats, as a rank-0 tensor, when `v` is such a fill; else nullopt.
std::optional<Tensor> fill_value(const ir::Graph& g, const GraphIndex& idx, int v) {
  const int p = idx.producer(v);
  if (p < 0) return std::nullopt;
  const ir::Node& n = g.nodes[static_cast<size_t>(p)];
  const Tensor* one = nullptr;
  Tensor zero = Tensor::scalar<float>(0.0f);  // ConstantOfShape's default
  if (is_op(n, "ConstantOfShape")) {
    const ir::Attribute* a = n.attr("value");
    if (!a) one = &zero;
    else if (a->type == ir::AttrType::kTensor) one = &a->t;
  } else if (is_op(n, "Expand") && n.inputs.size() == 2) {
    one = idx.constant(n.inputs[0]);
  }
  if (!one || !one->is_tensor() || one->numel() != 1 || one->dtype() == DType::kString) return std::nullopt;
  Tensor scalar(one->dtype(), {});
  std::memcpy(scalar.raw_data(), one->raw_data(), dtype_size(one->dtype()));
  return scalar;
}

class ScalarizeConstantFills : public Pass {
 public:
  std::string_view name() const override { return "scalarize_constant_fills"; }
  std::string_view why() const override {
    return "a filled tensor the other operands broadcast over anyway is a scalar: no shape chain, no fill at run time";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    if (!has_op(g, "ConstantOfShape") && !has_op(g, "Expand")) return false;
    const GraphIndex idx(g);
    auto candidate = [&](const ir::Node& n) {
      if (!n.domain.empty() || !kBroadcastOps.count(n.op_type) || n.inputs.size() < 2 || n.outputs.size() != 1)
        return false;
      for (int in : n.inputs)
        if (in >= 0 && !idx.constant(in) && fill_value(g, idx, in)) return true;
      return false;
    };
    if (std::none_of(g.nodes.begin(), g.nodes.end(), candidate)) return false;  // no shape facts needed
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    bool changed = false;
    for (ir::Node& n : g.nodes) {
      if (!candidate(n)) continue;
      const std::vector<DimKey>* out = facts.keys(n.outputs[0]);
      if (!out) continue;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        if (n.inputs[i] < 0 || idx.constant(n.inputs[i])) continue;
        std::optional<Tensor> scalar = fill_value(g, idx, n.inputs[i]);
        if (!scalar || facts.dtype(n.inputs[i]) != scalar->dtype()) continue;
        std::vector<const std::vector<DimKey>*> others;
        for (size_t j = 0; j < n.inputs.size(); ++j)
          if (j != i) others.push_back(n.inputs[j] >= 0 ? facts.keys(n.inputs[j]) : nullptr);
        if (std::find(others.begin(), others.end(), nullptr) != others.end()) continue;
        if (!(dim_keys_detail::broadcast(others) == *out)) continue;
        n.inputs[i] = add_initializer(g, (n.name.empty() ? n.op_type : n.name) + "_fill", std::move(*scalar));
        changed = true;
      }
    }
    return changed;
  }
};

}  // namespace

const Pass& scalarize_constant_fills_pass() {
  static const ScalarizeConstantFills pass;
  return pass;
}

}  // namespace kiln::passes
