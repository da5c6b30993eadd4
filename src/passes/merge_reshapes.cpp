// Reshape(Reshape(x, a), b) is Reshape(x, b): a reshape keeps the elements in memory order, so only the last
// target matters. The same holds when the inner node is Flatten, Squeeze or Unsqueeze. The inner node goes when
// the outer Reshape is its only reader. The outer target must be a constant; its 0s (which copy a dim of the
// inner result) are rewritten from dim keys to refer to x instead (constant_reshape_target), or the pair is left
// as it is.

#include <unordered_set>

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

const std::unordered_set<std::string_view> kReshapes = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"};

// The target of Reshape(x, ·) equal to Reshape `outer` of `mid` (whose dims are those of the inner result), or
// nullopt.
std::optional<std::vector<int64_t>> merged_target(const ir::Node& outer, const Tensor& target, int mid, int x,
                                                  const ShapeFacts& facts) {
  if (!dtype_is_integer(target.dtype()) || target.dims().size() != 1) return std::nullopt;
  const bool allowzero = get_int(outer, "allowzero", 0) != 0;
  const std::vector<DimKey>* mid_dims = facts.keys(mid);
  std::vector<DimKey> keys;
  for (int64_t v : target.to_int64_vector()) {
    if (v != 0 || allowzero) {
      keys.push_back(DimKey::number(v));
      continue;
    }
    if (!mid_dims || keys.size() >= mid_dims->size()) return std::nullopt;
    const DimKey& copied = (*mid_dims)[keys.size()];
    if (copied.is_unknown() || (copied.known() && copied.offset == 0)) return std::nullopt;
    keys.push_back(copied);
  }
  return constant_reshape_target(facts.keys(x), keys, allowzero);
}

class MergeReshapes : public Pass {
 public:
  std::string_view name() const override { return "merge_reshapes"; }
  std::string_view why() const override {
    return "two reshapes in a row are one: only the last target matters";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    if (!has_op(g, "Reshape")) return false;
    const GraphIndex idx(g);
    // The inner node of each candidate pair (shape facts are only worked out when there is one).
    auto inner_of = [&](int ni) -> const ir::Node* {
      const ir::Node& outer = g.nodes[static_cast<size_t>(ni)];
      if (!is_op(outer, "Reshape") || outer.inputs.size() != 2 || outer.inputs[0] < 0) return nullptr;
      const int p = idx.producer(outer.inputs[0]);
      if (p < 0 || !idx.constant(outer.inputs[1]) || idx.sole_reader(outer.inputs[0]) != ni) return nullptr;
      const ir::Node& inner = g.nodes[static_cast<size_t>(p)];
      if (!inner.domain.empty() || !kReshapes.count(inner.op_type) || inner.inputs.empty() || inner.inputs[0] < 0 ||
          inner.outputs.size() != 1)
        return nullptr;
      return &inner;
    };
    bool any = false;
    for (size_t ni = 0; ni < g.nodes.size() && !any; ++ni) any = inner_of(static_cast<int>(ni)) != nullptr;
    if (!any) return false;
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (int ni : ir::topological_order(g)) {
      const ir::Node* inner = inner_of(ni);
      if (!inner) continue;
      ir::Node& outer = g.nodes[static_cast<size_t>(ni)];
      const int mid = outer.inputs[0];
      const int p = idx.producer(mid);
      const Tensor* target = idx.constant(outer.inputs[1]);
      const int x = inner->inputs[0];
      const std::optional<std::vector<int64_t>> merged = merged_target(outer, *target, mid, x, facts);
      if (!merged) continue;
      outer.inputs = {x, add_ints_initializer(g, outer, "target", *merged)};
      dead[static_cast<size_t>(p)] = 1;
      changed = true;
    }
    if (changed) erase_nodes(g, dead);
    return changed;
  }
};

}  // namespace

const Pass& merge_reshapes_pass() {
  static const MergeReshapes pass;
  return pass;
}

}  // namespace kiln::passes
