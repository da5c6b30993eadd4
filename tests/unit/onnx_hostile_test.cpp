// Untrusted model bytes: empty, text, other formats, random, truncated and corrupted files, and tensors whose
// sizes lie. Each must give a clear kiln::Error; none may crash or hang.
#include <gtest/gtest.h>

#include <random>

#include "onnx/loader.h"
#include "onnx/tensor_io.h"
#include "onnx/writer.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::testing;
using onnx::WireWriter;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// Loads `b`, expecting a refusal of `code` whose message holds `parts`.
void expect_model_error(const std::vector<uint8_t>& b, ErrorCode code, const std::vector<std::string>& parts) {
  expect_error([&] { onnx::load_model_from_bytes(b); }, code, parts);
}

std::vector<uint8_t> model_with(const std::vector<uint8_t>& tensor) {
  return ProtoBuilder::model_with_initializers({tensor});
}

// Loading must end in success or a kiln::Error that is not an internal error: never a crash or another
// exception type.
void load_survives(const std::vector<uint8_t>& b) {
  try {
    onnx::load_model_from_bytes(b);
  } catch (const Error& e) {
    EXPECT_NE(e.code(), ErrorCode::kInternal) << e.what();
  }
}

std::vector<uint8_t> small_valid_model() {
  return read_file(onnx_fixture_dir() / "custom" / "all_features.onnx");
}

}  // namespace

TEST(OnnxHostile, EmptyTextAndOtherFormatsAreNamed) {
  expect_model_error({}, ErrorCode::kInvalidModel, {"not an ONNX model: the file is empty"});
  expect_model_error(bytes_of("ir_version: 8\ngraph {\n  node { op_type: \"Relu\" }\n}\n"), ErrorCode::kInvalidModel,
                     {"not an ONNX model", "looks like text"});
  expect_model_error(bytes_of("{\"irVersion\": \"8\"}"), ErrorCode::kInvalidModel, {"looks like text"});
  expect_model_error(bytes_of(std::string("PK\x03\x04\x14\x00\x00\x00", 8)), ErrorCode::kInvalidModel,
                     {"zip archive", "torch.onnx.export"});
  expect_model_error(bytes_of(std::string("\x89HDF\r\n\x1a\n\0\0", 10)), ErrorCode::kInvalidModel, {"HDF5"});
  TempDir dir;
  write_file(dir.path() / "empty.onnx", {});
  expect_error([&] { onnx::load_model(dir / "empty.onnx"); }, ErrorCode::kInvalidModel,
               {"empty.onnx", "the file is empty"});
  expect_error([&] { onnx::load_model(dir / "missing.onnx"); }, ErrorCode::kIo, {"missing.onnx"});
  expect_error([&] { onnx::load_model(dir.path().string()); }, ErrorCode::kIo, {"not a regular file"});
}

TEST(OnnxHostile, IrVersionIsChecked) {
  WireWriter w;
  w.int64_field(1, 0);
  size_t g = w.begin_message(7);
  w.end_message(g);
  expect_model_error(w.take(), ErrorCode::kInvalidModel, {"IR version 0 is not valid"});
  expect_model_error(ProtoBuilder::model_with_initializers({}, 15), ErrorCode::kUnsupported,
                     {"IR version 15 is newer than kiln knows (up to 14)"});
  expect_model_error(ProtoBuilder::model_with_initializers({}, -3), ErrorCode::kInvalidModel, {"IR version -3"});
  WireWriter no_graph;
  no_graph.int64_field(1, 8);
  expect_model_error(no_graph.take(), ErrorCode::kInvalidModel, {"no graph"});
  // Versions 1 to 14 load.
  for (int64_t v : {1, 3, 8, 11, 14}) EXPECT_EQ(onnx::load_model_from_bytes(ProtoBuilder::model_with_initializers({}, v)).ir_version, v);
}

