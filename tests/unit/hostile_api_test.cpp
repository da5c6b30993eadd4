// Hostile and mistaken models through the public C++ API (Session::from_file / from_bytes / run): every class
// of tests/hostile/make_hostile_models.py, built here with kiln's own writer (or by hand where the writer would
// never produce the bytes), asserting the ErrorCode and the words that say what was wrong and where. Also the
// run controls: cancellation from another thread, a deadline, the memory limits, max_subgraph_runs and
// max_run_macs.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "api/model_check.h"
#include "kiln/session.h"
#include "onnx/writer.h"
#include "graph_builder.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

std::vector<uint8_t> bytes_of(const ir::Model& m) { return onnx::serialize_model(m); }
std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

Session load(const ir::Model& m, const SessionOptions& options = {}) {
  std::vector<uint8_t> b = bytes_of(m);
  return Session::from_bytes(b, options);
}

void expect_load_error(const std::vector<uint8_t>& b, ErrorCode code, const std::vector<std::string>& parts) {
  expect_error([&] { Session::from_bytes(b); }, code, parts);
}

Tensor i64s(std::vector<int64_t> dims, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(dims, v); }

// x (float [2,3]) -> Relu -> y: a valid model that the unreadable cases spoil.
ir::Model relu_model() {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {2, 3});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", DType::kFloat32, {2, 3});
  return model_of(b);
}

// A Loop with trip count 2^63-1 whose body hands its condition (true) straight back: it never ends by itself.
ir::Model endless_loop_model() {
  GraphBuilder body("forever");
  body.input("i", DType::kInt64, {});
  body.input("cond_in", DType::kBool, {});
  body.input("v_in", DType::kFloat32, {1});
  body.initializer("one", Tensor::from_vector<float>({1}, {1.0f}));
  body.node("Identity", {"cond_in"}, {"cond_out"}, "keep_going");
  body.node("Add", {"v_in", "one"}, {"v_out"}, "count");
  body.output("cond_out", DType::kBool, {});
  body.output("v_out", DType::kFloat32, {1});
  GraphBuilder b;
  b.input("v0", DType::kFloat32, {1});
  b.initializer("trip_count", Tensor::scalar<int64_t>(INT64_MAX));
  b.initializer("cond", Tensor::scalar<bool>(true));
  b.node("Loop", {"trip_count", "cond", "v0"}, {"v"}, "endless_loop").attributes.push_back(
      graph_attr("body", body.g));
  b.output("v", DType::kFloat32, {1});
  return model_of(b);
}

NamedTensors megabyte_feeds(int64_t trips) {
  return {{"v0", Tensor(DType::kFloat32, {256, 1024})}, {"trip_count", Tensor::scalar<int64_t>(trips)}};
}

NamedTensors loop_feeds() { return {{"v0", Tensor::from_vector<float>({1}, {0.0f})}}; }

// An If whose then-branch is an If ... `depth` levels deep; every branch ends returning the outer `x`.
ir::Model nested_if_model(int depth) {
  auto leaf = [](const std::string& out) {
    GraphBuilder l("leaf");
    l.node("Identity", {"x"}, {out}, "");
    l.output(out, DType::kFloat32, {2});
    return l.g;
  };
  std::shared_ptr<ir::Graph> inner = leaf("out" + std::to_string(depth));
  for (int level = depth - 1; level >= 0; --level) {
    const std::string out = level == 0 ? "y" : "out" + std::to_string(level);
    GraphBuilder lb(level == 0 ? "main" : "level" + std::to_string(level));
    if (level == 0) {
      lb.input("cond", DType::kBool, {});
      lb.input("x", DType::kFloat32, {2});
    }
    ir::Node& n = lb.node("If", {"cond"}, {out}, "if" + std::to_string(level));
    n.attributes.push_back(graph_attr("then_branch", inner));
    n.attributes.push_back(graph_attr("else_branch", leaf(out)));
    lb.output(out, DType::kFloat32, {2});
    inner = lb.g;
  }
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = inner;
  return m;
}

// A model whose single graph holds one hand-built initializer (TensorProto bytes).
std::vector<uint8_t> initializer_model(const std::vector<int64_t>& dims, int32_t type,
                                       const std::vector<uint8_t>& raw) {
  return ProtoBuilder::model_with_initializers({ProtoBuilder::tensor(dims, type, "W", [&](onnx::WireWriter& w) {
    w.bytes_field(9, raw);
  })});
}

}  // namespace

