// Loads every model and tensor file listed in data/onnx/manifest.json (kiln's fixtures and the model test
// data of the onnx wheel) and compares what kiln reads with what onnx's Python reader saw
// (make_fixtures.py). Each model is also written back with kiln's writer, reloaded and compared again.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "onnx/loader.h"
#include "onnx/tensor_io.h"
#include "onnx/writer.h"
#include "onnx_test_util.h"

using json = nlohmann::json;
using namespace kiln;
using namespace kiln::testing;

namespace {

const json& manifest() {
  static const json m = [] {
    std::ifstream f(onnx_fixture_dir() / "manifest.json");
    return json::parse(f);
  }();
  return m;
}

// The file an entry names, or an empty path when its root is not on this machine.
fs::path entry_path(const json& e) {
  if (e["root"] == "fixtures") return onnx_fixture_dir() / e["path"].get<std::string>();
  fs::path venv = venv_onnx_data_dir();
  return venv.empty() ? fs::path() : venv / e["path"].get<std::string>();
}

std::string hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string r;
  for (unsigned char c : s) r += {digits[c >> 4], digits[c & 15]};
  return r;
}

// True when the summary holds a tensor or type kiln cannot hold, so loading must fail with kUnsupported.
bool mentions_unsupported_type(const json& j) {
  if (j.is_object()) {
    if (j.contains("data_type") && !dtype_is_supported(static_cast<DType>(j["data_type"].get<int>()))) return true;
    if (j.contains("elem_type") && !dtype_is_known(j["elem_type"].get<int>())) return true;
    for (const auto& [k, v] : j.items())
      if (mentions_unsupported_type(v)) return true;
  } else if (j.is_array()) {
    for (const auto& v : j)
      if (mentions_unsupported_type(v)) return true;
  }
  return false;
}

void expect_tensor(const json& s, const Tensor& t) {
  EXPECT_EQ(static_cast<int>(t.dtype()), s["data_type"].get<int>());
  EXPECT_EQ(t.dims(), s["dims"].get<std::vector<int64_t>>());
  if (s.contains("crc32")) { EXPECT_EQ(tensor_crc32(t), s["crc32"].get<uint32_t>()); }
}

void expect_type(const json& s, const ir::ValueType& t) {
  if (s.is_null()) {
    EXPECT_FALSE(t.has_type);
    return;
  }
  const std::string kind = s["kind"];
  if (kind == "tensor" || kind == "sparse_tensor") {
    EXPECT_EQ(t.kind, kind == "tensor" ? ir::ValueKind::kTensor : ir::ValueKind::kSparseTensor);
    EXPECT_EQ(static_cast<int>(t.dtype), s["elem_type"].get<int>());
    EXPECT_EQ(t.has_type, s["elem_type"].get<int>() != 0);
    if (s["shape"].is_null()) {
      EXPECT_FALSE(t.shape.rank_known);
    } else {
      ASSERT_TRUE(t.shape.rank_known);
      ASSERT_EQ(t.shape.rank(), s["shape"].size());
      for (size_t i = 0; i < t.shape.rank(); ++i) {
        const json& d = s["shape"][i];
        Dim want = d.is_number() ? Dim(d.get<int64_t>()) : d.is_string() ? Dim::symbol(d.get<std::string>()) : Dim();
        EXPECT_TRUE(t.shape.dims[i] == want) << "dim " << i << ": " << t.shape.dims[i].str() << " vs " << want.str();
      }
    }
  } else if (kind == "sequence" || kind == "optional") {
    EXPECT_EQ(t.kind, kind == "sequence" ? ir::ValueKind::kSequence : ir::ValueKind::kOptional);
    EXPECT_EQ(t.has_type, s.contains("elem"));
    if (s.contains("elem")) {
      ASSERT_TRUE(t.elem);
      expect_type(s["elem"], *t.elem);
    }
  } else if (kind == "map") {
    EXPECT_EQ(t.kind, ir::ValueKind::kMap);
    EXPECT_EQ(static_cast<int>(t.dtype), s["key_type"].get<int>());
    ASSERT_TRUE(t.elem);
    expect_type(s["elem"], *t.elem);
  } else if (kind == "opaque") {
    EXPECT_EQ(t.kind, ir::ValueKind::kUnknown);
  } else {
    EXPECT_FALSE(t.has_type);
  }
}

