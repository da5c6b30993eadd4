// Dead-node elimination: nodes none of whose outputs reach a graph output (directly, through other nodes, or
// read by name from a subgraph of a live node) are removed, and so are initializers nothing reads any more.

#include "passes/passes.h"
#include "passes/rewrite_util.h"

namespace kiln::passes {
namespace {

class EliminateDeadNodes : public Pass {
 public:
  std::string_view name() const override { return "eliminate_dead_nodes"; }
  std::string_view why() const override { return "work whose result nothing reads is skipped"; }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    std::vector<char> live_value(g.values.size(), 0);
    for (int o : g.outputs) live_value[static_cast<size_t>(o)] = 1;
    std::vector<int> order = ir::topological_order(g);
    std::vector<char> dead(g.nodes.size(), 1);
    size_t removed = g.nodes.size();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const ir::Node& node = g.nodes[static_cast<size_t>(*it)];
      bool live = false;
      for (int o : node.outputs) live = live || (o >= 0 && live_value[static_cast<size_t>(o)]);
      if (!live) continue;
      dead[static_cast<size_t>(*it)] = 0;
      --removed;
      for (int i : node.inputs)
        if (i >= 0) live_value[static_cast<size_t>(i)] = 1;
      for (const std::string& name : ir::node_outer_names(node))
        if (int v = g.find(name); v >= 0) live_value[static_cast<size_t>(v)] = 1;
    }
    if (removed) erase_nodes(g, dead);
    const size_t dropped = drop_unused_initializers(g);
    return removed > 0 || dropped > 0;
  }
};

}  // namespace

const Pass& eliminate_dead_nodes_pass() {
  static const EliminateDeadNodes pass;
  return pass;
}

}  // namespace kiln::passes
