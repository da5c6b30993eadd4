// The LayerNorm subgraph PyTorch exports below opset 17 -> ai.kiln.LayerNormalization (ONNX
// LayerNormalization-17 semantics, at any opset):
//   mean = ReduceMean(X, axes)            d = Sub(X, mean)
//   var  = ReduceMean(Pow(d, 2), axes)    (or Mul(d, d))
//   n    = Div(d, Sqrt(Add(var, eps)))    (or Mul(d, Reciprocal(Sqrt(...))))
//   Y    = Add(Mul(n, scale), bias)       (each optional, operands in either order)
// with axes the trailing dims of X (as attribute, or as a constant input from opset 18), keepdims 1. Nine
// element-wise passes and two reductions become one pass over each row. Scale and bias must lie within the
// normalized dims (so they cannot broadcast X larger); when the Mul is absent, the scale is a new initializer
// of ones. float32 only; every intermediate read only inside the pattern.

#include <algorithm>

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

struct Match {
  std::vector<int> nodes;
  int last = -1, output = -1, scale = -1, bias = -1;
  int64_t axis = 0;
  float epsilon = 0;
};

class FuseLayerNorm : public Pass {
 public:
  std::string_view name() const override { return "fuse_layer_norm"; }
  std::string_view why() const override {
    return "one pass over each row instead of two reductions and seven element-wise ops";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("LayerNormalization")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t r = 0; r < g.nodes.size(); ++r) {
      std::optional<Match> m = match(g, idx, facts, dead, static_cast<int>(r));
      if (!m) continue;
      const ir::Node& first = g.nodes[r];
      ir::Node ln;
      ln.name = first.name;
      ln.domain = kKilnDomain;
      ln.op_type = "LayerNormalization";
      const int x = first.inputs[0];
      if (m->scale < 0) {  // no Mul: a scale of ones over the normalized dims
        std::vector<int64_t> dims;
        for (int64_t d = m->axis; d < static_cast<int64_t>(*facts.rank(x)); ++d) dims.push_back(*facts.dim(x, d));
        Tensor ones(DType::kFloat32, dims);
        std::fill(ones.data<float>(), ones.data<float>() + ones.numel(), 1.0f);
        m->scale = add_initializer(g, (first.name.empty() ? "layer_norm" : first.name) + "/scale_ones", std::move(ones));
      }
      ln.inputs = {x, m->scale};
      if (m->bias >= 0) ln.inputs.push_back(m->bias);
      ln.outputs = {m->output};
      ln.attributes = {attr_int("axis", m->axis), attr_float("epsilon", m->epsilon)};
      replace_pattern(g, dead, m->nodes, m->last, std::move(ln));
      changed = true;
    }
    if (!changed) return false;
    erase_nodes(g, dead);
    import_kiln_domain(model);
    return true;
  }

 private:
  // The trailing axis the reduction starts at, when `n` is a ReduceMean over the trailing dims of a rank-`rank`
  // input, keeping them.
  static std::optional<int64_t> trailing_axis(const ir::Node& n, const GraphIndex& idx, size_t rank) {
    if (!is_op(n, "ReduceMean") || get_int(n, "keepdims", 1) != 1 || n.outputs.size() != 1) return std::nullopt;
    std::vector<int64_t> axes = get_ints(n, "axes");
    if (n.inputs.size() > 1 && n.inputs[1] >= 0) {
      const Tensor* t = idx.constant(n.inputs[1]);
      if (!t || !axes.empty()) return std::nullopt;
      axes = t->to_int64_vector();
    }
    if (axes.empty()) return std::nullopt;
    for (int64_t& a : axes) a = a < 0 ? a + static_cast<int64_t>(rank) : a;
    std::sort(axes.begin(), axes.end());
    for (size_t i = 0; i < axes.size(); ++i)
      if (axes[i] != static_cast<int64_t>(rank - axes.size() + i)) return std::nullopt;
    return axes.front();
  }

  static std::optional<Match> match(const ir::Graph& g, const GraphIndex& idx, const ShapeFacts& facts,
                                    const std::vector<char>& dead, int r1) {
    const ir::Node& mean_node = g.nodes[static_cast<size_t>(r1)];
    if (dead[static_cast<size_t>(r1)] || !is_op(mean_node, "ReduceMean") || mean_node.inputs.empty()) return std::nullopt;
    const int x = mean_node.inputs[0];
    const std::optional<size_t> rank = facts.rank(x);
    if (!rank || *rank == 0 || facts.dtype(x) != DType::kFloat32) return std::nullopt;
    const std::optional<int64_t> axis = trailing_axis(mean_node, idx, *rank);
    if (!axis) return std::nullopt;
    auto node = [&](int n) -> const ir::Node& { return g.nodes[static_cast<size_t>(n)]; };
    auto out = [&](int n) { return node(n).outputs.size() == 1 ? node(n).outputs[0] : -1; };
    auto op = [&](int n, std::string_view type) { return n >= 0 && !dead[static_cast<size_t>(n)] && is_op(node(n), type); };
    Match m;
    const int sub = idx.sole_reader(mean_node.outputs[0]);
    if (!op(sub, "Sub") || node(sub).inputs != std::vector<int>{x, mean_node.outputs[0]}) return std::nullopt;
    const int d = out(sub);
    if (d < 0) return std::nullopt;
    // d feeds the square and the division, nothing else.
    int square = -1, div = -1;
    for (int reader : idx.readers(d)) {
      if (op(reader, "Pow") && node(reader).inputs[0] == d && idx.small_scalar(node(reader).inputs[1]) == 2.0) square = reader;
      else if (op(reader, "Mul") && node(reader).inputs == std::vector<int>{d, d}) square = reader;
      else if ((op(reader, "Div") || op(reader, "Mul")) && node(reader).inputs.size() == 2 && node(reader).inputs[0] == d)
        div = reader;
    }
    if (square < 0 || div < 0 || square == div) return std::nullopt;
    const int var = idx.sole_reader(out(square));
    if (!op(var, "ReduceMean") || trailing_axis(node(var), idx, *rank) != axis || node(var).inputs[0] != out(square))
      return std::nullopt;
    const int add_eps = idx.sole_reader(out(var));
    if (!op(add_eps, "Add")) return std::nullopt;
    const std::optional<double> eps = idx.small_scalar(other_input(node(add_eps), out(var)));
    const int sqrt = idx.sole_reader(out(add_eps));
    if (!eps || !op(sqrt, "Sqrt")) return std::nullopt;
    m.nodes = {r1, sub, square, var, add_eps, sqrt};
    int denom = out(sqrt);
    if (op(div, "Mul")) {  // d * Reciprocal(sqrt)
      const int rec = idx.sole_reader(denom);
      if (!op(rec, "Reciprocal")) return std::nullopt;
      m.nodes.push_back(rec);
      denom = out(rec);
    }
    if (node(div).inputs[1] != denom || idx.sole_reader(denom) != div) return std::nullopt;
    m.nodes.push_back(div);
    m.last = div;
    // Optional Mul(scale) then Add(bias), operands confined to the normalized dims.
    const size_t normalized = *rank - static_cast<size_t>(*axis);
    auto affine = [&](std::string_view type, int& operand) {
      const int cur = out(m.last);
      const int n = idx.sole_reader(cur);
      if (!op(n, type)) return;
      const int v = other_input(node(n), cur);
      if (v < 0 || v == cur || facts.dtype(v) != DType::kFloat32 || facts.rank(v).value_or(99) > normalized ||
          !facts.broadcasts_into(v, x))
        return;
      operand = v;
      m.nodes.push_back(n);
      m.last = n;
    };
    affine("Mul", m.scale);
    affine("Add", m.bias);
    if (m.scale < 0)  // a scale of ones needs the normalized dims' sizes
      for (int64_t a = *axis; a < static_cast<int64_t>(*rank); ++a)
        if (!facts.dim(x, a)) return std::nullopt;
    // Every intermediate is read only inside the pattern (sole_reader checked each but d, which has two readers).
    for (int reader : idx.readers(d))
      if (reader != square && reader != div) return std::nullopt;
    if (idx.is_graph_output(d) || idx.read_by_subgraph(d)) return std::nullopt;
    m.output = out(m.last);
    m.axis = *axis;
    m.epsilon = static_cast<float>(*eps);
    return m;
  }
};

}  // namespace

const Pass& fuse_layer_norm_pass() {
  static const FuseLayerNorm pass;
  return pass;
}

}  // namespace kiln::passes