void expect_graph(const json& s, const ir::Graph& g);

void expect_attribute(const json& s, const ir::Attribute& a) {
  SCOPED_TRACE("attribute " + a.name);
  EXPECT_EQ(a.name, s["name"].get<std::string>());
  EXPECT_EQ(static_cast<int>(a.type), s["type"].get<int>());
  if (s.contains("ref_attr_name")) { EXPECT_EQ(a.ref_attr_name, s["ref_attr_name"].get<std::string>()); }
  if (s.contains("f")) { EXPECT_EQ(a.f, static_cast<float>(s["f"].get<double>())); }
  if (s.contains("i")) { EXPECT_EQ(a.i, s["i"].get<int64_t>()); }
  if (s.contains("s_hex")) { EXPECT_EQ(hex(a.s), s["s_hex"].get<std::string>()); }
  if (s.contains("ints")) { EXPECT_EQ(a.ints, s["ints"].get<std::vector<int64_t>>()); }
  if (s.contains("floats")) {
    std::vector<float> want;
    for (double d : s["floats"]) want.push_back(static_cast<float>(d));
    EXPECT_EQ(a.floats, want);
  }
  if (s.contains("strings_hex")) {
    std::vector<std::string> got;
    for (const std::string& x : a.strings) got.push_back(hex(x));
    EXPECT_EQ(got, s["strings_hex"].get<std::vector<std::string>>());
  }
  if (s.contains("t")) expect_tensor(s["t"], a.t);
  if (s.contains("tensors")) {
    ASSERT_EQ(a.tensors.size(), s["tensors"].size());
    for (size_t i = 0; i < a.tensors.size(); ++i) expect_tensor(s["tensors"][i], a.tensors[i]);
  }
  if (s.contains("g")) {
    ASSERT_TRUE(a.g);
    expect_graph(s["g"], *a.g);
  }
  if (s.contains("graphs")) {
    ASSERT_EQ(a.graphs.size(), s["graphs"].size());
    for (size_t i = 0; i < a.graphs.size(); ++i) expect_graph(s["graphs"][i], *a.graphs[i]);
  }
  if (s.contains("tp")) {
    ASSERT_TRUE(a.tp);
    expect_type(s["tp"], *a.tp);
  }
  if (s.contains("type_protos")) {
    ASSERT_EQ(a.type_protos.size(), s["type_protos"].size());
    for (size_t i = 0; i < a.type_protos.size(); ++i) expect_type(s["type_protos"][i], *a.type_protos[i]);
  }
}

void expect_nodes(const json& s, const ir::Graph& g) {
  ASSERT_EQ(g.nodes.size(), s.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node& n = g.nodes[i];
    const json& sn = s[i];
    SCOPED_TRACE(n.label(i));
    EXPECT_EQ(n.op_type, sn["op_type"].get<std::string>());
    EXPECT_EQ(n.domain, sn["domain"].get<std::string>());
    EXPECT_EQ(n.name, sn["name"].get<std::string>());
    EXPECT_EQ(value_names(g, n.inputs), sn["inputs"].get<std::vector<std::string>>());
    EXPECT_EQ(value_names(g, n.outputs), sn["outputs"].get<std::vector<std::string>>());
    ASSERT_EQ(n.attributes.size(), sn["attributes"].size());
    for (size_t k = 0; k < n.attributes.size(); ++k) expect_attribute(sn["attributes"][k], n.attributes[k]);
  }
}

