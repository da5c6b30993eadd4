#pragma once
// Builds ir::Models value by value for tests that go through the whole API (Session, check_model): main graphs
// and subgraphs alike, serialized with kiln's own writer when a test needs the file or its bytes.

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/tensor.h"

namespace kiln::testing {

inline ir::ValueType tensor_type(DType dtype, std::vector<Dim> dims) {
  return {ir::ValueKind::kTensor, dtype, Shape(std::move(dims)), true, nullptr};
}

// Builds a graph value by value; used for main graphs and subgraphs alike.
struct GraphBuilder {
  std::shared_ptr<ir::Graph> g = std::make_shared<ir::Graph>();

  explicit GraphBuilder(std::string name = "g") { g->name = std::move(name); }
  void input(const std::string& name, DType dtype, std::vector<Dim> dims) {
    int id = g->intern(name);
    g->value(id).type = tensor_type(dtype, std::move(dims));
    g->inputs.push_back(id);
  }
  void output(const std::string& name, DType dtype, std::vector<Dim> dims) {
    int id = g->intern(name);
    g->value(id).type = tensor_type(dtype, std::move(dims));
    g->outputs.push_back(id);
  }
  /// An output whose shape the graph does not declare (for ops whose output size is the point of the test).
  void output_any_shape(const std::string& name, DType dtype) {
    output(name, dtype, {});
    g->value(g->find(name)).type.shape = Shape::unknown_rank();
  }
  void initializer(const std::string& name, Tensor t) { g->initializers[g->intern(name)] = std::move(t); }
  ir::Node& node(const std::string& op, const std::vector<std::string>& ins, const std::vector<std::string>& outs,
                 const std::string& name, const std::string& domain = "") {
    ir::Node n;
    n.op_type = op;
    n.domain = domain;
    n.name = name;
    for (const auto& i : ins) n.inputs.push_back(i.empty() ? -1 : g->intern(i));
    for (const auto& o : outs) n.outputs.push_back(g->intern(o));
    g->nodes.push_back(std::move(n));
    return g->nodes.back();
  }
};

inline ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}
inline ir::Attribute string_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}
inline ir::Attribute graph_attr(const std::string& name, std::shared_ptr<ir::Graph> g) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kGraph;
  a.g = std::move(g);
  return a;
}

inline ir::Model model_of(const GraphBuilder& b, int64_t opset = 17) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", opset}};
  m.graph = b.g;
  return m;
}

}  // namespace kiln::testing
