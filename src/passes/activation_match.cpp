#include "passes/activation_match.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace kiln::passes {

namespace {

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;

bool near(std::optional<double> v, double want) { return v && std::abs(*v - want) <= 1e-6 * std::abs(want); }

int other(const ir::Node& n, int x) { return other_input(n, x); }

struct Matcher {
  const ir::Graph& g;
  const GraphIndex& idx;
  const std::vector<char>& dead;
  bool x_exclusive;

  const ir::Node& node(int n) const { return g.nodes[static_cast<size_t>(n)]; }
  int out(int n) const { return node(n).outputs.size() == 1 ? node(n).outputs[0] : -1; }
  bool live_op(int n, std::string_view op) const {
    return n >= 0 && !dead[static_cast<size_t>(n)] && is_op(node(n), op);
  }
  // A float constant with one element and rank 0 or 1.
  std::optional<double> small_const(int v) const {
    const Tensor* t = idx.constant(v);
    if (!t || t->numel() != 1 || t->rank() > 1 || !dtype_is_float(t->dtype())) return std::nullopt;
    return t->double_at(0);
  }
  // The one node reading `v` (in one or more slots), when it is a live `op`.
  int sole_reader(int v, std::string_view op) const {
    if (v < 0 || idx.is_graph_output(v) || idx.read_by_subgraph(v)) return -1;
    const std::vector<int>& r = idx.readers(v);
    if (r.empty() || std::any_of(r.begin(), r.end(), [&](int n) { return n != r[0]; })) return -1;
    return live_op(r[0], op) ? r[0] : -1;
  }
  // Every reader of x and of each intermediate lies inside the pattern.
  bool closed(const std::vector<int>& nodes, int x, int last) const {
    const std::set<int> in(nodes.begin(), nodes.end());
    auto inside = [&](int v) {
      if (idx.is_graph_output(v) || idx.read_by_subgraph(v)) return false;
      const std::vector<int>& r = idx.readers(v);
      return std::all_of(r.begin(), r.end(), [&](int n) { return in.count(n) != 0; });
    };
    if (x_exclusive && !inside(x)) return false;
    for (int n : nodes) {
      if (dead[static_cast<size_t>(n)]) return false;
      if (n == last) continue;
      for (int o : node(n).outputs)
        if (o >= 0 && !inside(o)) return false;
    }
    return true;
  }

  std::optional<ActivationMatch> single(int r, int x) const;
  std::optional<ActivationMatch> gated(int x) const;
  // GELU: the node writing h = 1 + Erf(...) or 1 + Tanh(...), from one reader of x.
  int gelu_erf_h(int r, int x, std::vector<int>& nodes) const;
  int gelu_tanh_h(int r, int x, std::vector<int>& nodes) const;
  std::optional<ActivationMatch> gelu(int x) const;
};

std::optional<ActivationMatch> Matcher::single(int r, int x) const {
  const ir::Node& n = node(r);
  if (n.inputs.empty() || n.inputs[0] != x || n.outputs.size() != 1 || dead[static_cast<size_t>(r)]) return std::nullopt;
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.inputs[i] == x) return std::nullopt;
  ActivationMatch m;
  const bool kiln_gelu = n.domain == kKilnDomain && n.op_type == "Gelu";
  if ((is_op(n, "Relu") || is_op(n, "Sigmoid") || is_op(n, "Tanh") || is_op(n, "HardSwish")) && n.inputs.size() == 1) {
    m.kind = n.op_type;
  } else if (is_op(n, "LeakyRelu") && n.inputs.size() == 1) {
    m.kind = "LeakyRelu";
    m.params = {get_float(n, "alpha", 0.01f)};  // LeakyRelu reads alpha only
  } else if (is_op(n, "HardSigmoid") && n.inputs.size() == 1) {
    m.kind = "HardSigmoid";
    m.params = {get_float(n, "alpha", 0.2f), get_float(n, "beta", 0.5f)};
  } else if (is_op(n, "Clip")) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (n.attr("min") || n.attr("max")) {  // Clip-1/6: attributes, defaulting to the float range
      if (n.inputs.size() != 1) return std::nullopt;
      m.params = {get_float(n, "min", std::numeric_limits<float>::lowest()),
                  get_float(n, "max", std::numeric_limits<float>::max())};
    } else if (n.inputs.size() > 1) {  // Clip-11+: optional constant inputs, absent meaning unbounded
      m.params = {-kInf, kInf};
      for (size_t i = 1; i < 3 && i < n.inputs.size(); ++i) {
        if (n.inputs[i] < 0) continue;
        std::optional<double> v = small_const(n.inputs[i]);
        if (!v) return std::nullopt;
        m.params[i - 1] = static_cast<float>(*v);
      }
    } else {
      return std::nullopt;  // no bounds: an identity, not worth an epilogue
    }
    m.kind = "Clip";
  } else if ((is_op(n, "Gelu") || kiln_gelu) && n.inputs.size() == 1) {
    const std::string approximate = get_string(n, "approximate", "none");
    if (approximate != "none" && approximate != "tanh") return std::nullopt;
    m.kind = approximate == "none" ? "GeluErf" : "GeluTanh";
  } else {
    return std::nullopt;
  }
  m.nodes = {r};
  m.last = r;
  m.output = n.outputs[0];
  return m;
}

