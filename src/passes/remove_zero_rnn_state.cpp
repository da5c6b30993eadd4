// RNN, GRU and LSTM start from zeros when initial_h (and LSTM's initial_c) is absent. PyTorch exports
// `nn.LSTM(x)` without a state as zeros of shape [directions, batch, hidden] built at run time from Shape(x)
// (Shape -> Gather -> Unsqueeze -> Concat -> ConstantOfShape, sliced per layer): that input is dropped, so the
// chain is dead. "All zeros" is proven, never assumed: a constant whose every element is 0, or ConstantOfShape
// with a zero (or default) value, seen through ops that only move or select elements.

#include <unordered_set>

#include "passes/passes.h"
#include "passes/rewrite_util.h"

namespace kiln::passes {
namespace {

// Ops whose output elements are all taken from input 0's (so zeros in give zeros out).
const std::unordered_set<std::string_view> kMovesElements = {"Slice", "Gather", "Reshape", "Squeeze", "Unsqueeze",
                                                             "Transpose", "Expand", "Identity", "Flatten", "Tile",
                                                             "Cast"};

bool all_zero(const Tensor& t) {
  if (!t.is_tensor() || t.dtype() == DType::kString) return false;
  for (int64_t i = 0; i < t.numel(); ++i)
    if (t.double_at(i) != 0) return false;
  return true;
}

bool is_zeros(const ir::Graph& g, const GraphIndex& idx, int v, int depth = 0) {
  if (v < 0 || depth > 16) return false;
  if (const Tensor* t = idx.constant(v)) return all_zero(*t);
  const int p = idx.producer(v);
  if (p < 0) return false;
  const ir::Node& n = g.nodes[static_cast<size_t>(p)];
  if (!n.domain.empty() || n.outputs.empty() || n.outputs[0] != v) return false;
  if (n.op_type == "ConstantOfShape") {
    const ir::Attribute* value = n.attr("value");
    return !value || (value->type == ir::AttrType::kTensor && value->t.numel() == 1 && all_zero(value->t));
  }
  if (kMovesElements.count(n.op_type) && !n.inputs.empty()) return is_zeros(g, idx, n.inputs[0], depth + 1);
  return false;
}

class RemoveZeroRnnState : public Pass {
 public:
  std::string_view name() const override { return "remove_zero_rnn_state"; }
  std::string_view why() const override {
    return "an absent initial state is zeros: the run-time chain that builds a zero state is not needed";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    if (!has_op(g, "LSTM") && !has_op(g, "GRU") && !has_op(g, "RNN")) return false;
    const GraphIndex idx(g);
    bool changed = false;
    for (ir::Node& n : g.nodes) {
      if (!is_op(n, "LSTM") && !is_op(n, "GRU") && !is_op(n, "RNN")) continue;
      // initial_h is input 5; LSTM's initial_c is input 6 (its peepholes P, input 7, stay).
      const size_t last_state = is_op(n, "LSTM") ? 6 : 5;
      bool dropped = false;
      for (size_t i = 5; i <= last_state && i < n.inputs.size(); ++i)
        if (n.inputs[i] >= 0 && is_zeros(g, idx, n.inputs[i])) {
          n.inputs[i] = -1;
          dropped = true;
        }
      if (!dropped) continue;
      while (!n.inputs.empty() && n.inputs.back() < 0) n.inputs.pop_back();
      changed = true;
    }
    return changed;
  }
};

}  // namespace

const Pass& remove_zero_rnn_state_pass() {
  static const RemoveZeroRnnState pass;
  return pass;
}

}  // namespace kiln::passes
