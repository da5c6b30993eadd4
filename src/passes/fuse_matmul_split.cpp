// MatMul / ai.kiln.FusedMatMul whose result is only cut into parts of its last dim (by Slices, or by one Split)
// -> ai.kiln.FusedMatMul with `split`, writing the parts as its own outputs. Transformers project Q, K and V with
// one MatMul and cut the result: torch's MultiheadAttention with three Slices (ViT, BERT), GPT-2-style blocks with
// a Split. Each cut copies its part once more; at two threads those small copies ran split over the pool and cost
// more than at one (ViT-tiny batch 1: 36 Slices, 0.32 ms at one thread, 1.1 ms at two, of 24-32 ms).
//
// Taken when B is a constant matrix (the kernel packs each part's columns apart), there is no residual Z, every
// reader of the result is such a cut (on the last axis, step 1, constant bounds; for Split, sizes that are
// constants or equal parts) and the parts cover [0, N) exactly once, in any order. The result is not a graph
// output and not read by a subgraph. The fused node runs where the MatMul ran: every reader of a part comes after
// the cut that made it, which came after the MatMul.

#include <algorithm>

#include "ops/slice.h"
#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

struct Part {
  int64_t start = 0, width = 0;
  int value = -1;  ///< the value this part was written to (a Slice's or a Split's output)
};

// True when `axis` names the last of `rank` dims.
bool last_axis(int64_t axis, size_t rank) {
  return axis == -1 || axis == static_cast<int64_t>(rank) - 1;
}

// One element of a constant Slice operand (starts, ends, axes or steps of a single axis), exactly: the spec
// makes them int32 or int64.
std::optional<int64_t> single_index(int v, const GraphIndex& idx) {
  const Tensor* t = idx.constant(v);
  if (!t || t->rank() > 1 || t->numel() != 1 || (t->dtype() != DType::kInt64 && t->dtype() != DType::kInt32))
    return std::nullopt;
  return t->int_at(0);
}

// The part a Slice (opset 10+: bounds as inputs) of x cuts from its last dim of N, or nullopt.
std::optional<Part> slice_part(const ir::Node& s, int x, size_t rank, int64_t N, const GraphIndex& idx) {
  if (s.inputs.size() < 4 || s.inputs.size() > 5 || s.outputs.size() != 1 || s.inputs[0] != x) return std::nullopt;
  for (size_t i = 1; i < s.inputs.size(); ++i)
    if (s.inputs[i] == x) return std::nullopt;
  const std::optional<int64_t> start = single_index(s.inputs[1], idx), end = single_index(s.inputs[2], idx);
  const std::optional<int64_t> axis = single_index(s.inputs[3], idx);
  if (!start || !end || !axis || !last_axis(*axis, rank)) return std::nullopt;
  if (s.inputs.size() == 5 && s.inputs[4] >= 0 && single_index(s.inputs[4], idx) != 1) return std::nullopt;
  const ops::SliceRange range = ops::clamp_slice_axis(N, *start, *end, 1);
  if (range.count == 0) return std::nullopt;
  return Part{range.first, range.count, s.outputs[0]};
}

// The parts a Split of x on its last dim of N makes, or an empty list.
std::vector<Part> split_parts(const ir::Node& s, int x, size_t rank, int64_t N, const GraphIndex& idx) {
  if (s.inputs.empty() || s.inputs[0] != x || s.outputs.empty() || !last_axis(get_int(s, "axis", 0), rank))
    return {};
  std::vector<int64_t> sizes = get_ints(s, "split");  // before opset 13
  if (s.inputs.size() >= 2 && s.inputs[1] >= 0) {
    const Tensor* t = idx.constant(s.inputs[1]);
    if (!t || t->rank() != 1 || s.inputs[1] == x) return {};
    sizes.clear();
    for (int64_t i = 0; i < t->numel(); ++i) sizes.push_back(static_cast<int64_t>(t->double_at(i)));
  }
  const int64_t n_out = static_cast<int64_t>(s.outputs.size());
  if (sizes.empty()) {
    if (N % n_out != 0) return {};
    sizes.assign(s.outputs.size(), N / n_out);
  }
  if (static_cast<int64_t>(sizes.size()) != n_out) return {};
  std::vector<Part> parts;
  int64_t first = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] <= 0 || s.outputs[i] < 0) return {};
    parts.push_back(Part{first, sizes[i], s.outputs[i]});
    first += sizes[i];
  }
  return parts;
}