TEST(OnnxHostile, RandomBytesNeverCrash) {
  std::mt19937 rng(1234);
  size_t refused = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> b(1 + rng() % 300);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (i % 2) b[0] = 0x08;  // half of them start like a model, to get past the first field
    try {
      onnx::load_model_from_bytes(b);
    } catch (const Error& e) {
      EXPECT_NE(e.code(), ErrorCode::kInternal) << e.what();
      ++refused;
    }
  }
  EXPECT_EQ(refused, 2000u);  // random bytes lack a graph, if nothing else
  std::vector<uint8_t> noise(64, 0xab);
  expect_model_error(noise, ErrorCode::kInvalidModel, {"not an ONNX model"});
}

TEST(OnnxHostile, EveryTruncationOfAValidModelIsRefusedCleanly) {
  std::vector<uint8_t> full = small_valid_model();
  ASSERT_GT(full.size(), 1000u);
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> b(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    load_survives(b);
  }
  // The graph is field 7 near the start; cutting the file inside it names the field and the place.
  std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(full.size() / 2));
  expect_model_error(cut, ErrorCode::kInvalidModel, {"truncated field", "of ModelProto at byte"});
}

TEST(OnnxHostile, CorruptedBytesNeverCrash) {
  std::vector<uint8_t> full = small_valid_model();
  ASSERT_GT(full.size(), 1000u);
  std::mt19937 rng(99);
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> b = full;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    load_survives(b);
  }
}

TEST(OnnxHostile, TensorSizesMustAgree) {
  const auto raw = [](size_t n) {
    return [n](WireWriter& w) { w.bytes_field(9, std::vector<uint8_t>(n, 0)); };
  };
  expect_model_error(model_with(ProtoBuilder::tensor({4}, 1, "w", raw(12))), ErrorCode::kInvalidModel,
                     {"tensor 'w'", "raw_data holds 12 bytes but dims [4] of float need 16"});
  expect_model_error(model_with(ProtoBuilder::tensor({4}, 1, "w", raw(20))), ErrorCode::kInvalidModel,
                     {"raw_data holds 20 bytes"});
  expect_model_error(model_with(ProtoBuilder::tensor({2, -3}, 1, "w", raw(0))), ErrorCode::kInvalidModel,
                     {"tensor 'w' has negative dim 1 = -3"});
  expect_model_error(model_with(ProtoBuilder::tensor({int64_t{1} << 40, int64_t{1} << 40}, 1, "w", raw(4))),
                     ErrorCode::kInvalidModel, {"tensor 'w'", "element count", "overflows"});
  expect_model_error(model_with(ProtoBuilder::tensor({int64_t{1} << 62, 4}, 6, "w", raw(4))), ErrorCode::kInvalidModel,
                     {"tensor 'w'", "overflows 64 bits"});
  // Huge dims with no data: refused before anything is allocated.
  expect_model_error(model_with(ProtoBuilder::tensor({int64_t{1} << 40}, 1, "w")), ErrorCode::kInvalidModel,
                     {"carries no data"});
  expect_model_error(model_with(ProtoBuilder::tensor({int64_t{1} << 40}, 1, "w",
                                                     [](WireWriter& w) { w.packed_floats(4, std::vector<float>{1}); })),
                     ErrorCode::kInvalidModel, {"float_data holds 1 elements but dims [1099511627776] need"});
  expect_model_error(model_with(ProtoBuilder::tensor({4}, 1, "w",
                                                     [](WireWriter& w) { w.packed_floats(4, std::vector<float>{1, 2, 3}); })),
                     ErrorCode::kInvalidModel, {"float_data holds 3 elements but dims [4] need 4"});
  expect_model_error(model_with(ProtoBuilder::tensor({2}, 1, "w",
                                                     [](WireWriter& w) { w.packed_varints(7, std::vector<int64_t>{1, 2}); })),
                     ErrorCode::kInvalidModel, {"stores data in int64_data", "float_data"});
  expect_model_error(model_with(ProtoBuilder::tensor({1}, 1, "w", [](WireWriter& w) {
                       w.bytes_field(9, std::vector<uint8_t>(4));
                       w.packed_floats(4, std::vector<float>{1});
                     })),
                     ErrorCode::kInvalidModel, {"both in raw_data and in float_data"});
  expect_model_error(model_with(ProtoBuilder::tensor({1}, 8, "s", raw(4))), ErrorCode::kInvalidModel,
                     {"holds strings but stores them in raw_data"});
}

