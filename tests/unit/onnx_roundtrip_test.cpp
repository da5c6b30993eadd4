// A model built in code with every feature the loader reads, written with serialize_model and loaded again:
// what comes back must equal what went in (outer references worked out by hand). Also where initializer
// bytes live after loading: views into the mapped file when aligned, copies otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "onnx/loader.h"
#include "onnx/tensor_io.h"
#include "onnx/writer.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

ir::ValueType tensor_type(DType t, Shape s) {
  ir::ValueType v;
  v.dtype = t;
  v.shape = std::move(s);
  v.has_type = true;
  return v;
}

ir::ValueType wrap(ir::ValueKind kind, ir::ValueType elem) {
  ir::ValueType v;
  v.kind = kind;
  v.elem = std::make_shared<ir::ValueType>(std::move(elem));
  v.has_type = true;
  return v;
}

ir::Attribute attr(const std::string& name, ir::AttrType t, const std::function<void(ir::Attribute&)>& fill = {}) {
  ir::Attribute a;
  a.name = name;
  a.type = t;
  if (fill) fill(a);
  return a;
}

ir::Node node(ir::Graph& g, const std::string& op, const std::vector<std::string>& in,
              const std::vector<std::string>& out, const std::string& domain = "") {
  ir::Node n;
  n.op_type = op;
  n.domain = domain;
  for (const auto& s : in) n.inputs.push_back(s.empty() ? -1 : g.intern(s));
  for (const auto& s : out) n.outputs.push_back(s.empty() ? -1 : g.intern(s));
  return n;
}

// The branch of an If: reads "h" and "w" from the enclosing graph, and "deep" through a nested subgraph.
std::shared_ptr<ir::Graph> branch() {
  auto inner = std::make_shared<ir::Graph>();
  inner->name = "inner";
  inner->nodes.push_back(node(*inner, "Neg", {"deep"}, {"n"}));
  inner->outputs.push_back(inner->find("n"));
  inner->outer_refs.push_back(inner->find("deep"));

  auto g = std::make_shared<ir::Graph>();
  g->name = "branch";
  int k = g->intern("k");
  g->inputs.push_back(k);
  g->value(k).type = tensor_type(DType::kInt64, Shape::from({}));
  ir::Node add = node(*g, "Add", {"h", "k"}, {"s"});
  g->nodes.push_back(add);
  ir::Node nested = node(*g, "If", {"s"}, {"r"});
  nested.attributes.push_back(attr("then_branch", ir::AttrType::kGraph, [&](auto& a) { a.g = inner; }));
  g->nodes.push_back(nested);
  g->nodes.push_back(node(*g, "Mul", {"r", "w"}, {"out"}));
  g->outputs.push_back(g->find("out"));
  g->value(g->find("out")).type = tensor_type(DType::kFloat32, Shape({Dim::symbol("N"), Dim(2)}));
  g->initializers.emplace(g->intern("local_c"), Tensor::scalar(2.0f));
  for (const char* name : {"h", "deep", "w"}) g->outer_refs.push_back(g->intern(name));
  return g;
}

