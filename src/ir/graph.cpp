#include "ir/graph.h"

#include <algorithm>
#include <queue>
#include <unordered_set>

#include "base/error.h"

namespace kiln::ir {

const char* attr_type_name(AttrType t) {
  switch (t) {
    case AttrType::kFloat: return "float";
    case AttrType::kInt: return "int";
    case AttrType::kString: return "string";
    case AttrType::kTensor: return "tensor";
    case AttrType::kGraph: return "graph";
    case AttrType::kFloats: return "floats";
    case AttrType::kInts: return "ints";
    case AttrType::kStrings: return "strings";
    case AttrType::kTensors: return "tensors";
    case AttrType::kGraphs: return "graphs";
    case AttrType::kSparseTensor: return "sparse tensor";
    case AttrType::kSparseTensors: return "sparse tensors";
    case AttrType::kTypeProto: return "type proto";
    case AttrType::kTypeProtos: return "type protos";
    default: return "undefined";
  }
}

const Attribute* Node::attr(std::string_view n) const {
  for (const Attribute& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}

std::string Node::label(size_t index) const {
  if (!name.empty()) return fmt::format("node '{}' ({})", name, op_type);
  return fmt::format("node #{} ({})", index, op_type);
}

std::string Node::qualified_op() const {
  return domain.empty() || domain == "ai.onnx" ? op_type : domain + "." + op_type;
}

int Graph::find(std::string_view n) const {
  auto it = index_.find(std::string(n));
  return it == index_.end() ? -1 : it->second;
}

int Graph::intern(const std::string& n) {
  auto it = index_.find(n);
  if (it != index_.end()) return it->second;
  int id = static_cast<int>(values.size());
  values.push_back(Value{n, {}, {}});
  index_.emplace(n, id);
  return id;
}

std::vector<int> Graph::required_inputs() const {
  std::vector<int> r;
  for (int id : inputs)
    if (!is_initializer(id)) r.push_back(id);
  return r;
}

int64_t Model::opset(std::string_view d) const {
  if (d == "ai.onnx") d = "";
  for (const OpsetImport& o : opsets) {
    std::string_view od = o.domain == "ai.onnx" ? std::string_view() : std::string_view(o.domain);
    if (od == d) return o.version;
  }
  return 0;
}

namespace {

void validate_at(const Graph& g, int depth, int max_depth) {
  if (depth > max_depth)
    fail(ErrorCode::kLimitExceeded, "subgraphs are nested more than {} deep (graph '{}')", max_depth, g.name);
  std::vector<int> producer(g.values.size(), -1);
  std::vector<char> defined(g.values.size(), 0);
  for (int id : g.inputs) defined[static_cast<size_t>(id)] = 1;
  for (const auto& [id, t] : g.initializers) defined[static_cast<size_t>(id)] = 1;
  for (int id : g.outer_refs) defined[static_cast<size_t>(id)] = 1;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    for (int out : node.outputs) {
      if (out < 0) continue;
      auto o = static_cast<size_t>(out);
      if (producer[o] >= 0)
        fail(ErrorCode::kInvalidModel, "value '{}' is produced twice: by {} and by {}", g.values[o].name,
             g.nodes[static_cast<size_t>(producer[o])].label(static_cast<size_t>(producer[o])), node.label(n));
      if (defined[o] && g.is_initializer(out))
        fail(ErrorCode::kInvalidModel, "{} writes '{}', which is already an initializer", node.label(n),
             g.values[o].name);
      if (defined[o])
        fail(ErrorCode::kInvalidModel, "{} writes '{}', which is already a graph input", node.label(n),
             g.values[o].name);
      producer[o] = static_cast<int>(n);
    }
  }
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int in = node.inputs[i];
      if (in < 0) continue;
      auto v = static_cast<size_t>(in);
      if (!defined[v] && producer[v] < 0)
        fail(ErrorCode::kInvalidModel,
             "{} reads '{}' (input {}), which no node produces and which is neither a graph input nor an "
             "initializer",
             node.label(n), g.values[v].name, i);
    }
    for (const Attribute& a : node.attributes) {
      if (a.g) validate_at(*a.g, depth + 1, max_depth);
      for (const auto& sub : a.graphs) validate_at(*sub, depth + 1, max_depth);
    }
  }
  for (int out : g.outputs) {
    auto v = static_cast<size_t>(out);
    if (!defined[v] && producer[v] < 0)
      fail(ErrorCode::kInvalidModel, "graph output '{}' is not produced by any node, input or initializer",
           g.values[v].name);
  }
  topological_order(g);
}

}  // namespace

void collect_outer_names(const Graph& g, std::vector<std::string>& names) {
  std::unordered_set<std::string> local;
  for (int id : g.inputs) local.insert(g.value(id).name);
  for (const auto& [id, t] : g.initializers) local.insert(g.value(id).name);
  for (const Node& n : g.nodes)
    for (int o : n.outputs)
      if (o >= 0) local.insert(g.value(o).name);
  auto add = [&](const std::string& name) {
    if (!local.count(name) && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  for (int id : g.outer_refs) add(g.value(id).name);
  for (const Node& n : g.nodes)
    for (const Attribute& a : n.attributes) {
      std::vector<std::string> inner;
      if (a.g) collect_outer_names(*a.g, inner);
      for (const auto& sub : a.graphs) collect_outer_names(*sub, inner);
      for (const auto& name : inner) add(name);
    }
}

std::vector<std::string> node_outer_names(const Node& node) {
  std::vector<std::string> names;
  for (const Attribute& a : node.attributes) {
    if (a.g) collect_outer_names(*a.g, names);
    for (const auto& sub : a.graphs) collect_outer_names(*sub, names);
  }
  return names;
}

void validate(const Graph& g, int max_depth) { validate_at(g, 0, max_depth); }

std::vector<int> topological_order(const Graph& g) {
  const size_t n = g.nodes.size();
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < n; ++i)
    for (int out : g.nodes[i].outputs)
      if (out >= 0) producer[static_cast<size_t>(out)] = static_cast<int>(i);
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (size_t i = 0; i < n; ++i) {
    std::unordered_set<int> seen;
    // A node with subgraphs also depends on the values its bodies read from this graph.
    std::vector<int> reads = g.nodes[i].inputs;
    for (const std::string& name : node_outer_names(g.nodes[i])) reads.push_back(g.find(name));
    for (int in : reads) {
      if (in < 0) continue;
      int p = producer[static_cast<size_t>(in)];
      if (p < 0 || !seen.insert(p).second) continue;
      ++pending[i];
      consumers[static_cast<size_t>(p)].push_back(static_cast<int>(i));
    }
  }
  // A min-heap on the node index keeps the file's order wherever it is already topological.
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push(static_cast<int>(i));
  std::vector<int> order;
  order.reserve(n);
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int c : consumers[static_cast<size_t>(i)])
      if (--pending[static_cast<size_t>(c)] == 0) ready.push(c);
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i)
      if (pending[i] > 0)
        fail(ErrorCode::kInvalidModel, "the graph has a cycle through {}; ONNX graphs must be acyclic",
             g.nodes[i].label(i));
  }
  return order;
}

}  // namespace kiln::ir
