// Runs a mobile net's convolutions channels-last: connected runs of 1x1 and depthwise convolutions (with the
// element-wise ops and global average pools between them) become ai.kiln.ConvNhwc on NHWC tensors, with one
// Transpose where the run begins and one where something outside it reads a value.
//
// Why: in NCHW a depthwise kernel must bring each pixel's channels together (kiln's dwchan transposes blocks of
// channels in and out, layer by layer) and a 1x1 convolution reads its input planes as the GEMM's B in columns;
// in NHWC a pixel's channels are one vector for the depthwise taps and a row of the 1x1's A, which the GEMM
// reads in place. ONNX Runtime gets the same from its NCHWc layout across layers.
//
// What joins a run (a "region"), each reading 4-D float32 values:
//   - Conv / ai.kiln.FusedConv with constant 4-D weights: 1x1 one-group unpadded undilated (any stride), or
//     depthwise (groups = input = output channels, kernel up to 7x7, stride 1 or 2, explicit pads, any dilation:
//     LR-ASPP's backbone dilates its last stage);
//   - GlobalAveragePool -> ReduceMean over axes 1, 2 (kept);
//   - layout-free element-wise ops: the unary ones below (extra inputs only one-element constants) and the
//     binary arithmetic ones, whose other operand is a 4-D value, a constant (permuted to NHWC, as its
//     broadcast needs), or one element.
// A region is kept when it holds a depthwise convolution and at least kMinConvs convolutions: a ResNet's lone
// 1x1s would only add transposes. Values keep their meaning outside the region: a region value read outside it
// (or a graph output) is written back in NCHW under its original id by a Transpose after its producer; inside,
// each value has an NHWC twin.

#include <algorithm>
#include <numeric>
#include <span>

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

// Convolutions a region needs before its transposes pay off.
constexpr int kMinConvs = 4;

constexpr std::string_view kUnary[] = {"Relu",  "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip",
                                       "LeakyRelu", "Elu", "Selu",        "Softplus",  "Mish", "Erf",
                                       "Abs",   "Neg",     "Exp",         "Sqrt",      "Reciprocal"};
constexpr std::string_view kBinary[] = {"Add", "Sub", "Mul", "Div"};

enum class Role : uint8_t { kNone, kPointwise, kDepthwise, kGlobalPool, kUnary, kBinary };

bool listed(std::string_view op, std::span<const std::string_view> list) {
  return std::find(list.begin(), list.end(), op) != list.end();
}

bool is_4d_float(const ShapeFacts& facts, int v) {
  return v >= 0 && facts.dtype(v) == DType::kFloat32 && facts.rank(v) == 4u;
}

bool all_zero(const std::vector<int64_t>& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; });
}

bool all_one(const std::vector<int64_t>& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 1; });
}

Role conv_role(const ir::Node& n, const GraphIndex& idx, const ShapeFacts& facts) {
  if (n.inputs.size() < 2 || n.outputs.size() != 1 || !is_4d_float(facts, n.inputs[0])) return Role::kNone;
  const Tensor* w = idx.constant(n.inputs[1]);
  if (!w || w->dtype() != DType::kFloat32 || w->rank() != 4) return Role::kNone;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !idx.constant(n.inputs[2])) return Role::kNone;
  const std::string pad = get_string(n, "auto_pad", "NOTSET");
  const std::vector<int64_t> strides = get_ints(n, "strides", {1, 1});
  const int64_t group = get_int(n, "group", 1);
  if (group == 1 && w->dim(2) == 1 && w->dim(3) == 1 && all_zero(get_ints(n, "pads", {0, 0, 0, 0})) &&
      all_one(get_ints(n, "dilations", {1, 1})) && (pad == "NOTSET" || pad == "VALID"))
    return Role::kPointwise;
  const std::optional<int64_t> channels = facts.dim(n.inputs[0], 1);
  const bool depthwise = channels && group == *channels && w->dim(0) == group && w->dim(1) == 1;
  const bool small = w->dim(2) <= 7 && w->dim(3) <= 7 && std::all_of(strides.begin(), strides.end(), [](int64_t s) {
    return s == 1 || s == 2;
  });
  return depthwise && small && pad == "NOTSET" ? Role::kDepthwise : Role::kNone;
}

// Whether operand `v` of a region element-wise op can be read in NHWC: a 4-D value, or a float constant of rank
// at most 4 (permuted), or one element.
bool nhwc_operand(int v, const GraphIndex& idx, const ShapeFacts& facts) {
  if (const Tensor* c = idx.constant(v)) return c->dtype() == DType::kFloat32 && c->rank() <= 4;
  return is_4d_float(facts, v);
}