TEST(OnnxHostile, DataTypesAreChecked) {
  expect_model_error(model_with(ProtoBuilder::tensor({1}, 99, "w")), ErrorCode::kInvalidModel,
                     {"tensor 'w' has data type 99, which is not an ONNX type"});
  expect_model_error(model_with(ProtoBuilder::tensor({1}, 0, "w")), ErrorCode::kInvalidModel,
                     {"tensor 'w' has no data type"});
  expect_model_error(model_with(ProtoBuilder::tensor({1}, 14, "w")), ErrorCode::kUnsupported,
                     {"tensor 'w'", "complex64", "kiln cannot hold"});
  expect_model_error(model_with(ProtoBuilder::tensor({1}, 22, "w")), ErrorCode::kUnsupported, {"int4"});
  expect_model_error(model_with(ProtoBuilder::tensor({1}, 25, "w")), ErrorCode::kUnsupported, {"uint2"});
  expect_error([] { onnx::parse_tensor(ProtoBuilder::tensor({1}, 17, "f8")); }, ErrorCode::kUnsupported,
               {"float8e4m3fn"});
  expect_error([] { onnx::parse_tensor({}); }, ErrorCode::kInvalidModel, {"empty"});
}

TEST(OnnxHostile, StructuralErrorsAreNamed) {
  // Two initializers with one name.
  auto t = ProtoBuilder::tensor({1}, 1, "w", [](WireWriter& w) { w.bytes_field(9, std::vector<uint8_t>(4)); });
  expect_model_error(ProtoBuilder::model_with_initializers({t, t}), ErrorCode::kInvalidModel,
                     {"two initializers called 'w'"});
  // An unnamed initializer.
  auto unnamed = ProtoBuilder::tensor({1}, 1, "", [](WireWriter& w) { w.bytes_field(9, std::vector<uint8_t>(4)); });
  expect_model_error(ProtoBuilder::model_with_initializers({unnamed}), ErrorCode::kInvalidModel, {"has no name"});
  // A node without op_type; an attribute without a name; a node listing an attribute twice.
  const auto model_with_node = [](const std::function<void(WireWriter&)>& node) {
    WireWriter w;
    w.int64_field(1, 8);
    size_t g = w.begin_message(7);
    size_t n = w.begin_message(1);
    node(w);
    w.end_message(n);
    w.end_message(g);
    return w.take();
  };
  expect_model_error(model_with_node([](WireWriter& w) { w.string_field(3, "n1"); }), ErrorCode::kInvalidModel,
                     {"node 'n1'", "has no op_type"});
  expect_model_error(model_with_node([](WireWriter& w) {
                       w.string_field(4, "Relu");
                       size_t a = w.begin_message(5);
                       w.int64_field(3, 1);
                       w.end_message(a);
                     }),
                     ErrorCode::kInvalidModel, {"attribute at byte", "has no name"});
  expect_model_error(model_with_node([](WireWriter& w) {
                       w.string_field(4, "Relu");
                       for (int i = 0; i < 2; ++i) {
                         size_t a = w.begin_message(5);
                         w.string_field(1, "axis");
                         w.int64_field(3, i);
                         w.int64_field(20, 2);
                         w.end_message(a);
                       }
                     }),
                     ErrorCode::kInvalidModel, {"attribute 'axis' twice"});
  expect_model_error(model_with_node([](WireWriter& w) {
                       w.string_field(4, "If");
                       size_t a = w.begin_message(5);
                       w.string_field(1, "then_branch");
                       w.int64_field(20, 5);
                       w.end_message(a);
                     }),
                     ErrorCode::kInvalidModel, {"attribute 'then_branch' has type graph but holds no graph"});
  expect_model_error(model_with_node([](WireWriter& w) {
                       w.string_field(4, "X");
                       size_t a = w.begin_message(5);
                       w.string_field(1, "k");
                       w.int64_field(20, 42);
                       w.end_message(a);
                     }),
                     ErrorCode::kInvalidModel, {"attribute 'k' has type 42"});
  // Attributes without AttributeProto.type (IR version 1 files) take the type of the field they fill.
  ir::Model m = onnx::load_model_from_bytes(model_with_node([](WireWriter& w) {
    w.string_field(4, "Relu");
    size_t a = w.begin_message(5);
    w.string_field(1, "alpha");
    w.float_field(2, 0.25f);
    w.end_message(a);
  }));
  ASSERT_EQ(m.graph->nodes.at(0).attributes.size(), 1u);
  EXPECT_EQ(m.graph->nodes[0].attributes[0].type, ir::AttrType::kFloat);
  EXPECT_EQ(m.graph->nodes[0].attributes[0].f, 0.25f);
}