TEST(HostileApi, FilesThatAreNotWholeModelsAreRefused) {
  expect_load_error({}, ErrorCode::kInvalidModel, {"not an ONNX model: the file is empty"});
  expect_load_error(bytes_of("ir_version: 8\ngraph { node { op_type: \"Relu\" } }\n"), ErrorCode::kInvalidModel,
                    {"not an ONNX model", "looks like text"});
  GraphBuilder b;
  b.input("x", DType::kFloat32, {256});
  std::vector<float> w(256, 0.5f);
  b.initializer("w", Tensor::from_vector<float>({256}, w));
  b.node("Add", {"x", "w"}, {"y"}, "add");
  b.output("y", DType::kFloat32, {256});
  std::vector<uint8_t> full = bytes_of(model_of(b));
  std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(full.size() * 2 / 3));
  expect_load_error(cut, ErrorCode::kInvalidModel, {"the file ends before the model does", "truncated"});
  std::vector<uint8_t> noise(4096);
  uint32_t s = 1234;
  for (auto& byte : noise) byte = static_cast<uint8_t>((s = s * 1664525u + 1013904223u) >> 24);
  noise[0] = 0x5a;  // not ir_version's tag
  expect_load_error(noise, ErrorCode::kInvalidModel, {"not an ONNX model"});
  ir::Model m = relu_model();
  m.ir_version = 0;
  // The writer turns 0 into its default, so the IR version is patched in the bytes: field 1 comes first.
  std::vector<uint8_t> zero = bytes_of(m);
  ASSERT_EQ(zero[0], 0x08);
  zero[1] = 0;
  expect_load_error(zero, ErrorCode::kInvalidModel, {"IR version 0 is not valid"});
  m.ir_version = 99;
  expect_load_error(bytes_of(m), ErrorCode::kUnsupported, {"IR version 99 is newer than kiln knows"});
}

TEST(HostileApi, TensorsWhoseDimsBytesOrTypeLieAreRefused) {
  expect_load_error(initializer_model({-1, 4}, 1, std::vector<uint8_t>(16)), ErrorCode::kInvalidModel,
                    {"tensor 'W'", "negative dim 0 = -1"});
  expect_load_error(initializer_model({int64_t{1} << 32, int64_t{1} << 32}, 1, std::vector<uint8_t>(16)),
                    ErrorCode::kInvalidModel, {"tensor 'W'", "overflows"});
  expect_load_error(initializer_model({4}, 1, std::vector<uint8_t>(12)), ErrorCode::kInvalidModel,
                    {"tensor 'W'", "raw_data holds 12 bytes", "need 16"});
  expect_load_error(initializer_model({4}, 1, std::vector<uint8_t>(20)), ErrorCode::kInvalidModel,
                    {"tensor 'W'", "raw_data holds 20 bytes", "need 16"});
  expect_load_error(initializer_model({4}, 99, std::vector<uint8_t>(16)), ErrorCode::kInvalidModel,
                    {"tensor 'W'", "data type 99"});
  // A graph input may not declare more elements than int64 counts either.
  GraphBuilder b;
  b.input("x", DType::kFloat32, {int64_t{1} << 32, int64_t{1} << 32});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", DType::kFloat32, {Dim()});
  expect_load_error(bytes_of(model_of(b)), ErrorCode::kInvalidModel,
                    {"input 'x' declares dims [4294967296,4294967296]", "overflows 64 bits"});
}

