// Moves a squeeze-excitation gate into the 1x1 convolution after it, on channels-last tensors:
//   G = Mul(D, S)  (S [N, 1, 1, C]: one factor per image and channel);  Y = ConvNhwc(G, W, B, Z)
// -> Y = ConvNhwc(D, W, B, Z, S) (ops/conv_nhwc.cpp's scale input).
//
// Why: in MobileNet-v3's and EfficientNet's blocks the gate's Mul writes a tensor as large as the depthwise output
// (6x the block's channels) for the projection to read back; the prepared 1x1 scales rows of D a band at a time in
// its scratch instead (at batch 8, EfficientNet-B0's 16 Muls took 6 % of a run).
//
// What matches: a Mul of a 4-D float32 value D and a value S proven [N, 1, 1, C] with D's N and C (dim keys), whose
// result has D's shape and is read only by an unpadded stride-1 1x1 ConvNhwc without a scale (as its X, not its
// residual) with constant weights.

#include <algorithm>
#include <string>

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

// An unpadded stride-1 1x1 ConvNhwc with constant weights and no scale yet.
bool plain_pointwise(const ir::Node& n, const GraphIndex& idx) {
  if (n.domain != kKilnDomain || n.op_type != "ConvNhwc" || n.inputs.size() < 2 || n.inputs.size() > 4) return false;
  const Tensor* w = idx.constant(n.inputs[1]);
  if (!w || w->dtype() != DType::kFloat32 || w->rank() != 4 || w->dim(2) != 1 || w->dim(3) != 1) return false;
  const std::string pad = get_string(n, "auto_pad", "NOTSET");
  if ((pad != "NOTSET" && pad != "VALID") || get_int(n, "group", 1) != 1) return false;
  return all_equal(get_ints(n, "strides"), 1) && all_equal(get_ints(n, "pads"), 0) &&
         all_equal(get_ints(n, "dilations"), 1);
}

// True when `s` is proven [N, 1, 1, C] for `d` [N, H, W, C].
bool is_channel_scale(const ShapeFacts& facts, int s, int d) {
  const std::vector<DimKey>* ks = facts.keys(s);
  const std::vector<DimKey>* kd = facts.keys(d);
  if (!ks || !kd || ks->size() != 4 || kd->size() != 4) return false;
  return (*ks)[0] == (*kd)[0] && (*ks)[1].is_one() && (*ks)[2].is_one() && (*ks)[3] == (*kd)[3];
}

class FuseChannelScale : public Pass {
 public:
  std::string_view name() const override { return "fuse_channel_scale"; }
  std::string_view why() const override {
    return "a squeeze-excitation gate (Mul by [N, 1, 1, C]) moved into the channels-last 1x1 convolution after it, "
           "which scales its input rows in cache instead of reading a gated copy from memory";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    const bool any = std::any_of(g.nodes.begin(), g.nodes.end(), [](const ir::Node& n) {
      return n.domain == kKilnDomain && n.op_type == "ConvNhwc";
    });
    if (!any) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node& mul = g.nodes[i];
      if (!is_op(mul, "Mul") || mul.inputs.size() != 2 || mul.outputs.size() != 1) continue;
      const int out = mul.outputs[0];
      const int p = idx.sole_reader(out);
      if (p < 0 || !plain_pointwise(g.nodes[static_cast<size_t>(p)], idx)) continue;
      ir::Node& conv = g.nodes[static_cast<size_t>(p)];
      if (conv.inputs[0] != out || (conv.inputs.size() > 3 && conv.inputs[3] == out)) continue;
      for (int k = 0; k < 2; ++k) {
        const int d = mul.inputs[static_cast<size_t>(k)], s = mul.inputs[static_cast<size_t>(1 - k)];
        if (facts.dtype(d) != DType::kFloat32 || facts.dtype(s) != DType::kFloat32) continue;
        if (!is_channel_scale(facts, s, d) || !facts.same_shape(out, d)) continue;
        conv.inputs[0] = d;
        conv.inputs.resize(4, -1);
        conv.inputs.push_back(s);
        dead[i] = 1;
        changed = true;
        break;
      }
    }
    if (!changed) return false;
    erase_nodes(g, dead);
    return true;
  }
};

}  // namespace

const Pass& fuse_channel_scale_pass() {
  static const FuseChannelScale pass;
  return pass;
}

}  // namespace kiln::passes
