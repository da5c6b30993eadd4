// A 1-D int64 size value computed by a chain of Shape, Gather, Unsqueeze, Concat, Equal, Where... whose every
// element is known as a number or as a dim of a graph input (ShapeFacts::contents) is rebuilt from those: numbers
// as a constant, input dims as Shape(input, start, end) slices (Shape-15), joined by one Concat. PyTorch writes
// `cls_token.expand(x.size(0), -1, -1)` as seven nodes (Shape, Gather, Unsqueeze, Concat, Reshape, Equal, Where);
// rebuilt it is Concat(Shape(x)[0:1], [1, 1]). A value whose elements are all numbers becomes a constant.
//
// The rebuild happens only when it leaves fewer nodes: the nodes that go dead with the old chain are counted
// (a node still read by anything else stays). The elements are symbols of the graph's inputs, so the value
// equals the old one for every input size: a symbol is never written as the size it had in one run.

#include <map>
#include <unordered_set>

#include "passes/passes.h"
#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes {
namespace {

struct Piece {
  int input = -1;          // a graph input: Shape(input)[start:end]; -1: constant numbers
  int64_t start = 0, end = 0;
  std::vector<int64_t> numbers;
};

// Nodes that go dead when every read of `v` is redirected, counting reads through the dying chain.
std::vector<int> dying_nodes(const ir::Graph& g, const GraphIndex& idx, int v) {
  std::map<int, size_t> reads_left;  // value -> readers not yet dead
  auto left = [&](int value) -> size_t& {
    auto it = reads_left.find(value);
    if (it == reads_left.end()) it = reads_left.emplace(value, idx.readers(value).size()).first;
    return it->second;
  };
  std::vector<int> dead_values = {v};
  left(v) = 0;
  std::vector<int> dead;
  while (!dead_values.empty()) {
    const int value = dead_values.back();
    dead_values.pop_back();
    const int p = idx.producer(value);
    if (p < 0) continue;
    const ir::Node& n = g.nodes[static_cast<size_t>(p)];
    bool all_dead = true;
    for (int o : n.outputs)
      all_dead = all_dead && (o < 0 || (left(o) == 0 && !idx.is_graph_output(o) && !idx.read_by_subgraph(o)));
    if (!all_dead) continue;
    dead.push_back(p);
    for (int in : n.inputs) {
      if (in < 0) continue;
      size_t& l = left(in);
      if (l > 0 && --l == 0) dead_values.push_back(in);
    }
  }
  return dead;
}

// Nodes some graph output (or a subgraph's read by name) needs; the others are left to eliminate_dead_nodes.
std::vector<char> live_nodes(const ir::Graph& g, const GraphIndex& idx) {
  std::vector<char> live(g.nodes.size(), 0);
  std::vector<int> todo;
  auto need = [&](int v) {
    const int p = idx.producer(v);
    if (p >= 0 && !live[static_cast<size_t>(p)]) {
      live[static_cast<size_t>(p)] = 1;
      todo.push_back(p);
    }
  };
  for (int o : g.outputs) need(o);
  for (size_t v = 0; v < g.values.size(); ++v)
    if (idx.read_by_subgraph(static_cast<int>(v))) need(static_cast<int>(v));
  while (!todo.empty()) {
    const int n = todo.back();
    todo.pop_back();
    for (int in : g.nodes[static_cast<size_t>(n)].inputs)
      if (in >= 0) need(in);
  }
  return live;
}

class ShortenShapeChains : public Pass {
 public:
  std::string_view name() const override { return "shorten_shape_chains"; }
  std::string_view why() const override {
    return "a size value whose elements are numbers and input dims is one Shape slice and a Concat, not a chain";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    if (!has_op(g, "Shape") || model.opset("") < 15) return false;
    const GraphIndex idx(g);
    const ShapeFacts facts(model);
    if (!facts.available()) return false;
    std::map<std::string, std::pair<int, int64_t>> symbol_dims;  // "$batch" -> (graph input, axis)
    for (int in : g.inputs) {
      if (g.is_initializer(in)) continue;
      if (const std::vector<DimKey>* k = facts.keys(in))
        for (size_t a = 0; a < k->size(); ++a)
          if (!(*k)[a].known() && !(*k)[a].is_unknown() && (*k)[a].offset == 0)
            symbol_dims.emplace((*k)[a].atom, std::make_pair(in, static_cast<int64_t>(a)));
    }
    std::vector<ir::Node> added;
    std::unordered_set<std::string> node_names;  // ONNX wants node names unique
    for (const ir::Node& n : g.nodes) node_names.insert(n.name);
    std::map<int, int> replaced;  // old value -> new value
    std::vector<char> gone(g.nodes.size(), 0);  // dead with a chain already replaced, or not needed at all
    const std::vector<char> live = live_nodes(g, idx);
    // Consumers first (the file's order is topological), so the longest chain is replaced, not its parts.
    for (size_t ni = g.nodes.size(); ni-- > 0;) {
      const ir::Node& n = g.nodes[ni];
      if (gone[ni] || !live[ni] || !n.domain.empty() || n.outputs.size() != 1) continue;
      const int v = n.outputs[0];
      if (v < 0 || idx.is_graph_output(v) || idx.read_by_subgraph(v) || idx.readers(v).empty() ||
          facts.dtype(v) != DType::kInt64 || facts.rank(v) != std::optional<size_t>(1))
        continue;
      const std::vector<DimKey>* contents = facts.contents(v);
      if (!contents || contents->empty()) continue;
      std::optional<std::vector<Piece>> pieces = split(*contents, symbol_dims);
      if (!pieces) continue;
      size_t cost = pieces->size() > 1 ? 1 : 0;  // the Concat
      for (const Piece& p : *pieces) cost += p.input >= 0;
      const std::vector<int> dying = dying_nodes(g, idx, v);
      if (cost >= dying.size()) continue;
      for (int d : dying) gone[static_cast<size_t>(d)] = 1;
      replaced[v] = build(g, n, *pieces, added, node_names);
    }
    if (replaced.empty()) return false;
    for (ir::Node& n : g.nodes)
      for (int& in : n.inputs)
        if (auto it = replaced.find(in); it != replaced.end()) in = it->second;
    // The new nodes read only graph inputs and constants: they may run first.
    g.nodes.insert(g.nodes.begin(), added.begin(), added.end());
    return true;
  }

