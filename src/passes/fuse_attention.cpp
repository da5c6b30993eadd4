// Scaled dot-product attention -> ai.kiln.ScaledDotProductAttention (Y = Softmax(Q K^T scale + mask) V):
//   S = MatMul(Q', K^T)          Q' = Q, or Q scaled by a constant (Mul/Div: the scale goes into `scale`)
//   S' = S, or S * c, or S / c
//   S'' = S', or S' + mask (any value that broadcasts into S'), or Where(cond, -inf, S') (masked_fill)
//   P = Softmax(S'', last axis)  Y = MatMul(P, V)
// K^T is usually a Transpose of K (read only here): it becomes a Transpose with the last two axes swapped back,
// or disappears when that is the identity; otherwise a Transpose of the last two axes is added. A masked_fill
// becomes an additive mask Where(cond, -inf, 0): S' + (-inf) = -inf and S' + 0 = S' for every finite score, so
// outputs change only where a score is already infinite or NaN.
// Q, K^T and V must have the same rank and provably equal leading dims (no broadcasting between them), the
// mask must broadcast into the scores without growing them, everything float32, and every intermediate read only
// inside the pattern. The attention probabilities and scores are then never written out.

#include <numeric>

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

struct Match {
  int qk = -1, softmax = -1, pv = -1;  // the two MatMuls and the Softmax
  std::vector<int> scale_nodes;         // Mul/Div by constants on Q, K^T or the scores
  int mask_node = -1;                   // the Add or Where that applies the mask
  int q = -1, kt = -1, v = -1, mask = -1, where_cond = -1;
  bool where_masks_true = true;         // Where(cond, -inf, S) (true) or Where(cond, S, -inf)
  double scale = 1;
};