ir::Model build_model() {
  ir::Model m;
  m.ir_version = 9;
  m.opsets = {{"", 17}, {"com.example", 2}};
  m.producer_name = "kiln-test";
  m.producer_version = "0.1";
  m.domain = "org.kiln";
  m.model_version = 3;
  m.doc_string = "built in code";
  m.metadata = {{"k", "v"}, {"empty", ""}};
  auto g = std::make_shared<ir::Graph>();
  m.graph = g;
  g->name = "main";
  g->doc_string = "main graph";
  const auto input = [&](const std::string& name, ir::ValueType t) {
    int id = g->intern(name);
    g->value(id).type = std::move(t);
    g->inputs.push_back(id);
  };
  input("x", tensor_type(DType::kFloat32, Shape({Dim::symbol("N"), Dim(3), Dim()})));
  g->value(g->find("x")).doc_string = "the input";
  input("seq", wrap(ir::ValueKind::kSequence, tensor_type(DType::kInt64, Shape::unknown_rank())));
  input("opt", wrap(ir::ValueKind::kOptional,
                    wrap(ir::ValueKind::kSequence, tensor_type(DType::kFloat16, Shape::from({2})))));
  ir::ValueType map = wrap(ir::ValueKind::kMap, tensor_type(DType::kFloat32, Shape::from({})));
  map.dtype = DType::kString;
  input("map", map);
  ir::ValueType sparse = tensor_type(DType::kFloat64, Shape::from({5, 5}));
  sparse.kind = ir::ValueKind::kSparseTensor;
  input("sparse", sparse);
  input("untyped", ir::ValueType());
  input("deep", tensor_type(DType::kFloat32, Shape::unknown_rank()));

  g->initializers.emplace(g->intern("w"), Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6}));
  Tensor strings(DType::kString, {2});
  strings.data<std::string>()[0] = "a";
  strings.data<std::string>()[1] = std::string("\0b\xff", 3);
  g->initializers.emplace(g->intern("names"), strings);
  g->initializers.emplace(g->intern("bf"), Tensor::from_vector<BFloat16>({2}, {BFloat16(1.5f), BFloat16(-2.0f)}));
  g->initializers.emplace(g->intern("h16"), Tensor::from_vector<Float16>({1}, {Float16(0.25f)}));
  g->initializers.emplace(g->intern("flags"), Tensor::from_vector<bool>({3}, {true, false, true}));
  g->initializers.emplace(g->intern("big"), Tensor::from_vector<uint64_t>({1}, {~uint64_t{0}}));
  g->initializers.emplace(g->intern("none"), Tensor(DType::kInt32, {0, 4}));

  ir::Node mm = node(*g, "MatMul", {"x", "w"}, {"h"});
  mm.name = "mm";
  mm.doc_string = "first";
  g->nodes.push_back(mm);
  ir::Node c = node(*g, "Custom", {"h", "", "seq"}, {"y", ""}, "com.example");
  c.name = "custom";
  using T = ir::AttrType;
  Tensor sparse_value = Tensor::from_vector<int32_t>({2, 3}, {0, 5, 0, 0, 0, -1});
  c.attributes = {
      attr("f", T::kFloat, [](auto& a) { a.f = -1.25f; }),
      attr("i", T::kInt, [](auto& a) { a.i = -(int64_t{1} << 50); }),
      attr("s", T::kString, [](auto& a) { a.s = std::string("\0\xff", 2); }),
      attr("t", T::kTensor, [](auto& a) { a.t = Tensor::from_vector<int8_t>({2}, {-1, 7}); }),
      attr("g", T::kGraph, [](auto& a) { a.g = branch(); }),
      attr("floats", T::kFloats, [](auto& a) { a.floats = {0.5f, -0.0f, 1e-30f}; }),
      attr("ints", T::kInts, [](auto& a) { a.ints = {-1, 0, int64_t{1} << 40}; }),
      attr("strings", T::kStrings, [](auto& a) { a.strings = {"", "x"}; }),
      attr("no_ints", T::kInts),
      attr("tensors", T::kTensors, [](auto& a) { a.tensors = {Tensor::scalar(1.0), Tensor::scalar(int64_t{2})}; }),
      attr("graphs", T::kGraphs, [](auto& a) { a.graphs = {branch(), branch()}; }),
      attr("sparse", T::kSparseTensor, [&](auto& a) { a.t = sparse_value; }),
      attr("sparses", T::kSparseTensors, [&](auto& a) { a.tensors = {sparse_value, sparse_value}; }),
      attr("tp", T::kTypeProto, [&](auto& a) { a.tp = std::make_shared<ir::ValueType>(map); }),
      attr("tps", T::kTypeProtos,
           [&](auto& a) {
             a.type_protos = {std::make_shared<ir::ValueType>(sparse),
                              std::make_shared<ir::ValueType>(tensor_type(DType::kBool, Shape::from({})))};
           }),
  };
  c.attributes[0].doc_string = "attribute doc";
  g->nodes.push_back(c);
  g->outputs.push_back(g->find("y"));
  g->value(g->find("y")).type = tensor_type(DType::kFloat32, Shape({Dim::symbol("N"), Dim(2)}));
  g->value_infos.push_back(g->find("h"));
  g->value(g->find("h")).type = tensor_type(DType::kFloat32, Shape({Dim::symbol("N"), Dim(2)}));

  ir::Function f;
  f.name = "Square";
  f.domain = "com.example";
  f.inputs = {"a"};
  f.outputs = {"b"};
  f.attributes = {"unused", "alpha"};
  f.attribute_defaults = {attr("alpha", T::kFloat, [](auto& a) { a.f = 1.0f; })};
  f.opsets = {{"", 17}};
  f.body = std::make_shared<ir::Graph>();
  f.body->name = "Square";
  f.body->inputs.push_back(f.body->intern("a"));
  ir::Node mul = node(*f.body, "Mul", {"a", "a"}, {"b"});
  mul.attributes.push_back(attr("scale", T::kFloat, [](auto& a) { a.ref_attr_name = "alpha"; }));
  f.body->nodes.push_back(mul);
  f.body->outputs.push_back(f.body->find("b"));
  m.functions.push_back(f);
  return m;
}