Role role_of(const ir::Node& n, const GraphIndex& idx, const ShapeFacts& facts) {
  if (n.outputs.size() != 1 || !is_4d_float(facts, n.outputs[0])) return Role::kNone;
  if (is_op(n, "Conv") || (n.domain == kKilnDomain && n.op_type == "FusedConv")) return conv_role(n, idx, facts);
  if (!n.domain.empty()) return Role::kNone;
  if (n.op_type == "GlobalAveragePool") return is_4d_float(facts, n.inputs[0]) ? Role::kGlobalPool : Role::kNone;
  if (listed(n.op_type, kUnary)) {
    if (n.inputs.empty() || !is_4d_float(facts, n.inputs[0])) return Role::kNone;
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      const Tensor* c = n.inputs[i] < 0 ? nullptr : idx.constant(n.inputs[i]);
      if (n.inputs[i] >= 0 && (!c || c->numel() != 1)) return Role::kNone;
    }
    return Role::kUnary;
  }
  if (listed(n.op_type, kBinary) && n.inputs.size() == 2) {
    const bool ok = nhwc_operand(n.inputs[0], idx, facts) && nhwc_operand(n.inputs[1], idx, facts);
    return ok && (is_4d_float(facts, n.inputs[0]) || is_4d_float(facts, n.inputs[1])) ? Role::kBinary : Role::kNone;
  }
  return Role::kNone;
}

int find_root(std::vector<int>& parent, int i) {
  while (parent[static_cast<size_t>(i)] != i) {
    int& up = parent[static_cast<size_t>(i)];
    up = parent[static_cast<size_t>(up)];  // path halving
    i = up;
  }
  return i;
}

// A float constant of rank <= 4 as NHWC: padded with leading 1s to rank 4 (numpy broadcasting), then permuted.
Tensor nhwc_constant(const Tensor& c) {
  std::vector<int64_t> d(4 - c.rank(), 1);
  d.insert(d.end(), c.dims().begin(), c.dims().end());
  Tensor out(DType::kFloat32, {d[0], d[2], d[3], d[1]});
  const float* src = c.data<float>();
  float* dst = out.data<float>();
  for (int64_t n = 0; n < d[0]; ++n)
    for (int64_t ch = 0; ch < d[1]; ++ch)
      for (int64_t h = 0; h < d[2]; ++h)
        for (int64_t w = 0; w < d[3]; ++w)
          dst[((n * d[2] + h) * d[3] + w) * d[1] + ch] = src[((n * d[1] + ch) * d[2] + h) * d[3] + w];
  return out;
}

class Rewriter {
 public:
  Rewriter(ir::Model& model, const GraphIndex& idx, const std::vector<char>& in_region)
      : model_(model), g_(*model.graph), idx_(idx), in_region_(in_region), twin_(g_.values.size(), -1) {}

  void run() {
    std::vector<ir::Node> old = std::move(g_.nodes);
    g_.nodes.clear();
    for (size_t i = 0; i < old.size(); ++i) {
      ir::Node n = std::move(old[i]);
      if (!in_region_[i]) {
        emit(std::move(n));
        continue;
      }
      const bool conv = is_op(n, "Conv") || n.op_type == "FusedConv";
      const size_t data_inputs = conv ? 1 : n.inputs.size();  // W and B stay as they are
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (n.inputs[k] >= 0 && (k < data_inputs || (conv && k == 3))) n.inputs[k] = nhwc(n.inputs[k]);
      if (conv) {
        n.domain = std::string(kKilnDomain);
        n.op_type = "ConvNhwc";
      } else if (n.op_type == "GlobalAveragePool") {
        to_reduce_mean(n);
      }
      const int out = n.outputs[0];
      const bool read_outside = needs_nchw(out);
      const int twin = read_outside ? add_value(g_, g_.value(out).name + "/nhwc") : out;
      n.outputs[0] = twin;
      twin_[static_cast<size_t>(out)] = twin;
      const std::string name = n.name;
      emit(std::move(n));
      if (read_outside) emit_transpose(twin, out, {0, 3, 1, 2}, name + "/to_nchw");
    }
  }

 private:
  void emit(ir::Node n) { g_.nodes.push_back(std::move(n)); }

  void emit_transpose(int from, int to, std::vector<int64_t> perm, const std::string& name) {
    ir::Node t;
    t.name = unique_node_name(name);
    t.op_type = "Transpose";
    t.inputs = {from};
    t.outputs = {to};
    t.attributes.push_back(attr_ints("perm", std::move(perm)));
    emit(std::move(t));
  }

