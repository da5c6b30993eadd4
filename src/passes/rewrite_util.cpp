#include "passes/rewrite_util.h"

#include <algorithm>

#include "ops/op.h"

namespace kiln::passes {

GraphIndex::GraphIndex(const ir::Graph& g)
    : g_(g),
      producer_(g.values.size(), -1),
      readers_(g.values.size()),
      graph_output_(g.values.size(), 0),
      subgraph_read_(g.values.size(), 0),
      overridable_(g.values.size(), 0) {
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    for (int o : node.outputs)
      if (o >= 0) producer_[static_cast<size_t>(o)] = static_cast<int>(n);
    for (int i : node.inputs)
      if (i >= 0) readers_[static_cast<size_t>(i)].push_back(static_cast<int>(n));
    for (const std::string& name : ir::node_outer_names(node)) {
      const int v = g.find(name);
      if (v >= 0) subgraph_read_[static_cast<size_t>(v)] = 1;
    }
  }
  for (int o : g.outputs) graph_output_[static_cast<size_t>(o)] = 1;
  for (int i : g.inputs) overridable_[static_cast<size_t>(i)] = 1;
}

const ir::Node* GraphIndex::producer_op(int v, std::string_view op_type) const {
  const int p = producer(v);
  if (p < 0) return nullptr;
  const ir::Node& n = g_.nodes[static_cast<size_t>(p)];
  return is_op(n, op_type) ? &n : nullptr;
}

bool GraphIndex::only_read_by(int v, int n) const {
  if (v < 0 || is_graph_output(v) || read_by_subgraph(v)) return false;
  const std::vector<int>& r = readers(v);
  return !r.empty() && std::all_of(r.begin(), r.end(), [n](int reader) { return reader == n; });
}

int GraphIndex::sole_reader(int v) const {
  if (v < 0 || is_graph_output(v) || read_by_subgraph(v)) return -1;
  const std::vector<int>& r = readers(v);
  if (r.empty() || std::any_of(r.begin(), r.end(), [&](int n) { return n != r[0]; })) return -1;
  return r[0];
}

bool GraphIndex::unused(int v) const {
  return v >= 0 && !is_graph_output(v) && !read_by_subgraph(v) && readers(v).empty();
}

const Tensor* GraphIndex::constant(int v) const {
  if (v < 0 || overridable_[static_cast<size_t>(v)]) return nullptr;
  auto it = g_.initializers.find(v);
  if (it != g_.initializers.end()) return it->second.is_tensor() ? &it->second : nullptr;
  // A Constant node's tensor (fold_constants turns these into initializers, but may be switched off).
  if (const ir::Node* c = producer_op(v, "Constant"))
    if (const ir::Attribute* a = c->attr("value"); a && a->type == ir::AttrType::kTensor && a->t.is_tensor())
      return &a->t;
  return nullptr;
}

std::optional<double> GraphIndex::scalar(int v) const {
  const Tensor* t = constant(v);
  if (!t || t->numel() != 1) return std::nullopt;
  if (!dtype_is_float(t->dtype()) && !dtype_is_integer(t->dtype()) && t->dtype() != DType::kBool) return std::nullopt;
  return t->double_at(0);
}

std::optional<double> GraphIndex::small_scalar(int v) const {
  const Tensor* t = constant(v);
  if (!t || t->rank() > 1) return std::nullopt;
  return scalar(v);
}

std::string unique_name(const ir::Graph& g, const std::string& base) {
  if (g.find(base) < 0) return base;
  for (int i = 1;; ++i) {
    std::string name = base + "_" + std::to_string(i);
    if (g.find(name) < 0) return name;
  }
}

int add_value(ir::Graph& g, const std::string& base) { return g.intern(unique_name(g, base)); }

int add_initializer(ir::Graph& g, const std::string& base, Tensor t) {
  const int id = add_value(g, base);
  ir::Value& v = g.value(id);
  v.type.kind = ir::ValueKind::kTensor;
  v.type.dtype = t.dtype();
  v.type.shape = Shape::from(t.dims());
  v.type.has_type = true;
  g.initializers[id] = std::move(t);
  return id;
}

int add_ints_initializer(ir::Graph& g, const ir::Node& n, const std::string& what, const std::vector<int64_t>& values) {
  const std::string base = (n.name.empty() ? n.op_type : n.name) + "_" + what;
  return add_initializer(g, base, Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values));
}

void replace_pattern(ir::Graph& g, std::vector<char>& dead, const std::vector<int>& nodes, int last, ir::Node fused) {
  for (int n : nodes)
    if (n >= 0 && n != last) dead[static_cast<size_t>(n)] = 1;
  g.nodes[static_cast<size_t>(last)] = std::move(fused);
}

int other_input(const ir::Node& n, int x) {
  if (n.inputs.size() != 2) return -1;
  if (n.inputs[0] == x) return n.inputs[1];
  if (n.inputs[1] == x) return n.inputs[0];
  return -1;
}

void erase_nodes(ir::Graph& g, const std::vector<char>& dead) {
  std::vector<ir::Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (n >= dead.size() || !dead[n]) kept.push_back(std::move(g.nodes[n]));
  g.nodes = std::move(kept);
}