TEST(HostileApi, ExternalDataNeverLeavesTheModelsFolder) {
  TempDir dir;
  const fs::path outside = dir.path() / "outside", models = dir.path() / "models";
  fs::create_directories(outside);
  fs::create_directories(models / "a");
  const std::vector<uint8_t> secret(64, 0x5e);
  write_file(outside / "secret.bin", secret);
  write_file(outside / "linked.bin", secret);
  write_file(models / "inside.bin", std::vector<uint8_t>(64, 0));
  fs::create_directory_symlink("../outside", models / "data");
  fs::create_symlink("../outside/secret.bin", models / "link.bin");
  fs::create_hard_link(outside / "linked.bin", models / "hard.bin");
  using Entries = std::vector<std::pair<std::string, std::string>>;
  auto attempt = [&](const Entries& entries, const std::vector<std::string>& parts) {
    write_file(models / "model.onnx",
               ProtoBuilder::model_with_initializers({ProtoBuilder::external_tensor({16}, "W", entries)}));
    expect_error([&] { Session::from_file((models / "model.onnx").string()); }, ErrorCode::kInvalidModel, parts);
  };
  attempt({{"location", (outside / "secret.bin").string()}}, {"tensor 'W'", "is an absolute path"});
  attempt({{"location", "../outside/secret.bin"}}, {"'../outside/secret.bin' is refused", "'..'"});
  attempt({{"location", "a/../../outside/secret.bin"}}, {"'a/../../outside/secret.bin' is refused", "'..'"});
  attempt({{"location", "data/secret.bin"}}, {"folder 'data' is a symbolic link"});
  attempt({{"location", "link.bin"}}, {"'link.bin' is refused", "symbolic link"});
  attempt({{"location", "hard.bin"}}, {"'hard.bin' is refused", "2 hard links"});
  attempt({{"location", "inside.bin"}, {"offset", "-8"}}, {"offset '-8'", "not a non-negative decimal number"});
  attempt({{"location", "inside.bin"}, {"offset", "4611686018427387904"}},
          {"offset 4611686018427387904 is past the end of 'inside.bin' (64 bytes)"});
  attempt({{"location", "inside.bin"}, {"length", "4611686018427387904"}},
          {"length 4611686018427387904 is past the end"});
  attempt({{"location", "inside.bin"}, {"offset", "32"}, {"length", "64"}},
          {"offset 32 + length 64 is past the end of 'inside.bin' (64 bytes)"});
  attempt({{"location", "inside.bin"}, {"owner", "x"}}, {"unknown external data key 'owner'"});
  attempt({{"location", "inside.bin"}, {"offset", "0"}, {"offset", "8"}}, {"key 'offset' appears twice"});
  // The control: the file inside the folder loads. From bytes there is no folder, so it is refused.
  std::vector<uint8_t> ok = ProtoBuilder::model_with_initializers(
      {ProtoBuilder::external_tensor({16}, "W", {{"location", "inside.bin"}})});
  write_file(models / "model.onnx", ok);
  EXPECT_NO_THROW(Session::from_file((models / "model.onnx").string()));
  expect_load_error(ok, ErrorCode::kInvalidModel, {"tensor 'W'", "loaded from bytes"});
  // The secret was never touched: still the same bytes, and the hard link still has its two names.
  EXPECT_EQ(read_file(outside / "secret.bin"), secret);
  struct stat st {};
  ASSERT_EQ(stat((outside / "linked.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
}

TEST(HostileApi, MalformedGraphsAreRefusedNamingTheNode) {
  {
    GraphBuilder b;
    b.input("x", DType::kFloat32, {2});
    b.node("Add", {"x", "b"}, {"a"}, "first");
    b.node("Relu", {"a"}, {"b"}, "second");
    b.output("b", DType::kFloat32, {2});
    expect_load_error(bytes_of(model_of(b)), ErrorCode::kInvalidModel, {"cycle", "node 'first' (Add)"});
  }
  {
    GraphBuilder b;
    b.input("x", DType::kFloat32, {2});
    b.node("Add", {"x", "nowhere"}, {"y"}, "add_ghost");
    b.output("y", DType::kFloat32, {2});
    expect_load_error(bytes_of(model_of(b)), ErrorCode::kInvalidModel, {"node 'add_ghost' (Add)", "'nowhere'"});
  }
  {
    GraphBuilder b;
    b.input("x", DType::kFloat32, {2});
    b.node("Relu", {"x"}, {"y"}, "relu_a");
    b.node("Neg", {"x"}, {"y"}, "neg_b");
    b.output("y", DType::kFloat32, {2});
    expect_load_error(bytes_of(model_of(b)), ErrorCode::kInvalidModel,
                      {"value 'y' is produced twice", "node 'relu_a' (Relu)", "node 'neg_b' (Neg)"});
  }
}

TEST(HostileApi, UnknownOpsDomainsAndRecursiveFunctionsAreRefused) {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {2});
  b.node("FancyActivation", {"x"}, {"a"}, "fancy");
  b.node("Relu", {"a"}, {"y"}, "custom_relu", "com.example.custom");
  b.output("y", DType::kFloat32, {2});
  ir::Model m = model_of(b);
  m.opsets.push_back({"com.example.custom", 1});
  // Every problem in one message.
  expect_load_error(bytes_of(m), ErrorCode::kUnsupported,
                    {"2 kinds of node", "FancyActivation x1 (nodes 'fancy')", "not an operator of ONNX's domain 'ai.onnx'",
                     "com.example.custom.Relu x1 (nodes 'custom_relu')", "custom operator domain"});

  GraphBuilder body("Rec");
  body.node("Rec", {"a"}, {"b"}, "call_self", "local.funcs");
  ir::Function fn;
  fn.name = "Rec";
  fn.domain = "local.funcs";
  fn.inputs = {"a"};
  fn.outputs = {"b"};
  fn.opsets = {{"", 17}, {"local.funcs", 1}};
  fn.body = body.g;
  GraphBuilder caller;
  caller.input("x", DType::kFloat32, {2});
  caller.node("Rec", {"x"}, {"y"}, "call_rec", "local.funcs");
  caller.output("y", DType::kFloat32, {2});
  ir::Model rec = model_of(caller);
  rec.opsets.push_back({"local.funcs", 1});
  rec.functions.push_back(fn);
  expect_load_error(bytes_of(rec), ErrorCode::kUnsupported,
                    {"'call_rec'", "local function 'Rec'", "calls itself"});
}

TEST(HostileApi, AttributesOfTheWrongTypeOrMissingAreNamed) {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {2, 3});
  b.node("Transpose", {"x"}, {"y"}, "transpose").attributes.push_back(string_attr("perm", "1,0"));
  b.output("y", DType::kFloat32, {3, 2});
  // Wrong whatever the input: refused when the model is loaded (Transpose checks perm at load).
  expect_load_error(bytes_of(model_of(b)), ErrorCode::kInvalidModel,
                    {"node 'transpose' (Transpose)", "attribute 'perm' must be of type ints", "string"});

  GraphBuilder c;
  c.input("x", DType::kFloat32, {2});
  c.node("Cast", {"x"}, {"y"}, "cast");
  c.output("y", DType::kFloat32, {2});
  Session cast = load(model_of(c));
  expect_error([&] { cast.run({{"x", Tensor(DType::kFloat32, {2})}}); }, ErrorCode::kInvalidModel,
               {"node 'cast' (Cast)", "required attribute 'to' is missing"});
}

TEST(HostileApi, NestingIsLimited) {
  expect_load_error(bytes_of(nested_if_model(40)), ErrorCode::kLimitExceeded, {"nested more than 32 deep"});
  // Within the default limit the nest runs; a lower SessionOptions::max_nesting refuses it.
  std::vector<uint8_t> five = bytes_of(nested_if_model(5));
  Session s = Session::from_bytes(five);
  NamedTensors out = s.run({{"cond", Tensor::scalar<bool>(true)}, {"x", Tensor::from_vector<float>({2}, {3, 4})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].second.data<float>()[1], 4.0f);
  SessionOptions tight;
  tight.max_nesting = 3;
  expect_error([&] { Session::from_bytes(five, tight); }, ErrorCode::kLimitExceeded, {"nested more than 3 deep"});
}

TEST(HostileApi, HugeTensorsAreRefusedBeforeAllocating) {
  constexpr int64_t kHuge = 1'000'000;  // 1e6 x 1e6 = 1e12 elements
  struct Case {
    const char* op;
    std::vector<std::string> inputs;
    const char* bytes;
  };
  for (const Case& c : {Case{"ConstantOfShape", {"shape"}, "4000000000000 bytes"},
                        Case{"Expand", {"x", "shape"}, "4000000000000 bytes"},
                        Case{"Tile", {"x2", "shape"}, "4000000000000 bytes"},
                        Case{"Range", {"start", "limit", "delta"}, "8000000000000 bytes"}}) {
    SCOPED_TRACE(c.op);
    GraphBuilder b;
    b.input("x", DType::kFloat32, {1});
    b.initializer("x2", Tensor::from_vector<float>({1, 1}, {1.0f}));
    b.initializer("shape", i64s({2}, {kHuge, kHuge}));
    b.initializer("start", Tensor::scalar<int64_t>(0));
    b.initializer("limit", Tensor::scalar<int64_t>(kHuge * kHuge));
    b.initializer("delta", Tensor::scalar<int64_t>(1));
    b.node(c.op, c.inputs, {"y"}, "huge");
    b.node("Identity", {"x"}, {"x_out"}, "keep_x");
    b.output_any_shape("y", std::string(c.op) == "Range" ? DType::kInt64 : DType::kFloat32);
    b.output("x_out", DType::kFloat32, {1});
    Session s = load(model_of(b));
    expect_error([&] { s.run({{"x", Tensor::from_vector<float>({1}, {1})}}); }, ErrorCode::kLimitExceeded,
                 {std::string("node 'huge' (") + c.op + ")", c.bytes, "over the limit"});
  }
}

TEST(HostileApi, MemoryLimitsOfSessionOptionsHold) {
  // ConstantOfShape [512,1024] float: 2 MiB, over a 1 MiB tensor limit.
  GraphBuilder b;
  b.initializer("shape", i64s({2}, {512, 1024}));
  b.node("ConstantOfShape", {"shape"}, {"y"}, "fill");
  b.output("y", DType::kFloat32, {512, 1024});
  SessionOptions small;
  small.max_tensor_bytes = 1 << 20;
  Session s = load(model_of(b), small);
  expect_error([&] { s.run({}); }, ErrorCode::kLimitExceeded,
               {"node 'fill' (ConstantOfShape)", "2097152 bytes", "limit of 1048576 bytes for one tensor"});
  EXPECT_EQ(load(model_of(b)).run({})[0].second.numel(), 512 * 1024);  // the default limits allow it

  // Two 1 MiB intermediates alive at once: each under the tensor limit, together over the run's limit.
  GraphBuilder two;
  two.input("x", DType::kFloat32, {1024});
  two.initializer("shape", i64s({2}, {256, 1024}));
  two.node("Expand", {"x", "shape"}, {"a"}, "expand_a");
  two.node("Neg", {"a"}, {"b"}, "neg");
  two.node("Add", {"a", "b"}, {"y"}, "add");
  two.output("y", DType::kFloat32, {256, 1024});
  SessionOptions run_limit;
  run_limit.max_tensor_bytes = 3 << 20;
  run_limit.max_run_bytes = (3 << 20) / 2;
  Session t = load(model_of(two), run_limit);
  expect_error([&] { t.run({{"x", Tensor(DType::kFloat32, {1024})}}); }, ErrorCode::kLimitExceeded,
               {"bytes", "limit of 1572864 bytes"});
  run_limit.max_run_bytes = 4 << 20;
  EXPECT_NO_THROW(load(model_of(two), run_limit).run({{"x", Tensor(DType::kFloat32, {1024})}}));
}

TEST(HostileApi, WorkPastMaxRunMacsIsRefusedBeforeTheNodeRuns) {
  // Two convolutions: 4 filters of 1x3x3 over 8x8 (6x6 out: 144 x 9 = 1296 multiply-adds), then 4 of 4x3x3 over
  // 6x6 (4x4 out: 64 x 36 = 2304). Under a limit of 3000 the first runs and the second is refused, named.
  GraphBuilder b;
  b.input("x", DType::kFloat32, {1, 1, 8, 8});
  b.initializer("w1", Tensor(DType::kFloat32, {4, 1, 3, 3}));
  b.initializer("w2", Tensor(DType::kFloat32, {4, 4, 3, 3}));
  b.node("Conv", {"x", "w1"}, {"h"}, "conv1");
  b.node("Conv", {"h", "w2"}, {"y"}, "conv2");
  b.output("y", DType::kFloat32, {1, 4, 4, 4});
  const NamedTensors feeds{{"x", Tensor(DType::kFloat32, {1, 1, 8, 8})}};
  SessionOptions options;
  options.max_run_macs = 3000;
  Session s = load(model_of(b), options);
  expect_error([&] { s.run(feeds); }, ErrorCode::kLimitExceeded,
               {"node 'conv2' (Conv)", "about 2304 multiply-adds", "limit of 3000", "1296 done before it",
                "max_run_macs"});
  // The count is per run: a limit that fits both lets every run through.
  options.max_run_macs = 3600;
  Session fits = load(model_of(b), options);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fits.run(feeds)[0].second.numel(), 64);
  EXPECT_EQ(load(model_of(b)).run(feeds)[0].second.numel(), 64);  // no limit by default
}

TEST(HostileApi, MaxRunMacsCountsEachHeavyOpAsItsFormulaSays) {
  // One node per model; at the exact estimate it runs, one below it is refused.
  struct Case {
    const char* what;
    int64_t macs;
    std::function<void(GraphBuilder&)> build;
  };
  auto attr_ints = [](ir::Node& n, const char* name, std::vector<int64_t> v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::kInts;
    a.ints = std::move(v);
    n.attributes.push_back(a);
  };
  const Case cases[] = {
      {"MatMul [2,3,5] x [5,7]: 42 outputs x K 5", 210,
       [](GraphBuilder& b) {
         b.initializer("b", Tensor(DType::kFloat32, {5, 7}));
         b.node("MatMul", {"x", "b"}, {"y"}, "op");
       }},
      {"Gemm transA, A [5,6] (K 5) x B [5,4]: 24 outputs x 5", 120,
       [](GraphBuilder& b) {
         b.initializer("b", Tensor(DType::kFloat32, {5, 4}));
         ir::Node& n = b.node("Gemm", {"x", "b"}, {"y"}, "op");
         ir::Attribute t;
         t.name = "transA";
         t.type = ir::AttrType::kInt;
         t.i = 1;
         n.attributes.push_back(t);
       }},
      {"ConvTranspose X [1,2,3,3] by W [2,5,2,2]: 18 inputs x 20", 360,
       [](GraphBuilder& b) {
         b.initializer("w", Tensor(DType::kFloat32, {2, 5, 2, 2}));
         b.node("ConvTranspose", {"x", "w"}, {"y"}, "op");
       }},
      {"MaxPool 2x3 over [1,2,4,5]: 2 x 3 x 3 outputs x 6", 108,
       [&](GraphBuilder& b) { attr_ints(b.node("MaxPool", {"x"}, {"y"}, "op"), "kernel_shape", {2, 3}); }},
      {"RoiAlign sampling_ratio 2, one ROI, 2 channels, 2x3 out: 12 outputs x 2 x 2 samples x 4 taps", 192,
       [](GraphBuilder& b) {
         b.initializer("rois", Tensor::from_vector<float>({1, 4}, {0, 0, 3, 3}));
         b.initializer("batch_indices", i64s({1}, {0}));
         ir::Node& n = b.node("RoiAlign", {"x", "rois", "batch_indices"}, {"y"}, "op");
         for (auto [name, v] : {std::pair{"output_height", 2}, {"output_width", 3}, {"sampling_ratio", 2}}) {
           ir::Attribute a;
           a.name = name;
           a.type = ir::AttrType::kInt;
           a.i = v;
           n.attributes.push_back(a);
         }
       }},
  };
  const std::vector<std::vector<Dim>> inputs = {{2, 3, 5}, {5, 6}, {1, 2, 3, 3}, {1, 2, 4, 5}, {1, 2, 4, 4}};
  for (size_t i = 0; i < std::size(cases); ++i) {
    SCOPED_TRACE(cases[i].what);
    GraphBuilder b;
    b.input("x", DType::kFloat32, inputs[i]);
    cases[i].build(b);
    b.output_any_shape("y", DType::kFloat32);
    std::vector<int64_t> dims;
    for (const Dim& d : inputs[i]) dims.push_back(d.value());
    const NamedTensors feeds{{"x", Tensor(DType::kFloat32, dims)}};
    SessionOptions options;
    options.max_run_macs = cases[i].macs;
    EXPECT_NO_THROW(load(model_of(b), options).run(feeds));
    options.max_run_macs = cases[i].macs - 1;
    expect_error([&] { load(model_of(b), options).run(feeds); }, ErrorCode::kLimitExceeded,
                 {"node 'op'", fmt::format("about {} multiply-adds", cases[i].macs)});
  }
}

TEST(HostileApi, EndlessLoopStopsAtMaxSubgraphRuns) {
  SessionOptions options;
  options.max_subgraph_runs = 1000;
  Session s = load(endless_loop_model(), options);
  expect_error([&] { s.run(loop_feeds()); }, ErrorCode::kLimitExceeded,
               {"node 'endless_loop' (Loop)", "more than 1000 times", "max_subgraph_runs"});
}

TEST(HostileApi, EndlessLoopIsCancelledFromAnotherThread) {
  SessionOptions options;
  options.max_subgraph_runs = 50'000'000;  // a backstop: only cancellation should end this run
  Session s = load(endless_loop_model(), options);
  std::atomic<bool> cancel{false};
  RunOptions run;
  run.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.store(true);
  });
  auto start = std::chrono::steady_clock::now();
  expect_error([&] { s.run(loop_feeds(), run); }, ErrorCode::kCancelled, {"cancelled"});
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(HostileApi, EndlessLoopStopsAtItsDeadline) {
  SessionOptions options;
  options.max_subgraph_runs = 50'000'000;
  Session s = load(endless_loop_model(), options);
  RunOptions run;
  auto start = std::chrono::steady_clock::now();
  run.deadline = start + std::chrono::milliseconds(100);
  expect_error([&] { s.run(loop_feeds(), run); }, ErrorCode::kCancelled, {"deadline"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(HostileApi, FixedDimsExplainDynamicAxes) {
  GraphBuilder b;
  b.input("input", DType::kFloat32, {1, 3, 8, 8});
  b.node("Relu", {"input"}, {"output"}, "relu");
  b.output("output", DType::kFloat32, {1, 3, 8, 8});
  Session s = load(model_of(b));
  expect_error([&] { s.run({{"input", Tensor(DType::kFloat32, {1, 3, 16, 16})}}); }, ErrorCode::kInvalidArgument,
               {"input 'input' dim 2", "fixes this dim to 8", "but 16 was given", "dynamic_axes"});
}

TEST(HostileApi, MissingWeightsExplainExportParams) {
  GraphBuilder b;
  b.input("input", DType::kFloat32, {1, 3, 8, 8});
  b.input("conv1.weight", DType::kFloat32, {4, 3, 3, 3});
  b.input("conv1.bias", DType::kFloat32, {4});
  b.node("Conv", {"input", "conv1.weight", "conv1.bias"}, {"output"}, "conv1");
  b.output("output", DType::kFloat32, {1, 4, 6, 6});
  Session s = load(model_of(b));
  ASSERT_EQ(s.inputs().size(), 3u);
  expect_error([&] { s.run({{"input", Tensor(DType::kFloat32, {1, 3, 8, 8})}}); }, ErrorCode::kInvalidArgument,
               {"2 graph inputs", "'conv1.weight'", "'conv1.bias'", "export_params=True"});
}

TEST(HostileApi, NodesTheDeclaredOpsetCannotExpressAreRefused) {
  // Resize with (X, roi, scales) under opset 10, where Resize takes (X, scales).
  GraphBuilder b;
  b.input("x", DType::kFloat32, {1, 1, 2, 2});
  b.initializer("roi", Tensor(DType::kFloat32, {0}));
  b.initializer("scales", Tensor::from_vector<float>({4}, {1, 1, 2, 2}));
  b.node("Resize", {"x", "roi", "scales"}, {"y"}, "upsample");
  b.output("y", DType::kFloat32, {1, 1, 4, 4});
  expect_load_error(bytes_of(model_of(b, 10)), ErrorCode::kInvalidModel,
                    {"node 'upsample' (Resize)", "opset 10", "takes 2 inputs", "has 3", "opset 11 and later"});
  EXPECT_NO_THROW(load(model_of(b, 11)));  // the same node is right at opset 11

  GraphBuilder r;
  for (const char* n : {"start", "limit", "delta"}) r.initializer(n, Tensor::scalar<float>(1.0f));
  r.node("Range", {"start", "limit", "delta"}, {"y"}, "positions");
  r.output_any_shape("y", DType::kFloat32);
  expect_load_error(bytes_of(model_of(r, 9)), ErrorCode::kUnsupported,
                    {"Range x1 (nodes 'positions')", "first exists at opset 11", "declares opset 9"});
}

TEST(HostileApi, CheckReportsEveryProblemAtOnce) {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {1, 4});
  b.input("fc.weight", DType::kFloat32, {4, 4});
  b.node("MatMul", {"x", "fc.weight"}, {"h"}, "fc");
  b.node("FancyActivation", {"h"}, {"a"}, "fancy");
  for (const char* n : {"start", "limit", "delta"}) b.initializer(n, Tensor::scalar<float>(1.0f));
  b.node("Range", {"start", "limit", "delta"}, {"r"}, "positions");
  b.output("a", DType::kFloat32, {1, 4});
  b.output_any_shape("r", DType::kFloat32);
  TempDir dir;
  onnx::save_model(model_of(b, 9), dir / "model.onnx");
  CheckReport report = check_model(dir / "model.onnx", {});
  EXPECT_FALSE(report.will_run());
  std::vector<std::string> kinds;
  for (const Finding& f : report.findings)
    if (f.severity == Severity::kError) kinds.push_back(f.kind + " " + f.where);
  EXPECT_EQ(kinds, (std::vector<std::string>{"missing-weights 1 graph input",
                                             "opset-mismatch node 'positions' (Range)",
                                             "unsupported-op op FancyActivation (1 node: 'fancy')"}));

  // A node breaking its op's rules is an invalid node, named, with a fix that fits (not dynamic_axes).
  GraphBuilder c;
  c.input("x", DType::kFloat32, {2});
  c.node("Cast", {"x"}, {"y"}, "cast");
  c.output("y", DType::kFloat32, {2});
  onnx::save_model(model_of(c), dir / "cast.onnx");
  CheckReport cast = check_model(dir / "cast.onnx", {});
  ASSERT_EQ(cast.findings.size(), 1u);
  EXPECT_EQ(cast.findings[0].kind, "invalid-node");
  EXPECT_EQ(cast.findings[0].where, "node 'cast' (Cast)");
  EXPECT_EQ(cast.findings[0].fix.find("dynamic_axes"), std::string::npos);
}

namespace {

// A Loop (its trip count fed by the caller) whose body negates a [256,1024] float (1 MiB) carried value and, when
// `scan_out`, also emits it as a scan output (stacked into [trips,256,1024] at the end).
ir::Model megabyte_loop_model(bool scan_out) {
  GraphBuilder body("negate");
  body.input("i", DType::kInt64, {});
  body.input("cond_in", DType::kBool, {});
  body.input("v_in", DType::kFloat32, {256, 1024});
  body.node("Identity", {"cond_in"}, {"cond_out"}, "keep_going");
  body.node("Neg", {"v_in"}, {"v_out"}, "negate");
  body.output("cond_out", DType::kBool, {});
  body.output("v_out", DType::kFloat32, {256, 1024});
  std::vector<std::string> outs{"v"};
  if (scan_out) {
    body.node("Identity", {"v_out"}, {"v_scan"}, "emit");
    body.output("v_scan", DType::kFloat32, {256, 1024});
    outs.push_back("history");
  }
  // With a condition beside the trip count, the number of iterations is known only once the loop has ended,
  // so no inference can size the scan output beforehand: the kernel's own checks must hold.
  GraphBuilder b;
  b.input("v0", DType::kFloat32, {256, 1024});
  b.input("trip_count", DType::kInt64, {});
  b.initializer("cond", Tensor::scalar<bool>(true));
  b.node("Loop", {"trip_count", "cond", "v0"}, outs, "loop").attributes.push_back(graph_attr("body", body.g));
  b.output("v", DType::kFloat32, {256, 1024});
  if (scan_out) b.output_any_shape("history", DType::kFloat32);
  return model_of(b);
}

}  // namespace

TEST(HostileApi, LoopIterationsDoNotAccumulateMemoryAccounting) {
  // 100 iterations of a 1 MiB carried value hold about 3 MiB at any time: a 32 MiB run limit is plenty.
  SessionOptions options;
  options.max_run_bytes = 32 << 20;
  Session s = load(megabyte_loop_model(false), options);
  NamedTensors out;
  ASSERT_NO_THROW(out = s.run(megabyte_feeds(100)));
  EXPECT_EQ(out[0].second.numel(), 256 * 1024);
}

TEST(HostileApi, LoopScanOutputsAreBoundedByTheRunLimit) {
  // Each iteration keeps 1 MiB for the stacked scan output: a million iterations would need a terabyte. The run
  // must stop near its 64 MiB limit, long before memory runs out.
  SessionOptions options;
  options.max_run_bytes = 64 << 20;
  Session s = load(megabyte_loop_model(true), options);
  auto start = std::chrono::steady_clock::now();
  expect_error([&] { s.run(megabyte_feeds(1'000'000)); }, ErrorCode::kLimitExceeded,
               {"node 'loop' (Loop)", "limit of 67108864 bytes"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  // Within the limit the same loop runs: 10 iterations stack into [10,256,1024].
  NamedTensors out = s.run(megabyte_feeds(10));
  EXPECT_EQ(out[1].second.dims(), (std::vector<int64_t>{10, 256, 1024}));
}
