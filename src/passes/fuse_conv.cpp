// Conv (+ Add of a per-channel constant) (+ Add of a same-shape residual) (+ activation) -> ai.kiln.FusedConv:
//   Y = activation(Conv(X, W, B) + Z)
// so the convolution's epilogue adds the residual and applies the activation while the tile is in registers,
// instead of three more passes over the output. A per-channel constant Add goes into the bias (a new
// initializer). The residual must provably have exactly the conv output's shape (dim keys: with symbolic image
// sizes, a ResNet shortcut still matches). float32 only; each intermediate must have no reader outside the
// pattern and must not be a graph output.

#include "passes/activation_match.h"
#include "passes/passes.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

// Per-channel values of a constant that, added to a conv output of `rank` dims, varies only along the channel
// axis and does not grow the output: [C], [C,1,1], [1,C,1,1], a single value, ... Empty when it is not.
std::vector<float> per_channel(const Tensor& c, size_t rank, int64_t channels) {
  if (c.dtype() != DType::kFloat32 || c.rank() > rank) return {};
  const size_t lead = rank - c.rank();
  int64_t along = 1;
  for (size_t j = 0; j < c.rank(); ++j) {
    const size_t axis = lead + j;
    if (axis == 1) along = c.dim(j);
    else if (c.dim(j) != 1) return {};
  }
  if (along != 1 && along != channels) return {};
  std::vector<float> v(static_cast<size_t>(channels));
  for (int64_t ch = 0; ch < channels; ++ch) v[static_cast<size_t>(ch)] = c.data<float>()[along == 1 ? 0 : ch];
  return v;
}

class FuseConv : public Pass {
 public:
  std::string_view name() const override { return "fuse_conv"; }
  std::string_view why() const override {
    return "bias, residual Add and activation applied in the convolution's epilogue: no extra pass over the output";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("FusedConv")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t c = 0; c < g.nodes.size(); ++c) {
      const ir::Node& conv = g.nodes[c];
      if (dead[c] || !is_op(conv, "Conv") || conv.outputs.size() != 1 || conv.inputs.size() < 2) continue;
      if (facts.dtype(conv.outputs[0]) != DType::kFloat32 || !facts.rank(conv.outputs[0])) continue;
      changed |= fuse(g, idx, facts, dead, static_cast<int>(c));
    }
    if (!changed) return false;
    erase_nodes(g, dead);
    import_kiln_domain(model);
    return true;
  }

 private:
  static bool fuse(ir::Graph& g, const GraphIndex& idx, const ShapeFacts& facts, std::vector<char>& dead, int c) {
    ir::Node fused = g.nodes[static_cast<size_t>(c)];
    const int y = fused.outputs[0];
    const size_t rank = *facts.rank(y);
    std::vector<int> nodes = {c};
    int last = c, cur = y;
    std::vector<float> bias;  // the new bias when a constant Add was folded into it
    int z = -1;
    // Adds right after the conv: a per-channel constant into the bias, then a residual.
    for (int round = 0; round < 2; ++round) {
      const std::vector<int>& readers = idx.readers(cur);
      if (readers.size() != 1 || !idx.only_read_by(cur, readers[0])) break;
      const int a = readers[0];
      const ir::Node& add = g.nodes[static_cast<size_t>(a)];
      const int operand = other_input(add, cur);
      if (dead[static_cast<size_t>(a)] || !is_op(add, "Add") || operand < 0 || operand == cur || add.outputs.size() != 1)
        break;
      const Tensor* k = idx.constant(operand);
      const Tensor* w = idx.constant(fused.inputs[1]);
      const bool has_b = fused.inputs.size() > 2 && fused.inputs[2] >= 0;
      const Tensor* b = has_b ? idx.constant(fused.inputs[2]) : nullptr;
      std::vector<float> pc = k && w && z < 0 ? per_channel(*k, rank, w->dim(0)) : std::vector<float>{};
      if (!pc.empty() && (!has_b || (b && b->dtype() == DType::kFloat32 && b->numel() == w->dim(0)))) {
        if (bias.empty()) bias = b ? std::vector<float>(b->data<float>(), b->data<float>() + b->numel())
                                   : std::vector<float>(pc.size(), 0.0f);
        for (size_t i = 0; i < pc.size(); ++i) bias[i] += pc[i];
      } else if (z < 0 && facts.dtype(operand) == DType::kFloat32 && facts.same_shape(operand, y)) {
        z = operand;
      } else {
        break;
      }
      nodes.push_back(a);
      last = a;
      cur = add.outputs[0];
    }
    std::optional<ActivationMatch> act = match_activation(g, idx, cur, dead);
    if (!act && nodes.size() == 1) return false;  // a bare Conv stays a Conv
    if (act) {
      set_activation_attrs(fused, *act);
      nodes.insert(nodes.end(), act->nodes.begin(), act->nodes.end());
      last = act->last;
      cur = act->output;
    }
    fused.domain = kKilnDomain;
    fused.op_type = "FusedConv";
    fused.inputs.resize(4, -1);
    if (!bias.empty()) {
      const std::string base = fused.name.empty() ? g.value(y).name : fused.name;
      fused.inputs[2] = add_initializer(g, base + "/bias_fused",
                                        Tensor::from_vector<float>({static_cast<int64_t>(bias.size())}, bias));
    }
    fused.inputs[3] = z;
    while (!fused.inputs.empty() && fused.inputs.back() < 0) fused.inputs.pop_back();
    fused.outputs = {cur};
    replace_pattern(g, dead, nodes, last, std::move(fused));
    return true;
  }
};

}  // namespace

const Pass& fuse_conv_pass() {
  static const FuseConv pass;
  return pass;
}

}  // namespace kiln::passes