TEST(OnnxHostile, UnknownFieldsAreSkipped) {
  // Fields ONNX may add later, of every wire type, at model, graph, node and tensor level.
  const auto unknown = [](WireWriter& w) {
    w.varint_field(99, 5);
    w.float_field(100, 1.0f);
    w.double_field(101, 2.0);
    w.string_field(102, "future");
  };
  WireWriter w;
  w.int64_field(1, 9);
  unknown(w);
  size_t g = w.begin_message(7);
  unknown(w);
  size_t n = w.begin_message(1);
  w.string_field(1, "w");
  w.string_field(2, "y");
  w.string_field(4, "Relu");
  unknown(w);
  w.end_message(n);
  size_t t = w.begin_message(5);
  w.int64_field(1, 2);
  w.int64_field(2, 1);
  w.string_field(8, "w");
  unknown(w);
  w.bytes_field(9, std::vector<uint8_t>(8));
  w.end_message(t);
  w.end_message(g);
  ir::Model m = onnx::load_model_from_bytes(w.take());
  ASSERT_EQ(m.graph->nodes.size(), 1u);
  EXPECT_EQ(m.graph->nodes[0].op_type, "Relu");
  EXPECT_EQ(m.graph->initializers.at(m.graph->find("w")).dims(), (std::vector<int64_t>{2}));
}

TEST(OnnxHostile, NestingIsLimited) {
  // If nodes nested 40 deep, built with the writer.
  auto leaf = std::make_shared<ir::Graph>();
  leaf->name = "leaf";
  leaf->outputs.push_back(leaf->intern("x"));
  std::shared_ptr<ir::Graph> g = leaf;
  for (int depth = 0; depth < 40; ++depth) {
    auto parent = std::make_shared<ir::Graph>();
    parent->name = "level" + std::to_string(depth);
    ir::Node n;
    n.op_type = "If";
    n.inputs.push_back(parent->intern("cond"));
    n.outputs.push_back(parent->intern("out"));
    ir::Attribute a;
    a.name = "then_branch";
    a.type = ir::AttrType::kGraph;
    a.g = g;
    n.attributes.push_back(a);
    parent->nodes.push_back(n);
    parent->outputs.push_back(parent->find("out"));
    g = parent;
  }
  ir::Model m;
  m.graph = g;
  std::vector<uint8_t> b = onnx::serialize_model(m);
  expect_model_error(b, ErrorCode::kLimitExceeded, {"nested more than 32 deep"});
  ir::Model deep = onnx::load_model_from_bytes(b, {.max_nesting = 64});
  // "x" is read by the innermost graph and defined nowhere: every level captures it from outside.
  const ir::Graph* inner = deep.graph.get();
  for (int depth = 0; depth < 40; ++depth) inner = inner->nodes.at(0).attributes.at(0).g.get();
  ASSERT_EQ(inner->outer_refs.size(), 1u);
  EXPECT_EQ(inner->value(inner->outer_refs[0]).name, "x");
  EXPECT_TRUE(deep.graph->outer_refs.empty());  // the main graph has no enclosing scope

  // Sequence types nested 40 deep.
  WireWriter w;
  w.int64_field(1, 8);
  size_t gm = w.begin_message(7);
  size_t vi = w.begin_message(11);
  w.string_field(1, "s");
  std::vector<size_t> marks;
  for (int i = 0; i < 40; ++i) {
    marks.push_back(w.begin_message(i == 0 ? 2 : 1));  // ValueInfoProto.type, then Sequence.elem_type
    marks.push_back(w.begin_message(4));               // TypeProto.sequence_type
  }
  for (auto it = marks.rbegin(); it != marks.rend(); ++it) w.end_message(*it);
  w.end_message(vi);
  w.end_message(gm);
  expect_model_error(w.take(), ErrorCode::kLimitExceeded, {"graph input 's'", "nests more than 32 levels"});
}

