// Fuses a mobile net's inverted-residual blocks as to_channels_last leaves them, chains of ai.kiln.ConvNhwc:
//   1x1 expand (+bias, +activation) -> depthwise (+bias, +activation) [-> 1x1 project (+bias, +residual, +act)]
// -> ai.kiln.InvertedResidualNhwc (ops/inverted_residual_nhwc.cpp).
//
// Why: the expanded tensor has 4-6x the block's channels; unfused, the expansion writes it to memory, the
// depthwise reads it back and writes another as large, which the projection reads again. The fused kernel makes
// the expanded rows a band at a time in a ring that stays in L2. The projection joins when it is the only reader
// of the depthwise output; with a squeeze-excitation between them (MobileNet-v3, EfficientNet: a ReduceMean and
// a Mul read it) the block is expand + depthwise, whose output is then written once.
//
// What matches: an unpadded 1x1 ConvNhwc (stride 1, one group, no residual) with constant weights whose output
// only a depthwise ConvNhwc (constant weights [E, 1, kh, kw], group E, no residual) reads; then, optionally, an
// unpadded 1x1 stride-1 ConvNhwc that is the only reader of the depthwise output (as its X, not its residual).
// Each node joins one block at most (MobileNet-v1's alternating depthwise and 1x1 convolutions overlap).

#include <string>

#include "passes/passes.h"
#include "passes/rewrite_util.h"

namespace kiln::passes {
namespace {

bool is_conv_nhwc(const ir::Node& n) { return n.domain == kKilnDomain && n.op_type == "ConvNhwc"; }

// The constant float32 4-D weights of a ConvNhwc, else nullptr.
const Tensor* weights(const ir::Node& n, const GraphIndex& idx) {
  if (n.inputs.size() < 2) return nullptr;
  const Tensor* w = idx.constant(n.inputs[1]);
  return w && w->dtype() == DType::kFloat32 && w->rank() == 4 ? w : nullptr;
}

bool has_residual(const ir::Node& n) { return n.inputs.size() > 3 && n.inputs[3] >= 0; }

// A ConvNhwc with a scale input (fuse_channel_scale) has no place in a block.
bool has_scale(const ir::Node& n) { return n.inputs.size() > 4 && n.inputs[4] >= 0; }

// A 1x1 ConvNhwc over every pixel: stride 1, no padding, one group.
const Tensor* pointwise(const ir::Node& n, const GraphIndex& idx) {
  if (!is_conv_nhwc(n) || has_scale(n)) return nullptr;
  const Tensor* w = weights(n, idx);
  if (!w || w->dim(2) != 1 || w->dim(3) != 1) return nullptr;
  const std::string pad = get_string(n, "auto_pad", "NOTSET");
  if ((pad != "NOTSET" && pad != "VALID") || get_int(n, "group", 1) != 1) return nullptr;
  if (!all_equal(get_ints(n, "strides"), 1) || !all_equal(get_ints(n, "pads"), 0)) return nullptr;
  return all_equal(get_ints(n, "dilations"), 1) ? w : nullptr;
}

// A depthwise ConvNhwc without residual: weights [E, 1, kh, kw] (a window, not 1x1), group E.
const Tensor* depthwise(const ir::Node& n, const GraphIndex& idx) {
  if (!is_conv_nhwc(n) || has_residual(n) || has_scale(n)) return nullptr;
  const Tensor* w = weights(n, idx);
  if (!w || w->dim(1) != 1 || w->dim(2) * w->dim(3) <= 1 || get_int(n, "group", 1) != w->dim(0)) return nullptr;
  return w;
}

// Node `from`'s activation attributes, renamed with `prefix` ("activation" -> "expand_activation").
void move_activation(const ir::Node& from, const char* prefix, ir::Node& to) {
  for (const ir::Attribute& a : from.attributes) {
    if (a.name != "activation" && a.name != "activation_params") continue;
    to.attributes.push_back(a);
    to.attributes.back().name = prefix + a.name;
  }
}

int input_or_absent(const ir::Node& n, size_t i) { return i < n.inputs.size() ? n.inputs[i] : -1; }

class FuseInvertedResidual : public Pass {
 public:
  std::string_view name() const override { return "fuse_inverted_residual"; }
  std::string_view why() const override {
    return "a mobile net's 1x1 expand, depthwise and 1x1 project convolutions (channels-last) as one op: the "
           "expanded tensor is made a few rows at a time in a cache-sized ring instead of written to memory";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("InvertedResidualNhwc")) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0), used(g.nodes.size(), 0);
    bool changed = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node& d = g.nodes[i];
      const Tensor* wd = depthwise(d, idx);
      if (!wd || used[i]) continue;
      const int e = idx.producer(d.inputs[0]);
      if (e < 0 || used[static_cast<size_t>(e)] || idx.sole_reader(d.inputs[0]) != static_cast<int>(i)) continue;
      const ir::Node& expand = g.nodes[static_cast<size_t>(e)];
      const Tensor* we = pointwise(expand, idx);
      if (!we || has_residual(expand) || we->dim(0) != wd->dim(0)) continue;
      const int p = idx.sole_reader(d.outputs[0]);
      const ir::Node* project = p >= 0 ? &g.nodes[static_cast<size_t>(p)] : nullptr;
      if (project) {
        const Tensor* wp = pointwise(*project, idx);
        if (!wp || wp->dim(1) != wd->dim(0) || project->inputs[0] != d.outputs[0] ||
            input_or_absent(*project, 3) == d.outputs[0])
          project = nullptr;
      }

      ir::Node fused;
      fused.name = d.name;
      fused.domain = std::string(kKilnDomain);
      fused.op_type = "InvertedResidualNhwc";
      fused.inputs = {expand.inputs[0], expand.inputs[1], input_or_absent(expand, 2), d.inputs[1],
                      input_or_absent(d, 2)};
      for (const ir::Attribute& a : d.attributes)
        if (a.name != "activation" && a.name != "activation_params") fused.attributes.push_back(a);
      move_activation(expand, "expand_", fused);
      move_activation(d, "depthwise_", fused);
      std::vector<int> nodes = {e, static_cast<int>(i)};
      int last = static_cast<int>(i);
      if (project) {
        for (size_t k = 1; k < 4; ++k) fused.inputs.push_back(input_or_absent(*project, k));
        move_activation(*project, "project_", fused);
        fused.outputs = project->outputs;
        nodes.push_back(p);
        last = p;
        used[static_cast<size_t>(p)] = 1;
      } else {
        fused.outputs = d.outputs;
      }
      while (!fused.inputs.empty() && fused.inputs.back() < 0) fused.inputs.pop_back();
      used[static_cast<size_t>(e)] = used[i] = 1;
      replace_pattern(g, dead, nodes, last, std::move(fused));
      changed = true;
    }
    if (!changed) return false;
    erase_nodes(g, dead);
    import_kiln_domain(model);
    return true;
  }
};

}  // namespace

const Pass& fuse_inverted_residual_pass() {
  static const FuseInvertedResidual pass;
  return pass;
}

}  // namespace kiln::passes
