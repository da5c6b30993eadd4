// SessionOptions::fixed_input_shapes (`kiln optimize --shape`): declared dims become numbers before the passes,
// symbols they replace take the same size in the other inputs, shape computations fold, other shapes are
// refused, and every mistake in the request is an error that names the input and the dim.

#include <gtest/gtest.h>

#include "api/session_impl.h"
#include "graph_builder.h"
#include "kiln/session.h"
#include "onnx/writer.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

// y = Reshape(x + mask, Shape(x)): both inputs [batch, seq].
std::vector<uint8_t> two_input_model() {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {Dim::symbol("batch"), Dim::symbol("seq")});
  b.input("mask", DType::kFloat32, {Dim::symbol("batch"), Dim::symbol("seq")});
  b.node("Add", {"x", "mask"}, {"sum"}, "add");
  b.node("Shape", {"x"}, {"n"}, "shape");
  b.node("Reshape", {"sum", "n"}, {"y"}, "reshape");
  b.output("y", DType::kFloat32, {Dim::symbol("batch"), Dim::symbol("seq")});
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = b.g;
  return onnx::serialize_model(m);
}

Session session_with(std::map<std::string, std::vector<int64_t>> shapes) {
  SessionOptions options;
  options.graph_optimization_level = 1;
  options.fixed_input_shapes = std::move(shapes);
  return Session::from_bytes(two_input_model(), options);
}

std::string fixed_shapes_error(std::map<std::string, std::vector<int64_t>> shapes) {
  try {
    session_with(std::move(shapes));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(FixedInputShapes, FixTheInputAndTheSymbolsItSharesThenFoldShape) {
  Session s = session_with({{"x", {2, 5}}});
  EXPECT_EQ(s.inputs()[0].shape.str(), "[2,5]");
  EXPECT_EQ(s.inputs()[1].shape.str(), "[2,5]");  // 'batch' and 'seq' are bound for mask too
  for (const ir::Node& n : s.impl().model.graph->nodes) EXPECT_NE(n.op_type, "Shape") << "Shape(x) was not folded";
  const NamedTensors out = s.run({{"x", Tensor(DType::kFloat32, {2, 5})}, {"mask", Tensor(DType::kFloat32, {2, 5})}});
  EXPECT_EQ(out[0].second.dims(), (std::vector<int64_t>{2, 5}));
}

TEST(FixedInputShapes, ARunWithAnotherShapeIsRefused) {
  Session s = session_with({{"x", {2, 5}}});
  try {
    s.run({{"x", Tensor(DType::kFloat32, {3, 5})}, {"mask", Tensor(DType::kFloat32, {3, 5})}});
    FAIL() << "a batch of 3 ran on a session fixed to 2";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
  }
}

TEST(FixedInputShapes, MistakesNameTheInputAndTheDim) {
  std::string e = fixed_shapes_error({{"images", {1, 2}}});
  EXPECT_NE(e.find("no such input"), std::string::npos) << e;
  EXPECT_NE(e.find("'x', 'mask'"), std::string::npos) << e;
  e = fixed_shapes_error({{"x", {1, 2, 3}}});
  EXPECT_NE(e.find("input 'x' has 2 dims"), std::string::npos) << e;
  e = fixed_shapes_error({{"x", {1, -2}}});
  EXPECT_NE(e.find("input 'x' dim 1: size -2 is negative"), std::string::npos) << e;
  e = fixed_shapes_error({{"x", {1, 2}}, {"mask", {1, 3}}});
  EXPECT_NE(e.find("dim 'seq' is given two sizes"), std::string::npos) << e;
}

TEST(FixedInputShapes, ADimTheModelFixesCannotChange) {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {Dim::symbol("batch"), 3});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", DType::kFloat32, {Dim::symbol("batch"), 3});
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = b.g;
  SessionOptions options;
  options.fixed_input_shapes = {{"x", {1, 4}}};
  try {
    Session::from_bytes(onnx::serialize_model(m), options);
    FAIL() << "dim 1 fixed to 3 by the model was changed to 4";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x' dim 1 is fixed to 3 by the model; it cannot be 4"),
              std::string::npos) << e.what();
  }
}