// x * Sigmoid(x) (SiLU) and x * HardSigmoid(x, 1/6, 1/2) (HardSwish).
std::optional<ActivationMatch> Matcher::gated(int x) const {
  for (int s : idx.readers(x)) {
    const ir::Node& gate = node(s);
    const bool sig = live_op(s, "Sigmoid");
    const bool hsig = live_op(s, "HardSigmoid") && near(get_float(gate, "alpha", 0.2f), 1.0 / 6) &&
                      near(get_float(gate, "beta", 0.5f), 0.5);
    if ((!sig && !hsig) || gate.inputs.size() != 1 || out(s) < 0) continue;
    const int m = sole_reader(out(s), "Mul");
    if (m < 0 || other(node(m), out(s)) != x) continue;
    ActivationMatch r{sig ? "Silu" : "HardSwish", {}, {s, m}, m, out(m)};
    if (r.output >= 0 && closed(r.nodes, x, m)) return r;
  }
  return std::nullopt;
}

int Matcher::gelu_erf_h(int r, int x, std::vector<int>& nodes) const {
  const ir::Node& scale = node(r);
  const bool div = live_op(r, "Div") && scale.inputs.size() == 2 && scale.inputs[0] == x &&
                   near(small_const(scale.inputs[1]), kSqrt2);
  const bool mul = live_op(r, "Mul") && near(small_const(other(scale, x)), 1 / kSqrt2);
  if (!div && !mul) return -1;
  const int e = sole_reader(out(r), "Erf");
  const int a = e < 0 ? -1 : sole_reader(out(e), "Add");
  if (a < 0 || !near(small_const(other(node(a), out(e))), 1.0)) return -1;
  nodes = {r, e, a};
  return a;
}

int Matcher::gelu_tanh_h(int r, int x, std::vector<int>& nodes) const {
  if (!live_op(r, "Add")) return -1;
  const int w = other(node(r), x);  // 0.044715 * x^3
  const int wp = idx.producer(w);
  if (w < 0 || w == x || !live_op(wp, "Mul") || idx.readers(w).size() != 1) return -1;
  int cube = -1;
  for (int operand : node(wp).inputs)
    if (near(small_const(operand), kGeluCubic)) cube = other(node(wp), operand);
  const int cp = idx.producer(cube);
  if (cube < 0 || cp < 0 || idx.readers(cube).size() != 1) return -1;
  std::vector<int> found = {r, wp, cp};
  if (live_op(cp, "Pow")) {
    if (node(cp).inputs.size() != 2 || node(cp).inputs[0] != x || !near(small_const(node(cp).inputs[1]), 3.0)) return -1;
  } else if (live_op(cp, "Mul")) {  // x * (x * x), either order
    const int sq = other(node(cp), x);
    const int sp = idx.producer(sq);
    if (sq < 0 || sq == x || !live_op(sp, "Mul") || node(sp).inputs[0] != x || node(sp).inputs[1] != x ||
        idx.readers(sq).size() != 1)
      return -1;
    found.push_back(sp);
  } else {
    return -1;
  }
  const int u = sole_reader(out(r), "Mul");
  if (u < 0 || !near(small_const(other(node(u), out(r))), kSqrt2OverPi)) return -1;
  const int t = sole_reader(out(u), "Tanh");
  const int a = t < 0 ? -1 : sole_reader(out(t), "Add");
  if (a < 0 || !near(small_const(other(node(a), out(t))), 1.0)) return -1;
  found.insert(found.end(), {u, t, a});
  nodes = std::move(found);
  return a;
}

std::optional<ActivationMatch> Matcher::gelu(int x) const {
  for (int r : std::set<int>(idx.readers(x).begin(), idx.readers(x).end())) {
    std::vector<int> nodes;
    std::string kind = "GeluErf";
    int a = gelu_erf_h(r, x, nodes);
    if (a < 0) {
      kind = "GeluTanh";
      a = gelu_tanh_h(r, x, nodes);
    }
    if (a < 0) continue;
    // x * h * 0.5, multiplied in any order.
    const int h = out(a);
    const int m = sole_reader(h, "Mul");
    if (m < 0) continue;
    const int y = other(node(m), h);
    int last = -1;
    if (y == x) {
      const int f = sole_reader(out(m), "Mul");
      if (f >= 0 && near(small_const(other(node(f), out(m))), 0.5)) last = f;
      nodes.insert(nodes.end(), {m, f});
    } else if (near(small_const(y), 0.5)) {
      const int f = sole_reader(out(m), "Mul");
      if (f >= 0 && other(node(f), out(m)) == x) last = f;
      nodes.insert(nodes.end(), {m, f});
    } else if (const int yp = idx.producer(y); live_op(yp, "Mul") && near(small_const(other(node(yp), x)), 0.5)) {
      last = m;
      nodes.insert(nodes.end(), {yp, m});
    }
    if (last < 0 || out(last) < 0 || !closed(nodes, x, last)) continue;
    return ActivationMatch{kind, {}, nodes, last, out(last)};
  }
  return std::nullopt;
}

}  // namespace

std::optional<ActivationMatch> match_activation(const ir::Graph& g, const GraphIndex& idx, int x,
                                                const std::vector<char>& dead, bool x_exclusive) {
  if (x < 0 || (x_exclusive && (idx.is_graph_output(x) || idx.read_by_subgraph(x)))) return std::nullopt;
  const Matcher m{g, idx, dead, x_exclusive};
  const std::vector<int>& readers = idx.readers(x);
  if (readers.size() == 1 && x_exclusive)
    if (auto single = m.single(readers[0], x)) return single;
  if (auto gated = m.gated(x)) return gated;
  return m.gelu(x);
}

void set_activation_attrs(ir::Node& fused, const ActivationMatch& m) {
  set_attr(fused, attr_string("activation", m.kind));
  if (!m.params.empty()) set_attr(fused, attr_floats("activation_params", m.params));
}

}  // namespace kiln::passes
