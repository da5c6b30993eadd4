// GraphProto, NodeProto, ValueInfoProto and FunctionProto readers.
#include <unordered_set>

#include "base/error.h"
#include "onnx/model_reader.h"

namespace kiln::onnx {

namespace {

// Builds one ir::Graph (a GraphProto or a function body): values interned by name, then outer-scope
// references worked out once every node is known, since ONNX does not require nodes in order.
class GraphBuilder {
 public:
  GraphBuilder(ReadContext& ctx, int depth) : ctx_(ctx), depth_(depth), g_(std::make_shared<ir::Graph>()) {}

  ir::Graph& graph() { return *g_; }

  // ValueInfoProto: name = 1, type = 2, doc_string = 3. Returns the value's id.
  int add_value_info(const WireReader& parent, const WireField& f, const char* role) {
    WireReader r = parent.message(f, "ValueInfoProto");
    std::string name, doc;
    WireField w, type_field;
    bool has_type = false;
    while (r.next(w)) {
      if (w.number == 1) name = r.as_string(w);
      else if (w.number == 2) type_field = w, has_type = true;
      else if (w.number == 3) doc = r.as_string(w);
    }
    if (name.empty()) fail(ErrorCode::kInvalidModel, "{} at byte {} of graph '{}' has no name", role, f.offset, g_->name);
    int id = g_->intern(name);
    ir::Value& v = g_->value(id);
    if (has_type) v.type = read_type(r, type_field, fmt::format("{} '{}'", role, name));
    if (!doc.empty()) v.doc_string = std::move(doc);
    return id;
  }

  void add_input(const WireReader& parent, const WireField& f) {
    int id = add_value_info(parent, f, "graph input");
    if (!defined_.insert(id).second)
      fail(ErrorCode::kInvalidModel, "graph '{}' lists input '{}' twice", g_->name, g_->value(id).name);
    g_->inputs.push_back(id);
  }

  void add_input_name(const std::string& name) {
    if (name.empty()) return;
    int id = g_->intern(name);
    defined_.insert(id);
    g_->inputs.push_back(id);
  }

  void add_initializer(const std::string& name, Tensor t, size_t offset) {
    if (name.empty())
      fail(ErrorCode::kInvalidModel, "initializer at byte {} of graph '{}' has no name", offset, g_->name);
    int id = g_->intern(name);
    if (!g_->initializers.emplace(id, std::move(t)).second)
      fail(ErrorCode::kInvalidModel, "graph '{}' has two initializers called '{}'", g_->name, name);
    defined_.insert(id);
  }

  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, doc_string = 6, domain = 7.
  void add_node(const WireReader& parent, const WireField& f) {
    WireReader r = parent.message(f, "NodeProto");
    ir::Node node;
    std::vector<WireField> attributes;
    WireField w;
    while (r.next(w)) {
      switch (w.number) {
        case 1: node.inputs.push_back(value_or_absent(r.as_string(w))); break;
        case 2: node.outputs.push_back(value_or_absent(r.as_string(w))); break;
        case 3: node.name = r.as_string(w); break;
        case 4: node.op_type = r.as_string(w); break;
        case 5: attributes.push_back(w); break;
        case 6: node.doc_string = r.as_string(w); break;
        case 7: node.domain = r.as_string(w); break;
        default: break;  // overload, metadata_props, device_configurations
      }
    }
    if (node.op_type.empty())
      fail(ErrorCode::kInvalidModel, "node {} at byte {} of graph '{}' has no op_type",
           node.name.empty() ? "(unnamed)" : "'" + node.name + "'", f.offset, g_->name);
    if (node.domain == "ai.onnx") node.domain.clear();  // one spelling of the default domain
    const size_t index = g_->nodes.size();
    for (const WireField& af : attributes) {
      ir::Attribute a = read_attribute(r, af, ctx_, depth_);
      for (const ir::Attribute& other : node.attributes)
        if (other.name == a.name)
          fail(ErrorCode::kInvalidModel, "{} has attribute '{}' twice", node.label(index), a.name);
      // A subgraph's outer references are values this node reads implicitly from this graph.
      const auto capture = [&](const ir::Graph& sub) {
        for (int ref : sub.outer_refs) reads_.push_back(g_->intern(sub.value(ref).name));
      };
      if (a.g) capture(*a.g);
      for (const auto& sub : a.graphs) capture(*sub);
      node.attributes.push_back(std::move(a));
    }
    for (int in : node.inputs)
      if (in >= 0) reads_.push_back(in);
    for (int out : node.outputs)
      if (out >= 0) defined_.insert(out);
    g_->nodes.push_back(std::move(node));
  }

  void add_output(const WireReader& parent, const WireField& f) {
    int id = add_value_info(parent, f, "graph output");
    g_->outputs.push_back(id);
    reads_.push_back(id);
  }