  std::string unique_node_name(const std::string& base) {
    // Value names are unique already; node names only need not to collide with each other's Transposes.
    return base + "#" + std::to_string(transposes_++);
  }

  // The NHWC twin of `v` for a region reader: a region value's own, a permuted constant, or a new Transpose.
  int nhwc(int v) {
    int& twin = twin_[static_cast<size_t>(v)];
    if (twin >= 0) return twin;
    if (const Tensor* c = idx_.constant(v)) {
      twin = c->numel() == 1 ? v : add_initializer(g_, g_.value(v).name + "/nhwc", nhwc_constant(*c));
      return twin;
    }
    twin = add_value(g_, g_.value(v).name + "/nhwc");
    emit_transpose(v, twin, {0, 2, 3, 1}, g_.value(v).name + "/to_nhwc");
    return twin;
  }

  // Whether region value `v` is read in NCHW: by a node outside the region, a subgraph, or as a graph output.
  bool needs_nchw(int v) const {
    if (idx_.is_graph_output(v) || idx_.read_by_subgraph(v)) return true;
    for (int r : idx_.readers(v))
      if (!in_region_[static_cast<size_t>(r)]) return true;
    return false;
  }

  // GlobalAveragePool on NHWC: the mean over H and W, dims kept ([N, 1, 1, C]).
  void to_reduce_mean(ir::Node& n) {
    n.op_type = "ReduceMean";
    n.attributes.clear();
    n.attributes.push_back(attr_int("keepdims", 1));
    if (model_.opset("") >= 18) {
      n.inputs.push_back(add_ints_initializer(g_, n, "axes", {1, 2}));
    } else {
      n.attributes.push_back(attr_ints("axes", {1, 2}));
    }
  }

  ir::Model& model_;
  ir::Graph& g_;
  const GraphIndex& idx_;
  const std::vector<char>& in_region_;
  std::vector<int> twin_;  // per value: its NHWC twin once made
  int transposes_ = 0;
};

class ToChannelsLast : public Pass {
 public:
  std::string_view name() const override { return "to_channels_last"; }
  std::string_view why() const override {
    return "mobile nets' 1x1 and depthwise convolutions on NHWC tensors: a pixel's channels are one GEMM row or "
           "one vector, with no per-layer transposes";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("ConvNhwc")) return false;
    if (!has_op(*model.graph, "Conv") && !has_kiln_conv(*model.graph)) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    const size_t count = g.nodes.size();
    std::vector<Role> role(count, Role::kNone);
    std::vector<int> parent(count);
    std::iota(parent.begin(), parent.end(), 0);
    for (size_t i = 0; i < count; ++i) {
      role[i] = role_of(g.nodes[i], idx, facts);
      if (role[i] == Role::kNone) continue;
      for (int v : g.nodes[i].inputs) {
        const int p = idx.producer(v);
        if (p >= 0 && role[static_cast<size_t>(p)] != Role::kNone)
          parent[static_cast<size_t>(find_root(parent, static_cast<int>(i)))] = find_root(parent, p);
      }
    }
    std::vector<int> convs(count, 0), depthwise(count, 0);
    for (size_t i = 0; i < count; ++i) {
      if (role[i] != Role::kPointwise && role[i] != Role::kDepthwise) continue;
      const auto r = static_cast<size_t>(find_root(parent, static_cast<int>(i)));
      ++convs[r];
      depthwise[r] += role[i] == Role::kDepthwise;
    }
    std::vector<char> in_region(count, 0);
    bool any = false;
    for (size_t i = 0; i < count; ++i) {
      if (role[i] == Role::kNone) continue;
      const auto r = static_cast<size_t>(find_root(parent, static_cast<int>(i)));
      in_region[i] = depthwise[r] > 0 && convs[r] >= kMinConvs;
      any |= in_region[i] != 0;
    }
    if (!any) return false;
    Rewriter(model, idx, in_region).run();
    import_kiln_domain(model);
    return true;
  }

 private:
  static bool has_kiln_conv(const ir::Graph& g) {
    return std::any_of(g.nodes.begin(), g.nodes.end(),
                       [](const ir::Node& n) { return n.domain == kKilnDomain && n.op_type == "FusedConv"; });
  }
};

}  // namespace

const Pass& to_channels_last_pass() {
  static const ToChannelsLast pass;
  return pass;
}

}  // namespace kiln::passes