 private:
  static std::optional<std::vector<Piece>> split(const std::vector<DimKey>& contents,
                                                 const std::map<std::string, std::pair<int, int64_t>>& symbol_dims) {
    std::vector<Piece> pieces;
    for (const DimKey& k : contents) {
      if (k.known()) {
        if (pieces.empty() || pieces.back().input >= 0) pieces.emplace_back();
        pieces.back().numbers.push_back(k.offset);
        continue;
      }
      auto it = k.offset == 0 ? symbol_dims.find(k.atom) : symbol_dims.end();
      if (it == symbol_dims.end()) return std::nullopt;
      const auto [input, axis] = it->second;
      if (!pieces.empty() && pieces.back().input == input && pieces.back().end == axis) {
        ++pieces.back().end;
      } else {
        pieces.push_back(Piece{input, axis, axis + 1, {}});
      }
    }
    return pieces;
  }

  // Adds the nodes (to `added`) or the constant for `pieces`; returns the value that replaces `old`'s output.
  static int build(ir::Graph& g, const ir::Node& old, const std::vector<Piece>& pieces, std::vector<ir::Node>& added,
                   std::unordered_set<std::string>& node_names) {
    const std::string base = old.name.empty() ? old.op_type : old.name;
    auto fresh = [&](const std::string& name) {
      std::string unique = name;
      for (int i = 1; node_names.count(unique) || g.find(unique) >= 0; ++i) unique = name + "_" + std::to_string(i);
      node_names.insert(unique);
      return unique;
    };
    std::vector<int> parts;
    for (const Piece& p : pieces) {
      if (p.input < 0) {
        parts.push_back(add_ints_initializer(g, old, "sizes", p.numbers));
        continue;
      }
      ir::Node shape;
      shape.name = fresh(base + "_shape");
      shape.op_type = "Shape";
      shape.inputs = {p.input};
      shape.outputs = {add_value(g, shape.name + "_output")};
      shape.attributes = {attr_int("start", p.start), attr_int("end", p.end)};
      parts.push_back(shape.outputs[0]);
      added.push_back(std::move(shape));
    }
    if (parts.size() == 1) return parts[0];
    ir::Node concat;
    concat.name = fresh(base + "_sizes");
    concat.op_type = "Concat";
    concat.inputs = parts;
    concat.outputs = {add_value(g, concat.name + "_output")};
    concat.attributes = {attr_int("axis", 0)};
    added.push_back(concat);
    return concat.outputs[0];
  }
};

}  // namespace

const Pass& shorten_shape_chains_pass() {
  static const ShortenShapeChains pass;
  return pass;
}

}  // namespace kiln::passes