  void add_output_name(const std::string& name) {
    if (name.empty()) return;
    int id = g_->intern(name);
    g_->outputs.push_back(id);
    reads_.push_back(id);
  }

  void add_value_info_entry(const WireReader& parent, const WireField& f) {
    g_->value_infos.push_back(add_value_info(parent, f, "value_info"));
  }

  // In a subgraph, what is read but neither an input, an initializer nor a node output comes from an
  // enclosing graph. The main graph has no enclosing scope: ir::validate reports such names there.
  std::shared_ptr<ir::Graph> finish() {
    if (depth_ > 0) {
      std::unordered_set<int> seen;
      for (int id : reads_)
        if (!defined_.count(id) && seen.insert(id).second) g_->outer_refs.push_back(id);
    }
    return std::move(g_);
  }

 private:
  int value_or_absent(const std::string& name) { return name.empty() ? -1 : g_->intern(name); }

  ReadContext& ctx_;
  int depth_;
  std::shared_ptr<ir::Graph> g_;
  std::unordered_set<int> defined_;
  std::vector<int> reads_;
};

}  // namespace

std::shared_ptr<ir::Graph> read_graph(const WireReader& parent, const WireField& f, ReadContext& ctx, int depth) {
  WireReader r = parent.message(f, "GraphProto");
  // GraphProto fields (onnx/onnx.proto): node = 1, name = 2, initializer = 5, doc_string = 10, input = 11,
  // output = 12, value_info = 13, sparse_initializer = 15. Gathered first, then read in an order where names
  // are known before they are used.
  std::vector<WireField> nodes, initializers, sparse, inputs, outputs, infos;
  GraphBuilder b(ctx, depth);
  WireField w;
  while (r.next(w)) {
    switch (w.number) {
      case 1: nodes.push_back(w); break;
      case 2: b.graph().name = r.as_string(w); break;
      case 5: initializers.push_back(w); break;
      case 10: b.graph().doc_string = r.as_string(w); break;
      case 11: inputs.push_back(w); break;
      case 12: outputs.push_back(w); break;
      case 13: infos.push_back(w); break;
      case 15: sparse.push_back(w); break;
      default: break;  // quantization_annotation, metadata_props, newer fields
    }
  }
  for (const WireField& x : inputs) b.add_input(r, x);
  for (const WireField& x : initializers) {
    std::string name;
    Tensor t = read_tensor(r, x, ctx.tensors, &name);
    b.add_initializer(name, std::move(t), x.offset);
  }
  for (const WireField& x : sparse) {
    std::string name;
    Tensor t = read_sparse_tensor(r, x, ctx.tensors, &name);
    b.add_initializer(name, std::move(t), x.offset);
  }
  for (const WireField& x : nodes) b.add_node(r, x);
  for (const WireField& x : outputs) b.add_output(r, x);
  for (const WireField& x : infos) b.add_value_info_entry(r, x);
  return b.finish();
}

void read_function(const WireReader& parent, const WireField& f, ReadContext& ctx, ir::Function& fn) {
  WireReader r = parent.message(f, "FunctionProto");
  // FunctionProto fields (onnx/onnx.proto): name = 1, input = 4, output = 5, attribute = 6, node = 7,
  // doc_string = 8, opset_import = 9, domain = 10, attribute_proto = 11, value_info = 12.
  std::vector<WireField> nodes, infos, attribute_protos;
  GraphBuilder b(ctx, 0);
  WireField w;
  while (r.next(w)) {
    switch (w.number) {
      case 1: fn.name = r.as_string(w); break;
      case 4: fn.inputs.push_back(r.as_string(w)); break;
      case 5: fn.outputs.push_back(r.as_string(w)); break;
      case 6: fn.attributes.push_back(r.as_string(w)); break;
      case 7: nodes.push_back(w); break;
      case 8: b.graph().doc_string = r.as_string(w); break;
      case 9: fn.opsets.push_back(read_opset_import(r, w)); break;
      case 10: fn.domain = r.as_string(w); break;
      case 11: attribute_protos.push_back(w); break;
      case 12: infos.push_back(w); break;
      default: break;
    }
  }
  if (fn.name.empty()) fail(ErrorCode::kInvalidModel, "function at byte {} has no name", f.offset);
  b.graph().name = fn.name;
  for (const WireField& x : attribute_protos) {
    ir::Attribute a = read_attribute(r, x, ctx, 0);
    fn.attributes.push_back(a.name);
    fn.attribute_defaults.push_back(std::move(a));
  }
  for (const std::string& in : fn.inputs) b.add_input_name(in);
  for (const WireField& x : nodes) b.add_node(r, x);
  for (const std::string& out : fn.outputs) b.add_output_name(out);
  for (const WireField& x : infos) b.add_value_info_entry(r, x);
  fn.body = b.finish();
}

}  // namespace kiln::onnx
