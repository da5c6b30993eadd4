#include "onnx/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "onnx/tensor_proto.h"
#include "onnx/wire.h"

namespace kiln::onnx {

namespace {

// Field numbers are those of onnx/onnx.proto; the loader's readers name them message by message. Fields are
// written in field-number order, as protobuf's own serializers do (so ir_version comes first).

const std::string& value_name(const ir::Graph& g, int id, const char* what) {
  if (id < 0 || static_cast<size_t>(id) >= g.values.size())
    fail(ErrorCode::kInvalidArgument, "cannot write graph '{}': {} refers to value {}, which does not exist", g.name,
         what, id);
  return g.values[static_cast<size_t>(id)].name;
}

void write_shape(WireWriter& w, uint32_t field, const Shape& s) {
  size_t shape = w.begin_message(field);
  for (const Dim& d : s.dims) {
    size_t dim = w.begin_message(1);
    if (d.is_known()) w.int64_field(1, d.value());
    else if (d.is_symbol()) w.string_field(2, d.symbol_name());
    w.end_message(dim);
  }
  w.end_message(shape);
}

void write_type(WireWriter& w, uint32_t field, const ir::ValueType& t) {
  size_t type = w.begin_message(field);
  const auto tensor_like = [&](uint32_t member) {  // TypeProto.Tensor and TypeProto.SparseTensor
    size_t m = w.begin_message(member);
    if (t.dtype != DType::kUndefined) w.int64_field(1, static_cast<int32_t>(t.dtype));
    if (t.shape.rank_known) write_shape(w, 2, t.shape);
    w.end_message(m);
  };
  switch (t.kind) {
    case ir::ValueKind::kTensor: tensor_like(1); break;
    case ir::ValueKind::kSparseTensor: tensor_like(8); break;
    case ir::ValueKind::kSequence:
    case ir::ValueKind::kOptional: {
      size_t m = w.begin_message(t.kind == ir::ValueKind::kSequence ? 4 : 9);
      if (t.elem) write_type(w, 1, *t.elem);
      w.end_message(m);
      break;
    }
    case ir::ValueKind::kMap: {
      size_t m = w.begin_message(5);
      if (t.dtype != DType::kUndefined) w.int64_field(1, static_cast<int32_t>(t.dtype));
      if (t.elem) write_type(w, 2, *t.elem);
      w.end_message(m);
      break;
    }
    case ir::ValueKind::kUnknown: w.end_message(w.begin_message(7)); break;  // an opaque type
  }
  w.end_message(type);
}

void write_value_info(WireWriter& w, uint32_t field, const ir::Graph& g, int id, const char* what) {
  value_name(g, id, what);  // checks the id
  const ir::Value& v = g.value(id);
  size_t m = w.begin_message(field);
  w.string_field(1, v.name);
  const ir::ValueType& t = v.type;
  if (t.has_type || t.shape.rank_known || t.kind != ir::ValueKind::kTensor) write_type(w, 2, t);
  if (!v.doc_string.empty()) w.string_field(3, v.doc_string);
  w.end_message(m);
}

void write_graph(WireWriter& w, uint32_t field, const ir::Graph& g);

void write_tensor(WireWriter& w, uint32_t field, const Tensor& t, const std::string& name) {
  size_t m = w.begin_message(field);
  write_tensor_fields(w, t, name);
  w.end_message(m);
}

void write_attribute(WireWriter& w, uint32_t field, const ir::Attribute& a) {
  using T = ir::AttrType;
  size_t m = w.begin_message(field);
  w.string_field(1, a.name);
  if (a.ref_attr_name.empty()) {  // a reference to the caller's attribute carries no value
    switch (a.type) {
      case T::kFloat: w.float_field(2, a.f); break;
      case T::kInt: w.int64_field(3, a.i); break;
      case T::kString: w.string_field(4, a.s); break;
      case T::kTensor: write_tensor(w, 5, a.t, ""); break;
      case T::kGraph:
        if (!a.g) fail(ErrorCode::kInvalidArgument, "cannot write graph attribute '{}': it holds no graph", a.name);
        write_graph(w, 6, *a.g);
        break;
      case T::kFloats: for (float f : a.floats) w.float_field(7, f); break;
      case T::kInts: for (int64_t i : a.ints) w.int64_field(8, i); break;
      case T::kStrings: for (const std::string& s : a.strings) w.string_field(9, s); break;
      case T::kTensors: for (const Tensor& t : a.tensors) write_tensor(w, 10, t, ""); break;
      case T::kGraphs: for (const auto& g : a.graphs) write_graph(w, 11, *g); break;
      case T::kTypeProto:
        if (!a.tp) fail(ErrorCode::kInvalidArgument, "cannot write type attribute '{}': it holds no type", a.name);
        write_type(w, 14, *a.tp);
        break;
      case T::kTypeProtos: for (const auto& t : a.type_protos) write_type(w, 15, *t); break;
      case T::kSparseTensor: {
        size_t s = w.begin_message(22);
        write_sparse_tensor_fields(w, a.t, "");
        w.end_message(s);
        break;
      }
      case T::kSparseTensors:
        for (const Tensor& t : a.tensors) {
          size_t s = w.begin_message(23);
          write_sparse_tensor_fields(w, t, "");
          w.end_message(s);
        }
        break;
      case T::kUndefined: break;
    }
  }
  if (!a.doc_string.empty()) w.string_field(13, a.doc_string);
  w.int64_field(20, static_cast<int32_t>(a.type));
  if (!a.ref_attr_name.empty()) w.string_field(21, a.ref_attr_name);
  w.end_message(m);
}

void write_node(WireWriter& w, uint32_t field, const ir::Graph& g, const ir::Node& n) {
  static const std::string empty;
  size_t m = w.begin_message(field);
  for (int id : n.inputs) w.string_field(1, id < 0 ? empty : value_name(g, id, "a node input"));
  for (int id : n.outputs) w.string_field(2, id < 0 ? empty : value_name(g, id, "a node output"));
  if (!n.name.empty()) w.string_field(3, n.name);
  w.string_field(4, n.op_type);
  for (const ir::Attribute& a : n.attributes) write_attribute(w, 5, a);
  if (!n.doc_string.empty()) w.string_field(6, n.doc_string);
  if (!n.domain.empty()) w.string_field(7, n.domain);
  w.end_message(m);
}

void write_graph(WireWriter& w, uint32_t field, const ir::Graph& g) {
  size_t m = w.begin_message(field);
  for (const ir::Node& n : g.nodes) write_node(w, 1, g, n);
  w.string_field(2, g.name);
  std::vector<int> init_ids;  // in value order, so the same graph always gives the same bytes
  for (const auto& [id, t] : g.initializers) init_ids.push_back(id);
  std::sort(init_ids.begin(), init_ids.end());
  for (int id : init_ids) write_tensor(w, 5, g.initializers.at(id), value_name(g, id, "an initializer"));
  if (!g.doc_string.empty()) w.string_field(10, g.doc_string);
  for (int id : g.inputs) write_value_info(w, 11, g, id, "a graph input");
  for (int id : g.outputs) write_value_info(w, 12, g, id, "a graph output");
  for (int id : g.value_infos) write_value_info(w, 13, g, id, "a value_info");
  w.end_message(m);
}

void write_opset(WireWriter& w, uint32_t field, const ir::OpsetImport& o) {
  size_t m = w.begin_message(field);
  if (!o.domain.empty()) w.string_field(1, o.domain);
  w.int64_field(2, o.version);
  w.end_message(m);
}

void write_function(WireWriter& w, const ir::Function& f) {
  size_t m = w.begin_message(25);  // ModelProto.functions
  w.string_field(1, f.name);
  for (const std::string& s : f.inputs) w.string_field(4, s);
  for (const std::string& s : f.outputs) w.string_field(5, s);
  for (const std::string& s : f.attributes) {  // names without a default; those with one go in field 11
    bool has_default = std::any_of(f.attribute_defaults.begin(), f.attribute_defaults.end(),
                                   [&](const ir::Attribute& a) { return a.name == s; });
    if (!has_default) w.string_field(6, s);
  }
  if (f.body) {
    for (const ir::Node& n : f.body->nodes) write_node(w, 7, *f.body, n);
    if (!f.body->doc_string.empty()) w.string_field(8, f.body->doc_string);
  }
  for (const ir::OpsetImport& o : f.opsets) write_opset(w, 9, o);
  if (!f.domain.empty()) w.string_field(10, f.domain);
  for (const ir::Attribute& a : f.attribute_defaults) write_attribute(w, 11, a);
  if (f.body)
    for (int id : f.body->value_infos) write_value_info(w, 12, *f.body, id, "a value_info");
  w.end_message(m);
}

}  // namespace

std::vector<uint8_t> serialize_model(const ir::Model& m) {
  if (!m.graph) fail(ErrorCode::kInvalidArgument, "cannot write a model with no graph");
  WireWriter w;
  w.int64_field(1, m.ir_version > 0 ? m.ir_version : kDefaultIrVersion);
  if (!m.producer_name.empty()) w.string_field(2, m.producer_name);
  if (!m.producer_version.empty()) w.string_field(3, m.producer_version);
  if (!m.domain.empty()) w.string_field(4, m.domain);
  if (m.has_model_version || m.model_version != 0) w.int64_field(5, m.model_version);
  if (!m.doc_string.empty()) w.string_field(6, m.doc_string);
  write_graph(w, 7, *m.graph);
  for (const ir::OpsetImport& o : m.opsets) write_opset(w, 8, o);
  for (const auto& [k, v] : m.metadata) {
    size_t e = w.begin_message(14);
    w.string_field(1, k);
    w.string_field(2, v);
    w.end_message(e);
  }
  for (const ir::Function& f : m.functions) write_function(w, f);
  return w.take();
}

void save_model(const ir::Model& m, const std::string& path) {
  std::vector<uint8_t> bytes = serialize_model(m);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(ErrorCode::kIo, "cannot write '{}': {}", tmp, std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(ErrorCode::kIo, "cannot write '{}': {}", tmp, std::strerror(e));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail(ErrorCode::kIo, "cannot write '{}': {}", path, std::strerror(e));
  }
}

}  // namespace kiln::onnx