void expect_same_tensor(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  EXPECT_EQ(a.dims(), b.dims());
  ASSERT_EQ(a.numel(), b.numel());
  if (a.dtype() == DType::kString) {
    for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data<std::string>()[i], b.data<std::string>()[i]);
  } else if (a.nbytes()) {
    EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0);
  }
}

void expect_same_type(const ir::ValueType& a, const ir::ValueType& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.has_type, b.has_type);
  EXPECT_EQ(a.shape.str(), b.shape.str());
  EXPECT_TRUE(a.shape == b.shape);
  ASSERT_EQ(bool(a.elem), bool(b.elem));
  if (a.elem) expect_same_type(*a.elem, *b.elem);
}

void expect_same_graph(const ir::Graph& a, const ir::Graph& b);

void expect_same_attribute(const ir::Attribute& a, const ir::Attribute& b) {
  SCOPED_TRACE("attribute " + a.name);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.ref_attr_name, b.ref_attr_name);
  EXPECT_EQ(a.doc_string, b.doc_string);
  EXPECT_EQ(a.f, b.f);
  EXPECT_EQ(a.i, b.i);
  EXPECT_EQ(a.s, b.s);
  EXPECT_EQ(a.floats, b.floats);
  EXPECT_EQ(a.ints, b.ints);
  EXPECT_EQ(a.strings, b.strings);
  EXPECT_EQ(a.t.defined(), b.t.defined());
  if (a.t.defined()) expect_same_tensor(a.t, b.t);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) expect_same_tensor(a.tensors[i], b.tensors[i]);
  ASSERT_EQ(bool(a.g), bool(b.g));
  if (a.g) expect_same_graph(*a.g, *b.g);
  ASSERT_EQ(a.graphs.size(), b.graphs.size());
  for (size_t i = 0; i < a.graphs.size(); ++i) expect_same_graph(*a.graphs[i], *b.graphs[i]);
  ASSERT_EQ(bool(a.tp), bool(b.tp));
  if (a.tp) expect_same_type(*a.tp, *b.tp);
  ASSERT_EQ(a.type_protos.size(), b.type_protos.size());
  for (size_t i = 0; i < a.type_protos.size(); ++i) expect_same_type(*a.type_protos[i], *b.type_protos[i]);
}

void expect_same_values(const ir::Graph& a, const std::vector<int>& ia, const ir::Graph& b,
                        const std::vector<int>& ib) {
  ASSERT_EQ(value_names(a, ia), value_names(b, ib));
  for (size_t i = 0; i < ia.size(); ++i) {
    SCOPED_TRACE("value " + a.value(ia[i]).name);
    expect_same_type(a.value(ia[i]).type, b.value(ib[i]).type);
    EXPECT_EQ(a.value(ia[i]).doc_string, b.value(ib[i]).doc_string);
  }
}

void expect_same_graph(const ir::Graph& a, const ir::Graph& b) {
  SCOPED_TRACE("graph " + a.name);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.doc_string, b.doc_string);
  expect_same_values(a, a.inputs, b, b.inputs);
  expect_same_values(a, a.outputs, b, b.outputs);
  expect_same_values(a, a.value_infos, b, b.value_infos);
  auto ra = value_names(a, a.outer_refs), rb = value_names(b, b.outer_refs);
  std::sort(ra.begin(), ra.end());
  std::sort(rb.begin(), rb.end());
  EXPECT_EQ(ra, rb);
  ASSERT_EQ(a.initializers.size(), b.initializers.size());
  for (const auto& [id, t] : a.initializers) {
    int other = b.find(a.value(id).name);
    ASSERT_TRUE(b.is_initializer(other)) << a.value(id).name;
    expect_same_tensor(t, b.initializers.at(other));
  }
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const ir::Node &na = a.nodes[i], &nb = b.nodes[i];
    SCOPED_TRACE(na.label(i));
    EXPECT_EQ(na.name, nb.name);
    EXPECT_EQ(na.op_type, nb.op_type);
    EXPECT_EQ(na.domain, nb.domain);
    EXPECT_EQ(na.doc_string, nb.doc_string);
    EXPECT_EQ(value_names(a, na.inputs), value_names(b, nb.inputs));
    EXPECT_EQ(value_names(a, na.outputs), value_names(b, nb.outputs));
    EXPECT_EQ(na.inputs.size() > 1 && na.inputs[1] < 0, nb.inputs.size() > 1 && nb.inputs[1] < 0);
    ASSERT_EQ(na.attributes.size(), nb.attributes.size());
    for (size_t k = 0; k < na.attributes.size(); ++k) expect_same_attribute(na.attributes[k], nb.attributes[k]);
  }
}