class FuseAttention : public Pass {
 public:
  std::string_view name() const override { return "fuse_attention"; }
  std::string_view why() const override {
    return "QK^T, scale, mask, softmax and the product with V in one kernel: the [S, T] scores never go to memory";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("ScaledDotProductAttention")) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t s = 0; s < g.nodes.size(); ++s) {
      std::optional<Match> m = match(g, idx, facts, dead, static_cast<int>(s), model.opset(""));
      if (!m) continue;
      rewrite(g, idx, facts, dead, *m);
      changed = true;
    }
    if (!changed) return false;
    erase_nodes(g, dead);
    import_kiln_domain(model);
    return true;
  }

 private:
  // Follows `v` back through a Mul/Div by a scalar constant read only by `reader`, folding the factor into
  // `scale`.
  static int peel_scale(const ir::Graph& g, const GraphIndex& idx, int v, int reader, Match& m) {
    const int p = idx.producer(v);
    if (p < 0 || idx.sole_reader(v) != reader) return v;
    const ir::Node& n = g.nodes[static_cast<size_t>(p)];
    if ((!is_op(n, "Mul") && !is_op(n, "Div")) || n.inputs.size() != 2) return v;
    const bool div = is_op(n, "Div");
    const int operand = div ? 1 : idx.small_scalar(n.inputs[0]) ? 0 : 1;
    const std::optional<double> c = idx.small_scalar(n.inputs[static_cast<size_t>(operand)]);
    if (!c || *c == 0 || (div && operand != 1)) return v;
    m.scale *= div ? 1 / *c : *c;
    m.scale_nodes.push_back(p);
    return n.inputs[static_cast<size_t>(1 - operand)];
  }

  static std::optional<Match> match(const ir::Graph& g, const GraphIndex& idx, const ShapeFacts& facts,
                                    const std::vector<char>& dead, int qk, int64_t opset) {
    auto node = [&](int n) -> const ir::Node& { return g.nodes[static_cast<size_t>(n)]; };
    auto out = [&](int n) { return node(n).outputs.size() == 1 ? node(n).outputs[0] : -1; };
    auto live = [&](int n, std::string_view op) { return n >= 0 && !dead[static_cast<size_t>(n)] && is_op(node(n), op); };
    if (!live(qk, "MatMul") || node(qk).inputs.size() != 2 || out(qk) < 0) return std::nullopt;
    Match m;
    m.qk = qk;
    m.q = peel_scale(g, idx, node(qk).inputs[0], qk, m);
    m.kt = peel_scale(g, idx, node(qk).inputs[1], qk, m);
    // Scores: optional scale, optional mask, then Softmax over the last axis.
    int cur = out(qk);
    const int rank = static_cast<int>(facts.rank(cur).value_or(0));
    if (rank < 2 || facts.dtype(cur) != DType::kFloat32) return std::nullopt;
    int next = idx.sole_reader(cur);
    if (live(next, "Mul") || live(next, "Div")) {
      const int operand = other_input(node(next), cur);
      const std::optional<double> c = idx.small_scalar(operand);
      const bool div = is_op(node(next), "Div");
      if (!c || *c == 0 || (div && node(next).inputs[1] != operand)) return std::nullopt;
      m.scale *= div ? 1 / *c : *c;
      m.scale_nodes.push_back(next);
      cur = out(next);
      next = idx.sole_reader(cur);
    }
    if (live(next, "Add")) {
      const int mask = other_input(node(next), cur);
      if (mask < 0 || mask == cur || facts.dtype(mask) != DType::kFloat32 ||
          !facts.broadcasts_into(mask, cur, /*where_valid=*/true))
        return std::nullopt;
      m.mask = mask;
      m.mask_node = next;
    } else if (live(next, "Where") && node(next).inputs.size() == 3) {
      const std::vector<int>& in = node(next).inputs;
      const std::optional<double> t = idx.small_scalar(in[1]), f = idx.small_scalar(in[2]);
      const double ninf = -std::numeric_limits<double>::infinity();
      if (in[2] == cur && t == ninf) m.where_masks_true = true;
      else if (in[1] == cur && f == ninf) m.where_masks_true = false;
      else return std::nullopt;
      if (facts.dtype(in[0]) != DType::kBool || !facts.broadcasts_into(in[0], cur, /*where_valid=*/true))
        return std::nullopt;
      m.where_cond = in[0];
      m.mask_node = next;
    }
    if (m.mask_node >= 0) {
      cur = out(m.mask_node);
      next = idx.sole_reader(cur);
    }
    if (!live(next, "Softmax") || cur < 0) return std::nullopt;
    // Softmax before opset 13 flattens at `axis` (default 1): the same as the last axis only there.
    const int64_t axis = get_int(node(next), "axis", opset >= 13 ? -1 : 1);
    if (axis != -1 && axis != rank - 1) return std::nullopt;
    m.softmax = next;
    m.pv = idx.sole_reader(out(next));
    if (!live(m.pv, "MatMul") || node(m.pv).inputs[0] != out(next) || node(m.pv).inputs[1] == out(next)) return std::nullopt;
    if (const int kp = idx.producer(m.kt); kp >= 0 && dead[static_cast<size_t>(kp)]) return std::nullopt;
    m.v = node(m.pv).inputs[1];
    // Q, K^T, V: same rank, equal leading dims, float32.
    const std::vector<DimKey>*q = facts.keys(m.q), *k = facts.keys(m.kt), *v = facts.keys(m.v);
    if (!q || !k || !v || q->size() != static_cast<size_t>(rank) || k->size() != q->size() || v->size() != q->size())
      return std::nullopt;
    for (size_t d = 0; d + 2 < q->size(); ++d)
      if (!((*q)[d] == (*k)[d]) || !((*q)[d] == (*v)[d])) return std::nullopt;
    for (int t : {m.q, m.kt, m.v})
      if (facts.dtype(t) != DType::kFloat32) return std::nullopt;
    for (int n : m.scale_nodes)
      if (dead[static_cast<size_t>(n)]) return std::nullopt;
    return m;
  }

  static void rewrite(ir::Graph& g, const GraphIndex& idx, const ShapeFacts& facts, std::vector<char>& dead,
                      const Match& m) {
    const ir::Node qk = g.nodes[static_cast<size_t>(m.qk)];
    const std::string base = qk.name.empty() ? g.value(qk.outputs[0]).name : qk.name;
    const int rank = static_cast<int>(*facts.rank(m.kt));
    // K from K^T: undo the Transpose that made K^T when only this MatMul reads it, else add one.
    int key = -1;
    const int tp = idx.producer(m.kt);
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[static_cast<size_t>(rank - 1)], perm[static_cast<size_t>(rank - 2)]);
    int transpose_slot = m.qk;  // the QK MatMul's slot holds the new Transpose: after K^T, before the attention
    std::vector<int64_t> kt_perm;
    if (tp >= 0 && is_op(g.nodes[static_cast<size_t>(tp)], "Transpose") && idx.sole_reader(m.kt) == m.qk &&
        !dead[static_cast<size_t>(tp)] && g.nodes[static_cast<size_t>(tp)].attr("perm")) {
      kt_perm = g.nodes[static_cast<size_t>(tp)].attr("perm")->ints;
    }
    if (kt_perm.size() == static_cast<size_t>(rank)) {
      std::swap(kt_perm[static_cast<size_t>(rank - 1)], kt_perm[static_cast<size_t>(rank - 2)]);
      const int source = g.nodes[static_cast<size_t>(tp)].inputs[0];
      bool identity = true;
      for (size_t i = 0; i < kt_perm.size(); ++i) identity = identity && kt_perm[i] == static_cast<int64_t>(i);
      dead[static_cast<size_t>(tp)] = 1;
      if (identity) {
        key = source;
      } else {
        perm = kt_perm;
        ir::Node t = g.nodes[static_cast<size_t>(tp)];
        t.inputs = {source};
        key = add_value(g, base + "/key");
        t.outputs = {key};
        set_attr(t, attr_ints("perm", perm));
        g.nodes[static_cast<size_t>(m.qk)] = std::move(t);
        transpose_slot = -1;
      }
    } else {
      ir::Node t;
      t.name = base + "/key_transpose";
      t.op_type = "Transpose";
      t.inputs = {m.kt};
      key = add_value(g, base + "/key");
      t.outputs = {key};
      t.attributes = {attr_ints("perm", perm)};
      g.nodes[static_cast<size_t>(m.qk)] = std::move(t);
      transpose_slot = -1;
    }
    if (transpose_slot >= 0) dead[static_cast<size_t>(m.qk)] = 1;
    // The mask: the Add's operand, or an additive mask built from the masked_fill's condition in its slot.
    int mask = m.mask;
    if (m.where_cond >= 0) {
      ir::Node w = g.nodes[static_cast<size_t>(m.mask_node)];
      const int ninf = add_initializer(g, base + "/mask_value", Tensor::scalar<float>(-std::numeric_limits<float>::infinity()));
      const int zero = add_initializer(g, base + "/mask_zero", Tensor::scalar<float>(0.0f));
      w.inputs = {m.where_cond, m.where_masks_true ? ninf : zero, m.where_masks_true ? zero : ninf};
      mask = add_value(g, base + "/additive_mask");
      w.outputs = {mask};
      g.nodes[static_cast<size_t>(m.mask_node)] = std::move(w);
    } else if (m.mask_node >= 0) {
      dead[static_cast<size_t>(m.mask_node)] = 1;
    }
    for (int n : m.scale_nodes) dead[static_cast<size_t>(n)] = 1;
    dead[static_cast<size_t>(m.softmax)] = 1;
    ir::Node sdpa;
    sdpa.name = qk.name;
    sdpa.domain = kKilnDomain;
    sdpa.op_type = "ScaledDotProductAttention";
    sdpa.inputs = {m.q, key, m.v};
    if (mask >= 0) sdpa.inputs.push_back(mask);
    sdpa.outputs = g.nodes[static_cast<size_t>(m.pv)].outputs;
    sdpa.attributes = {attr_float("scale", static_cast<float>(m.scale))};
    g.nodes[static_cast<size_t>(m.pv)] = std::move(sdpa);
  }
};

}  // namespace

const Pass& fuse_attention_pass() {
  static const FuseAttention pass;
  return pass;
}

}  // namespace kiln::passes