class FuseMatMulSplit : public Pass {
 public:
  std::string_view name() const override { return "fuse_matmul_split"; }
  std::string_view why() const override {
    return "a Q/K/V projection writes its parts as separate outputs instead of copying each out of one result";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    if (!kiln_op_available("FusedMatMul") || (!has_op(*model.graph, "Slice") && !has_op(*model.graph, "Split")))
      return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t m = 0; m < g.nodes.size(); ++m) changed |= fuse(g, idx, facts, dead, static_cast<int>(m));
    if (!changed) return false;
    erase_nodes(g, dead);
    import_kiln_domain(model);
    return true;
  }

 private:
  static bool fuse(ir::Graph& g, const GraphIndex& idx, const ShapeFacts& facts, std::vector<char>& dead, int m) {
    const ir::Node& n = g.nodes[static_cast<size_t>(m)];
    const bool fused_mm = is_fused_matmul(n);
    if (dead[static_cast<size_t>(m)] || (!fused_mm && !is_op(n, "MatMul")) || n.outputs.size() != 1 ||
        n.inputs.size() < 2 || (fused_mm && (n.attr("split") || (n.inputs.size() > 3 && n.inputs[3] >= 0))) ||
        (!fused_mm && n.inputs.size() != 2))
      return false;
    const int x = n.outputs[0];
    const Tensor* b = idx.constant(n.inputs[1]);
    const std::optional<size_t> rank = facts.rank(x);
    if (facts.dtype(x) != DType::kFloat32 || !b || b->rank() != 2 || !rank || *rank < 2 ||
        facts.rank(n.inputs[0]).value_or(0) < 2 || idx.is_graph_output(x) || idx.read_by_subgraph(x))
      return false;
    const int64_t N = b->dim(fused_mm && get_int(n, "transB", 0) != 0 ? 0 : 1);
    std::vector<Part> parts;
    std::vector<int> cuts = {m};
    for (int r : idx.readers(x)) {
      const ir::Node& cut = g.nodes[static_cast<size_t>(r)];
      if (dead[static_cast<size_t>(r)] || std::find(cuts.begin(), cuts.end(), r) != cuts.end()) return false;
      if (is_op(cut, "Slice")) {
        const std::optional<Part> p = slice_part(cut, x, *rank, N, idx);
        if (!p) return false;
        parts.push_back(*p);
      } else if (is_op(cut, "Split")) {
        const std::vector<Part> ps = split_parts(cut, x, *rank, N, idx);
        if (ps.empty()) return false;
        parts.insert(parts.end(), ps.begin(), ps.end());
      } else {
        return false;
      }
      cuts.push_back(r);
    }
    if (parts.size() < 2) return false;
    std::sort(parts.begin(), parts.end(), [](const Part& a, const Part& c) { return a.start < c.start; });
    int64_t covered = 0;
    for (const Part& p : parts) {
      if (p.start != covered) return false;
      covered += p.width;
    }
    if (covered != N) return false;

    ir::Node fused = as_fused_matmul(n);
    std::vector<int64_t> widths;
    fused.outputs.clear();
    for (const Part& p : parts) {
      widths.push_back(p.width);
      fused.outputs.push_back(p.value);
    }
    set_attr(fused, attr_ints("split", std::move(widths)));
    replace_pattern(g, dead, cuts, m, std::move(fused));
    return true;
  }
};

}  // namespace

const Pass& fuse_matmul_split_pass() {
  static const FuseMatMulSplit pass;
  return pass;
}

}  // namespace kiln::passes