// The digest make_fixtures.py computes over a graph's nodes.
uint32_t nodes_digest(const ir::Graph& g) {
  std::string text;
  for (const ir::Node& n : g.nodes) {
    const auto join = [](const std::vector<std::string>& v) {
      std::string r;
      for (size_t i = 0; i < v.size(); ++i) r += (i ? "," : "") + v[i];
      return r;
    };
    std::vector<std::string> attrs;
    for (const ir::Attribute& a : n.attributes) attrs.push_back(a.name + ":" + std::to_string(int(a.type)));
    text += n.op_type + "(" + join(value_names(g, n.inputs)) + ")->" + join(value_names(g, n.outputs)) + "[" + join(attrs) + "];";
  }
  return crc32(text.data(), text.size());
}

void expect_value_infos(const json& s, const ir::Graph& g, const std::vector<int>& ids) {
  ASSERT_EQ(ids.size(), s.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE("value " + s[i]["name"].get<std::string>());
    EXPECT_EQ(g.value(ids[i]).name, s[i]["name"].get<std::string>());
    expect_type(s[i]["type"], g.value(ids[i]).type);
  }
}

void expect_graph(const json& s, const ir::Graph& g) {
  SCOPED_TRACE("graph " + g.name);
  EXPECT_EQ(g.name, s["name"].get<std::string>());
  expect_value_infos(s["inputs"], g, g.inputs);
  expect_value_infos(s["outputs"], g, g.outputs);
  expect_value_infos(s["value_info"], g, g.value_infos);
  EXPECT_EQ(g.initializers.size(), s["initializers"].size());
  for (const json& t : s["initializers"]) {
    int id = g.find(t["name"].get<std::string>());
    ASSERT_GE(id, 0) << t["name"];
    ASSERT_TRUE(g.is_initializer(id)) << t["name"];
    SCOPED_TRACE("initializer " + t["name"].get<std::string>());
    expect_tensor(t, g.initializers.at(id));
  }
  EXPECT_EQ(g.nodes.size(), s["node_count"].get<size_t>());
  EXPECT_EQ(nodes_digest(g), s["nodes_crc32"].get<uint32_t>());
  if (s.contains("nodes")) expect_nodes(s["nodes"], g);
  std::vector<std::string> refs = value_names(g, g.outer_refs);
  std::sort(refs.begin(), refs.end());
  EXPECT_EQ(refs, s["outer_refs"].get<std::vector<std::string>>());
}

void expect_model(const json& s, const ir::Model& m) {
  EXPECT_EQ(m.ir_version, s["ir_version"].get<int64_t>());
  ASSERT_EQ(m.opsets.size(), s["opsets"].size());
  for (size_t i = 0; i < m.opsets.size(); ++i) {
    EXPECT_EQ(m.opsets[i].domain, s["opsets"][i][0].get<std::string>());
    EXPECT_EQ(m.opsets[i].version, s["opsets"][i][1].get<int64_t>());
  }
  EXPECT_EQ(m.producer_name, s["producer_name"].get<std::string>());
  EXPECT_EQ(m.producer_version, s["producer_version"].get<std::string>());
  EXPECT_EQ(m.domain, s["domain"].get<std::string>());
  EXPECT_EQ(m.model_version, s["model_version"].get<int64_t>());
  EXPECT_EQ(m.doc_string, s["doc_string"].get<std::string>());
  EXPECT_EQ(m.metadata.size(), s["metadata"].size());
  for (size_t i = 0; i < m.metadata.size() && i < s["metadata"].size(); ++i) {
    EXPECT_EQ(m.metadata[i].first, s["metadata"][i][0].get<std::string>());
    EXPECT_EQ(m.metadata[i].second, s["metadata"][i][1].get<std::string>());
  }
  ASSERT_TRUE(m.graph);
  expect_graph(s["graph"], *m.graph);
  ASSERT_EQ(m.functions.size(), s["functions"].size());
  for (size_t i = 0; i < m.functions.size(); ++i) {
    const ir::Function& f = m.functions[i];
    const json& sf = s["functions"][i];
    SCOPED_TRACE("function " + f.name);
    EXPECT_EQ(f.name, sf["name"].get<std::string>());
    EXPECT_EQ(f.domain, sf["domain"].get<std::string>());
    EXPECT_EQ(f.inputs, sf["inputs"].get<std::vector<std::string>>());
    EXPECT_EQ(f.outputs, sf["outputs"].get<std::vector<std::string>>());
    EXPECT_EQ(f.attributes, sf["attributes"].get<std::vector<std::string>>());
    ASSERT_EQ(f.attribute_defaults.size(), sf["attribute_defaults"].size());
    for (size_t k = 0; k < f.attribute_defaults.size(); ++k)
      expect_attribute(sf["attribute_defaults"][k], f.attribute_defaults[k]);
    ASSERT_TRUE(f.body);
    expect_nodes(sf["nodes"], *f.body);
    EXPECT_EQ(value_names(*f.body, f.body->inputs), f.inputs);
    EXPECT_EQ(value_names(*f.body, f.body->outputs), f.outputs);
    ASSERT_EQ(f.opsets.size(), sf["opsets"].size());
  }
}

}  // namespace