void expect_same_model(const ir::Model& a, const ir::Model& b) {
  EXPECT_EQ(a.ir_version, b.ir_version);
  ASSERT_EQ(a.opsets.size(), b.opsets.size());
  for (size_t i = 0; i < a.opsets.size(); ++i) {
    EXPECT_EQ(a.opsets[i].domain, b.opsets[i].domain);
    EXPECT_EQ(a.opsets[i].version, b.opsets[i].version);
  }
  EXPECT_EQ(a.producer_name, b.producer_name);
  EXPECT_EQ(a.producer_version, b.producer_version);
  EXPECT_EQ(a.domain, b.domain);
  EXPECT_EQ(a.model_version, b.model_version);
  EXPECT_EQ(a.doc_string, b.doc_string);
  EXPECT_EQ(a.metadata, b.metadata);
  expect_same_graph(*a.graph, *b.graph);
  ASSERT_EQ(a.functions.size(), b.functions.size());
  for (size_t i = 0; i < a.functions.size(); ++i) {
    const ir::Function &fa = a.functions[i], &fb = b.functions[i];
    EXPECT_EQ(fa.name, fb.name);
    EXPECT_EQ(fa.domain, fb.domain);
    EXPECT_EQ(fa.inputs, fb.inputs);
    EXPECT_EQ(fa.outputs, fb.outputs);
    EXPECT_EQ(fa.attributes, fb.attributes);
    ASSERT_EQ(fa.attribute_defaults.size(), fb.attribute_defaults.size());
    for (size_t k = 0; k < fa.attribute_defaults.size(); ++k)
      expect_same_attribute(fa.attribute_defaults[k], fb.attribute_defaults[k]);
    ASSERT_EQ(fa.opsets.size(), fb.opsets.size());
    expect_same_graph(*fa.body, *fb.body);
  }
}

}  // namespace

TEST(OnnxRoundTrip, ModelBuiltInCodeSurvivesWriteAndLoad) {
  ir::Model m = build_model();
  ir::Model back = onnx::load_model_from_bytes(onnx::serialize_model(m));
  expect_same_model(m, back);
  // Through a file as well, and the written bytes are stable.
  TempDir dir;
  onnx::save_model(m, dir / "m.onnx");
  EXPECT_FALSE(fs::exists(dir.path() / "m.onnx.tmp"));
  ir::Model from_file = onnx::load_model(dir / "m.onnx");
  expect_same_model(m, from_file);
  EXPECT_EQ(onnx::serialize_model(from_file), onnx::serialize_model(m));
  // ir::validate accepts what the loader produced (subgraph reads resolve through outer_refs).
  EXPECT_NO_THROW(ir::validate(*back.graph));
}

TEST(OnnxRoundTrip, AModelWithoutIrVersionIsWrittenWithTheDefault) {
  ir::Model m = build_model();
  m.ir_version = 0;
  EXPECT_EQ(onnx::load_model_from_bytes(onnx::serialize_model(m)).ir_version, onnx::kDefaultIrVersion);
  ir::Model empty;
  expect_error([&] { onnx::serialize_model(empty); }, ErrorCode::kInvalidArgument, {"no graph"});
  m.graph->nodes[0].inputs[0] = 999;
  expect_error([&] { onnx::serialize_model(m); }, ErrorCode::kInvalidArgument, {"value 999"});
  expect_error([&] { onnx::save_model(build_model(), "/nonexistent-dir/m.onnx"); }, ErrorCode::kIo,
               {"/nonexistent-dir/m.onnx"});
}