TEST(OnnxHostile, SparseInitializersAreDensifiedOrRefused) {
  const auto sparse_model = [](std::vector<int64_t> dims, std::vector<int64_t> idx, std::vector<int64_t> idx_dims) {
    WireWriter w;
    w.int64_field(1, 8);
    size_t g = w.begin_message(7);
    size_t sp = w.begin_message(15);
    size_t v = w.begin_message(1);
    std::vector<float> values(idx_dims.empty() ? 0 : static_cast<size_t>(idx_dims[0]), 7.0f);
    w.int64_field(1, static_cast<int64_t>(values.size()));
    w.int64_field(2, 1);
    w.string_field(8, "sp");
    w.packed_floats(4, values);
    w.end_message(v);
    size_t i = w.begin_message(2);
    for (int64_t d : idx_dims) w.int64_field(1, d);
    w.int64_field(2, 7);
    w.packed_varints(7, idx);
    w.end_message(i);
    for (int64_t d : dims) w.int64_field(3, d);
    w.end_message(sp);
    w.end_message(g);
    return w.take();
  };
  ir::Model m = onnx::load_model_from_bytes(sparse_model({3, 4}, {1, 2, 2, 3}, {2, 2}));
  const Tensor& d = m.graph->initializers.at(m.graph->find("sp"));
  ASSERT_EQ(d.dims(), (std::vector<int64_t>{3, 4}));
  for (int64_t k = 0; k < 12; ++k) EXPECT_EQ(d.data<float>()[k], (k == 6 || k == 11) ? 7.0f : 0.0f) << k;
  expect_model_error(sparse_model({3, 4}, {12}, {1}), ErrorCode::kInvalidModel, {"sparse tensor 'sp'", "outside 12"});
  expect_model_error(sparse_model({3, 4}, {1, 4}, {1, 2}), ErrorCode::kInvalidModel, {"on axis 1", "outside dim 4"});
  expect_model_error(sparse_model({3, 4}, {0, 1, 2, 0, 1, 2}, {2, 3}), ErrorCode::kInvalidModel,
                     {"indices have shape [2,3]", "ONNX needs [2] or [2,2]"});
  expect_model_error(sparse_model({int64_t{1} << 40, 1 << 20}, {0}, {1}), ErrorCode::kLimitExceeded,
                     {"sparse tensor 'sp'", "densified"});
  expect_model_error(sparse_model({-1}, {}, {0}), ErrorCode::kInvalidModel, {"negative dim"});
}

TEST(OnnxHostile, BoolBytesOtherThanZeroOrOneAreNormalised) {
  auto t = ProtoBuilder::tensor({3}, 9, "b", [](WireWriter& w) { w.bytes_field(9, std::vector<uint8_t>{0, 1, 7}); });
  ir::Model m = onnx::load_model_from_bytes(model_with(t));
  const Tensor& b = m.graph->initializers.at(m.graph->find("b"));
  EXPECT_TRUE(b.owns_memory());  // copied, since a view would hold a bool byte of 7
  const auto* p = static_cast<const uint8_t*>(b.raw_data());
  EXPECT_EQ(std::vector<uint8_t>(p, p + 3), (std::vector<uint8_t>{0, 1, 1}));
}
