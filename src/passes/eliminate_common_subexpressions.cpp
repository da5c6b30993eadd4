// Two nodes of the same op with the same attributes reading the same inputs compute the same outputs: the later
// one goes and its readers read the first one's outputs. Small constants with equal contents count as the same
// input (each exported layer has its own copy of [0, 1, 1, 128] or of the scalar 1.0), so chains repeated per
// layer, such as a transformer's attention-mask preparation, are computed once.
//
// Never merged: random ops (two draws differ), nodes with subgraphs, and a node writing a graph output or a value
// a subgraph reads by name (the name must stay); constants the caller may replace (initializers that are also
// graph inputs) are never taken as equal to anything.

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "passes/passes.h"
#include "ops/op.h"
#include "passes/rewrite_util.h"

namespace kiln::passes {
namespace {

// Constants up to this size are compared by content; larger ones (weights) only by identity.
constexpr size_t kMaxComparedBytes = 4096;

void append_bytes(std::string& key, const void* data, size_t n) {
  key.append(static_cast<const char*>(data), n);
  key += '|';
}

void append_tensor(std::string& key, const Tensor& t) {
  key += std::to_string(static_cast<int>(t.dtype())) + ":";
  for (int64_t d : t.dims()) key += std::to_string(d) + ",";
  append_bytes(key, t.raw_data(), t.nbytes());
}

// The attributes as bytes, or nullopt for attributes not compared (subgraphs, types, sparse tensors).
std::optional<std::string> attributes_key(const ir::Node& n) {
  std::vector<const ir::Attribute*> attrs;
  for (const ir::Attribute& a : n.attributes) attrs.push_back(&a);
  std::sort(attrs.begin(), attrs.end(),
            [](const ir::Attribute* a, const ir::Attribute* b) { return a->name < b->name; });
  std::string key;
  for (const ir::Attribute* a : attrs) {
    key += a->name + "=" + std::to_string(static_cast<int>(a->type)) + ":";
    switch (a->type) {
      case ir::AttrType::kFloat: append_bytes(key, &a->f, sizeof a->f); break;
      case ir::AttrType::kInt: key += std::to_string(a->i) + "|"; break;
      case ir::AttrType::kString: append_bytes(key, a->s.data(), a->s.size()); break;
      case ir::AttrType::kFloats: append_bytes(key, a->floats.data(), a->floats.size() * sizeof(float)); break;
      case ir::AttrType::kInts: append_bytes(key, a->ints.data(), a->ints.size() * sizeof(int64_t)); break;
      case ir::AttrType::kStrings:
        for (const std::string& s : a->strings) append_bytes(key, s.data(), s.size());
        break;
      case ir::AttrType::kTensor:
        if (!a->t.is_tensor() || a->t.dtype() == DType::kString) return std::nullopt;
        append_tensor(key, a->t);
        break;
      default: return std::nullopt;
    }
  }
  return key;
}

class EliminateCommonSubexpressions : public Pass {
 public:
  std::string_view name() const override { return "eliminate_common_subexpressions"; }
  std::string_view why() const override {
    return "a value computed twice from the same inputs (per-layer copies of a mask or shape chain) is computed once";
  }
  Level level() const override { return Level::kBasic; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<int> same(g.values.size());
    for (size_t v = 0; v < same.size(); ++v) same[v] = static_cast<int>(v);

    // Equal small constants: the one with the lowest id stands for the others.
    std::vector<int> constants;
    for (const auto& [v, t] : g.initializers)
      if (idx.constant(v) && !idx.read_by_subgraph(v) && t.is_tensor() && t.dtype() != DType::kString &&
          t.nbytes() <= kMaxComparedBytes)
        constants.push_back(v);
    std::sort(constants.begin(), constants.end());
    std::unordered_map<std::string, int> first_constant;
    for (int v : constants) {
      std::string key;
      append_tensor(key, g.initializers.at(v));
      same[static_cast<size_t>(v)] = first_constant.emplace(std::move(key), v).first->second;
    }

    std::unordered_map<std::string, int> first_node;
    std::vector<char> dead(g.nodes.size(), 0);
    bool merged = false;
    for (int ni : ir::topological_order(g)) {
      const ir::Node& n = g.nodes[static_cast<size_t>(ni)];
      const ops::OpSchema* schema = ops::find_op(n.domain, n.op_type);
      if (!schema || schema->nondeterministic || n.outputs.empty()) continue;
      bool pinned = false;  // an output that must keep its name
      for (int o : n.outputs) pinned = pinned || (o >= 0 && (idx.is_graph_output(o) || idx.read_by_subgraph(o)));
      std::optional<std::string> key = attributes_key(n);
      if (!key) continue;
      *key = n.domain + "." + n.op_type + "(" + *key;
      for (int i : n.inputs) *key += std::to_string(i < 0 ? -1 : same[static_cast<size_t>(i)]) + ",";
      *key += ")->";
      for (int o : n.outputs) *key += o < 0 ? '-' : '+';
      auto [it, inserted] = first_node.emplace(std::move(*key), ni);
      if (inserted || pinned) continue;
      const ir::Node& first = g.nodes[static_cast<size_t>(it->second)];
      for (size_t o = 0; o < n.outputs.size(); ++o)
        if (n.outputs[o] >= 0) same[static_cast<size_t>(n.outputs[o])] = first.outputs[o];
      dead[static_cast<size_t>(ni)] = 1;
      merged = true;
    }

    bool changed = merged;
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
      if (dead[ni]) continue;
      for (int& i : g.nodes[ni].inputs)
        if (i >= 0 && same[static_cast<size_t>(i)] != i) {
          i = same[static_cast<size_t>(i)];
          changed = true;
        }
    }
    if (merged) erase_nodes(g, dead);
    return changed;
  }
};

}  // namespace

const Pass& eliminate_common_subexpressions_pass() {
  static const EliminateCommonSubexpressions pass;
  return pass;
}

}  // namespace kiln::passes