TEST(OnnxManifest, EveryModelLoadsAsOnnxReadsItAndSurvivesAWriteAndReload) {
  size_t loaded = 0, refused = 0, missing = 0;
  for (const json& e : manifest()["models"]) {
    fs::path p = entry_path(e);
    if (p.empty()) {
      ++missing;
      continue;
    }
    SCOPED_TRACE(p.string());
    if (mentions_unsupported_type(e)) {
      expect_error([&] { onnx::load_model(p.string()); }, ErrorCode::kUnsupported, {"kiln"});
      ++refused;
      continue;
    }
    ir::Model m;
    try {
      m = onnx::load_model(p.string());
    } catch (const Error& err) {
      ADD_FAILURE() << err.what();
      continue;
    }
    expect_model(e, m);
    EXPECT_EQ(m.path, p.string());
    ir::Model again = onnx::load_model_from_bytes(onnx::serialize_model(m));
    {
      SCOPED_TRACE("after serialize_model and load_model_from_bytes");
      expect_model(e, again);
    }
    ++loaded;
  }
  EXPECT_GE(loaded, 10u);
  if (missing) std::cout << "[ note ] " << missing << " models of the venv's onnx test data were not found\n";
  std::cout << "[ info ] " << loaded << " models loaded, " << refused << " refused as unsupported\n";
}

TEST(OnnxManifest, EveryTensorFileLoadsAsNumpyHelperReadsIt) {
  size_t loaded = 0;
  for (const json& e : manifest()["tensors"]) {
    fs::path p = entry_path(e);
    if (p.empty()) continue;
    SCOPED_TRACE(p.string());
    if (!dtype_is_supported(static_cast<DType>(e["data_type"].get<int>()))) {
      expect_error([&] { onnx::load_tensor_file(p.string()); }, ErrorCode::kUnsupported, {"which kiln cannot hold"});
      continue;
    }
    Tensor t = onnx::load_tensor_file(p.string());
    expect_tensor(e, t);
    EXPECT_TRUE(t.owns_memory());
    // The same through parse_tensor, and through serialize_tensor and back.
    Tensor u = onnx::parse_tensor(read_file(p));
    expect_tensor(e, u);
    Tensor v = onnx::parse_tensor(onnx::serialize_tensor(t, "again"));
    expect_tensor(e, v);
    ++loaded;
  }
  EXPECT_GE(loaded, 20u);
}

TEST(OnnxManifest, NodeTestInputsMatchKnownValues) {
  // A spot check that does not go through the manifest: test_abs's input and output agree elementwise.
  fs::path dir = onnx_fixture_dir() / "node" / "test_abs" / "test_data_set_0";
  Tensor x = onnx::load_tensor_file((dir / "input_0.pb").string());
  Tensor y = onnx::load_tensor_file((dir / "output_0.pb").string());
  ASSERT_EQ(x.dtype(), DType::kFloat32);
  ASSERT_EQ(x.dims(), y.dims());
  ASSERT_GT(x.numel(), 0);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(std::abs(x.data<float>()[i]), y.data<float>()[i]);
}