TEST(OnnxRoundTrip, RawDataInitializersViewTheMappedFileWhenAligned) {
  // Protobuf places raw_data wherever the preceding fields end, so whether an int64 payload is 8-byte aligned
  // in the file depends on the name's length: both cases occur below. Aligned ones are views into the
  // mapping, the others copies.
  TempDir dir;
  const int64_t values[2] = {-5, int64_t{1} << 60};
  const std::vector<uint8_t> payload(reinterpret_cast<const uint8_t*>(values), reinterpret_cast<const uint8_t*>(values) + 16);
  size_t views = 0, copies = 0;
  for (size_t name_len = 1; name_len <= 8; ++name_len) {
    std::string name(name_len, 'n');
    auto t = ProtoBuilder::tensor({2}, 7, name, [&](onnx::WireWriter& w) { w.bytes_field(9, payload); });
    std::vector<uint8_t> bytes = ProtoBuilder::model_with_initializers({t});
    size_t offset = static_cast<size_t>(std::search(bytes.begin(), bytes.end(), payload.begin(), payload.end()) - bytes.begin());
    ASSERT_LT(offset, bytes.size());
    fs::path file = dir.path() / (name + ".onnx");
    write_file(file, bytes);
    ir::Model m = onnx::load_model(file.string());
    const Tensor& x = m.graph->initializers.at(m.graph->find(name));
    EXPECT_EQ(x.data<int64_t>()[1], int64_t{1} << 60);
    const bool aligned = offset % 8 == 0;
    EXPECT_EQ(points_into(x, mapping_of(file)), aligned) << "payload at file offset " << offset;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(x.raw_data()) % 8, 0u);
    (aligned ? views : copies) += 1;
  }
  EXPECT_GE(views, 1u);
  EXPECT_GE(copies, 1u);
  // In a real file: numpy_helper's raw_data, a view exactly when its place in the file suits float32.
  fs::path file = onnx_fixture_dir() / "custom" / "all_features.onnx";
  ir::Model m = onnx::load_model(file.string());
  std::vector<uint8_t> bytes = read_file(file);
  std::vector<float> arange(12);
  for (int i = 0; i < 12; ++i) arange[static_cast<size_t>(i)] = static_cast<float>(i);
  const auto* a = reinterpret_cast<const uint8_t*>(arange.data());
  size_t offset = static_cast<size_t>(std::search(bytes.begin(), bytes.end(), a, a + 48) - bytes.begin());
  const Tensor& raw = m.graph->initializers.at(m.graph->find("raw_f32"));
  EXPECT_EQ(raw.data<float>()[11], 11.0f);
  EXPECT_EQ(points_into(raw, mapping_of(file)), offset % 4 == 0);
  const Tensor& typed = m.graph->initializers.at(m.graph->find("f32"));  // make_tensor: float_data, copied
  EXPECT_TRUE(typed.owns_memory());
  EXPECT_EQ(typed.data<float>()[2], 3.25f);
  EXPECT_TRUE(m.keepalive);
}

TEST(OnnxRoundTrip, BytesAreCopiedOnceAndOutliveTheCallersBuffer) {
  std::vector<uint8_t> bytes = onnx::serialize_model(build_model());
  ir::Model m = onnx::load_model_from_bytes(bytes);
  std::fill(bytes.begin(), bytes.end(), 0);  // the caller's buffer may change or go away
  bytes.clear();
  bytes.shrink_to_fit();
  const Tensor& w = m.graph->initializers.at(m.graph->find("w"));
  EXPECT_EQ(w.data<float>()[5], 6.0f);
  EXPECT_TRUE(m.keepalive);
  EXPECT_TRUE(m.path.empty());
}

TEST(OnnxRoundTrip, TensorSerializationRoundTrips) {
  Tensor strings(DType::kString, {3});
  strings.data<std::string>()[1] = "mid";
  for (const Tensor& t : {Tensor::from_vector<float>({2, 2}, {1, -2, 3, 4}), Tensor::scalar(int64_t{-9}),
                          Tensor(DType::kUInt16, {0}), strings,
                          Tensor::from_vector<bool>({2}, {false, true})}) {
    Tensor back = onnx::parse_tensor(onnx::serialize_tensor(t, "t"));
    expect_same_tensor(t, back);
    EXPECT_TRUE(back.owns_memory());
  }
}