size_t drop_unused_initializers(ir::Graph& g) {
  std::vector<char> used(g.values.size(), 0);
  for (const ir::Node& n : g.nodes)
    for (int i : n.inputs)
      if (i >= 0) used[static_cast<size_t>(i)] = 1;
  for (const ir::Node& n : g.nodes)
    for (const std::string& name : ir::node_outer_names(n))
      if (int v = g.find(name); v >= 0) used[static_cast<size_t>(v)] = 1;
  for (int v : g.inputs) used[static_cast<size_t>(v)] = 1;
  for (int v : g.outputs) used[static_cast<size_t>(v)] = 1;
  size_t dropped = 0;
  for (auto it = g.initializers.begin(); it != g.initializers.end();) {
    if (used[static_cast<size_t>(it->first)]) {
      ++it;
    } else {
      it = g.initializers.erase(it);
      ++dropped;
    }
  }
  return dropped;
}

size_t remove_pass_through(ir::Graph& g,
                           const std::function<std::optional<size_t>(const ir::Node&, const GraphIndex&)>& forwarded) {
  const GraphIndex idx(g);
  const size_t nv = g.values.size();
  std::vector<int> replace(nv), producer(nv);
  for (size_t v = 0; v < nv; ++v) {
    replace[v] = static_cast<int>(v);
    producer[v] = idx.producer(static_cast<int>(v));
  }
  auto resolve = [&](int v) {
    while (v >= 0 && replace[static_cast<size_t>(v)] != v) v = replace[static_cast<size_t>(v)];
    return v;
  };
  std::vector<char> dead(g.nodes.size(), 0);
  size_t removed = 0;
  for (int n : ir::topological_order(g)) {
    ir::Node& node = g.nodes[static_cast<size_t>(n)];
    const std::optional<size_t> which = forwarded(node, idx);
    if (!which || *which >= node.inputs.size() || node.outputs.empty()) continue;
    const int out = node.outputs[0];
    const int src = resolve(node.inputs[*which]);
    if (out < 0 || src < 0 || idx.read_by_subgraph(out)) continue;
    if (!idx.is_graph_output(out)) {
      replace[static_cast<size_t>(out)] = src;  // readers of the output read the input
    } else {
      // The output must keep its name: the input's producer writes it instead, when the input is an
      // intermediate nothing else needs by its own name.
      const int p = producer[static_cast<size_t>(src)];
      if (p < 0 || dead[static_cast<size_t>(p)] || idx.is_graph_output(src) || idx.read_by_subgraph(src)) continue;
      for (int& o : g.nodes[static_cast<size_t>(p)].outputs)
        if (o == src) o = out;
      replace[static_cast<size_t>(src)] = out;
      producer[static_cast<size_t>(out)] = p;
    }
    dead[static_cast<size_t>(n)] = 1;
    ++removed;
  }
  if (!removed) return 0;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    if (!dead[n])
      for (int& i : g.nodes[n].inputs) i = resolve(i);
  erase_nodes(g, dead);
  return removed;
}

ir::Attribute attr_int(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

ir::Attribute attr_float(const std::string& name, float v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kFloat;
  a.f = v;
  return a;
}

ir::Attribute attr_string(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}

ir::Attribute attr_floats(const std::string& name, std::vector<float> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kFloats;
  a.floats = std::move(v);
  return a;
}

ir::Attribute attr_ints(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

void set_attr(ir::Node& n, ir::Attribute a) {
  for (ir::Attribute& old : n.attributes)
    if (old.name == a.name) {
      old = std::move(a);
      return;
    }
  n.attributes.push_back(std::move(a));
}

void remove_attr(ir::Node& n, std::string_view name) {
  std::erase_if(n.attributes, [&](const ir::Attribute& a) { return a.name == name; });
}

int64_t get_int(const ir::Node& n, std::string_view name, int64_t fallback) {
  const ir::Attribute* a = n.attr(name);
  return a && a->type == ir::AttrType::kInt ? a->i : fallback;
}

float get_float(const ir::Node& n, std::string_view name, float fallback) {
  const ir::Attribute* a = n.attr(name);
  return a && a->type == ir::AttrType::kFloat ? a->f : fallback;
}

std::string get_string(const ir::Node& n, std::string_view name, const std::string& fallback) {
  const ir::Attribute* a = n.attr(name);
  return a && a->type == ir::AttrType::kString ? a->s : fallback;
}

std::vector<int64_t> get_ints(const ir::Node& n, std::string_view name, std::vector<int64_t> fallback) {
  const ir::Attribute* a = n.attr(name);
  return a && a->type == ir::AttrType::kInts ? a->ints : fallback;
}

bool is_op(const ir::Node& n, std::string_view op_type) {
  return n.op_type == op_type && (n.domain.empty() || n.domain == "ai.onnx");
}

bool is_fused_matmul(const ir::Node& n) { return n.domain == kKilnDomain && n.op_type == "FusedMatMul"; }

ir::Node as_fused_matmul(const ir::Node& n) {
  ir::Node fused = n;
  if (!is_fused_matmul(n)) {
    fused.domain = kKilnDomain;
    fused.op_type = "FusedMatMul";
    fused.attributes = {attr_int("transB", 0), attr_float("alpha", 1.0f)};
  }
  return fused;
}

bool has_op(const ir::Graph& g, std::string_view op_type) {
  return std::any_of(g.nodes.begin(), g.nodes.end(), [&](const ir::Node& n) { return is_op(n, op_type); });
}

bool kiln_op_available(std::string_view name) { return ops::find_op(kKilnDomain, name) != nullptr; }

void import_kiln_domain(ir::Model& m) {
  if (m.opset(kKilnDomain) == 0) m.opsets.push_back({std::string(kKilnDomain), kKilnDomainVersion});
}

}  // namespace kiln::passes
