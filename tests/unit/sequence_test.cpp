// Sequences and optionals: the Tensor containers, the sequence and optional ops, SequenceMap with a fake
// subgraph runner, containers through a whole Session, the runtime refusing containers where tensors belong,
// and SequenceProto / OptionalProto files. Expected values are worked out by hand from the ONNX definitions.

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "api/session_impl.h"
#include "op_test_util.h"
#include "onnx/value_io.h"
#include "ops/op.h"
#include "runtime/eval_node.h"

namespace kiln::testing {
namespace {

Tensor floats(std::vector<int64_t> dims, std::vector<float> v) { return Tensor::from_vector<float>(std::move(dims), v); }
std::vector<float> values_of(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }
Tensor scalar_i64(int64_t v) { return Tensor::scalar<int64_t>(v); }

Tensor seq_of(std::vector<Tensor> ts) {
  const DType t = ts.empty() ? DType::kFloat32 : ts.front().dtype();
  return Tensor::make_sequence(t, std::move(ts));
}

// Runs `f` and expects an Error of `code` whose message contains `text`.
void expect_error(ErrorCode code, const std::string& text, const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

// ---- Tensor containers ----

TEST(SequenceTensor, HoldsTensorsOfOneElementType) {
  Tensor s = seq_of({floats({2}, {1, 2}), floats({3}, {3, 4, 5})});
  EXPECT_TRUE(s.is_sequence());
  EXPECT_TRUE(s.defined());
  EXPECT_EQ(s.dtype(), DType::kFloat32);
  ASSERT_EQ(s.elements().size(), 2u);
  EXPECT_EQ(s.elements()[1].dims(), (std::vector<int64_t>{3}));
  EXPECT_EQ(s.nbytes(), 5 * sizeof(float));
  EXPECT_TRUE(s.owns_memory());
  expect_error(ErrorCode::kInvalidArgument, "accessed as a tensor", [&] { (void)s.data<float>(); });
  expect_error(ErrorCode::kInvalidArgument, "int64",
               [] { (void)Tensor::make_sequence(DType::kFloat32, {floats({1}, {1}), Tensor::scalar<int64_t>(2)}); });
}

TEST(SequenceTensor, CloneCopiesTheTensorsAndBorrowedOnesAreNotOwned) {
  float data[2] = {1, 2};
  Tensor s = seq_of({Tensor::borrow(DType::kFloat32, {2}, data)});
  EXPECT_FALSE(s.owns_memory());
  Tensor c = s.clone();
  EXPECT_TRUE(c.owns_memory());
  data[0] = 9;
  EXPECT_EQ(values_of(c.elements()[0]), (std::vector<float>{1, 2}));
}

TEST(OptionalTensor, EmptyOrHoldingOneValue) {
  Tensor empty = Tensor::make_empty_optional(DType::kInt32, TensorKind::kSequence);
  EXPECT_TRUE(empty.is_optional());
  EXPECT_TRUE(empty.defined());
  EXPECT_FALSE(empty.has_element());
  EXPECT_EQ(empty.optional_holds(), TensorKind::kSequence);
  Tensor full = Tensor::make_optional(floats({1}, {7}));
  EXPECT_TRUE(full.has_element());
  EXPECT_EQ(full.optional_holds(), TensorKind::kTensor);
  EXPECT_EQ(full.dtype(), DType::kFloat32);
  expect_error(ErrorCode::kInvalidArgument, "another optional", [&] { (void)Tensor::make_optional(full); });
}

// ---- the sequence ops ----

TEST(SequenceOps, EmptyConstructInsertEraseAtLength) {
  Tensor empty = OpCall("SequenceEmpty", 11).attr("dtype", int64_t{7}).run1({});
  EXPECT_TRUE(empty.is_sequence());
  EXPECT_EQ(empty.dtype(), DType::kInt64);
  EXPECT_TRUE(empty.elements().empty());

  Tensor s = OpCall("SequenceConstruct", 11).run1({floats({1}, {1}), floats({2}, {2, 3})});
  ASSERT_EQ(s.elements().size(), 2u);
  s = OpCall("SequenceInsert", 11).run1({s, floats({1}, {0}), scalar_i64(0)});  // at the front
  s = OpCall("SequenceInsert", 11).run1({s, floats({1}, {9})});          // at the back
  s = OpCall("SequenceInsert", 11).run1({s, floats({1}, {5}), scalar_i64(-1)}); // before the last
  ASSERT_EQ(s.elements().size(), 5u);
  EXPECT_EQ(values_of(s.elements()[0]), (std::vector<float>{0}));
  EXPECT_EQ(values_of(s.elements()[3]), (std::vector<float>{5}));
  EXPECT_EQ(values_of(s.elements()[4]), (std::vector<float>{9}));

  s = OpCall("SequenceErase", 11).run1({s, scalar_i64(1)});  // the {1}
  s = OpCall("SequenceErase", 11).run1({s});          // the last, {9}
  ASSERT_EQ(s.elements().size(), 3u);
  EXPECT_EQ(values_of(OpCall("SequenceAt", 11).run1({s, scalar_i64(1)})), (std::vector<float>{2, 3}));
  EXPECT_EQ(values_of(OpCall("SequenceAt", 11).run1({s, Tensor::scalar<int32_t>(-1)})), (std::vector<float>{5}));
  EXPECT_EQ(OpCall("SequenceLength", 11).run1({s}).data<int64_t>()[0], 3);
}

TEST(SequenceOps, RefuseBadPositionsAndMixedTypes) {
  Tensor s = seq_of({floats({1}, {1}), floats({1}, {2})});
  expect_error(ErrorCode::kInvalidArgument, "position 2 is out of range", [&] { OpCall("SequenceAt", 11).run1({s, scalar_i64(2)}); });
  expect_error(ErrorCode::kInvalidArgument, "position -3 is out of range", [&] { OpCall("SequenceAt", 11).run1({s, scalar_i64(-3)}); });
  expect_error(ErrorCode::kInvalidArgument, "out of range", [&] { OpCall("SequenceInsert", 11).run1({s, floats({1}, {0}), scalar_i64(3)}); });
  expect_error(ErrorCode::kInvalidArgument, "empty sequence",
               [&] { OpCall("SequenceErase", 11).run1({Tensor::make_sequence(DType::kFloat32, {})}); });
  expect_error(ErrorCode::kInvalidModel, "one element type",
               [&] { OpCall("SequenceInsert", 11).run1({s, Tensor::scalar<int64_t>(1)}); });
  expect_error(ErrorCode::kInvalidModel, "one element type",
               [&] { OpCall("SequenceConstruct", 11).run1({floats({1}, {1}), Tensor::scalar<int64_t>(1)}); });
  expect_error(ErrorCode::kInvalidModel, "must be a sequence", [&] { OpCall("SequenceLength", 11).run1({floats({1}, {1})}); });
}

TEST(SequenceOps, SplitToSequence) {
  Tensor x = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor s = OpCall("SplitToSequence", 11).attr("axis", int64_t{1}).run1({x});  // no split: pieces of 1
  ASSERT_EQ(s.elements().size(), 3u);
  EXPECT_EQ(s.elements()[2].dims(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(values_of(s.elements()[2]), (std::vector<float>{3, 6}));
  s = OpCall("SplitToSequence", 11).attr("axis", int64_t{1}).attr("keepdims", int64_t{0}).run1({x});
  EXPECT_EQ(s.elements()[0].dims(), (std::vector<int64_t>{2}));
  s = OpCall("SplitToSequence", 11).attr("axis", int64_t{1}).run1({x, scalar_i64(2)});  // chunks of 2, then 1
  ASSERT_EQ(s.elements().size(), 2u);
  EXPECT_EQ(values_of(s.elements()[0]), (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(values_of(s.elements()[1]), (std::vector<float>{3, 6}));
  s = OpCall("SplitToSequence", 11).run1({x, Tensor::from_vector<int64_t>({2}, {0, 2})});
  EXPECT_EQ(s.elements()[0].dims(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(values_of(s.elements()[1]), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  expect_error(ErrorCode::kInvalidArgument, "add up to 2, but the axis has 3", [&] {
    OpCall("SplitToSequence", 11).attr("axis", int64_t{1}).run1({x, Tensor::from_vector<int64_t>({2}, {1, 1})});
  });
  expect_error(ErrorCode::kInvalidArgument, "positive", [&] { OpCall("SplitToSequence", 11).run1({x, scalar_i64(0)}); });
  expect_error(ErrorCode::kInvalidModel, "split must be a tensor",
               [&] { OpCall("SplitToSequence", 11).run1({x, seq_of({scalar_i64(1)})}); });
}

TEST(SequenceOps, ConcatFromSequence) {
  Tensor s = seq_of({floats({1, 2}, {1, 2}), floats({2, 2}, {3, 4, 5, 6})});
  Tensor y = OpCall("ConcatFromSequence", 11).attr("axis", int64_t{0}).run1({s});
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(values_of(y), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  Tensor pair = seq_of({floats({2}, {1, 2}), floats({2}, {3, 4})});
  y = OpCall("ConcatFromSequence", 11).attr("axis", int64_t{-1}).attr("new_axis", int64_t{1}).run1({pair});
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values_of(y), (std::vector<float>{1, 3, 2, 4}));
  expect_error(ErrorCode::kInvalidArgument, "the sequence is empty", [&] {
    OpCall("ConcatFromSequence", 11).attr("axis", int64_t{0}).run1({Tensor::make_sequence(DType::kFloat32, {})});
  });
  expect_error(ErrorCode::kInvalidArgument, "cannot be concatenated along axis 1",
               [&] { OpCall("ConcatFromSequence", 11).attr("axis", int64_t{1}).run1({s}); });
}

// ---- the optional ops and Identity ----

TEST(OptionalOps, WrapTestAndUnwrap) {
  Tensor opt = OpCall("Optional", 15).run1({floats({2}, {1, 2})});
  ASSERT_TRUE(opt.is_optional());
  EXPECT_TRUE(OpCall("OptionalHasElement", 15).run1({opt}).data<bool>()[0]);
  EXPECT_EQ(values_of(OpCall("OptionalGetElement", 15).run1({opt})), (std::vector<float>{1, 2}));

  Tensor empty = Tensor::make_empty_optional(DType::kFloat32);
  EXPECT_FALSE(OpCall("OptionalHasElement", 15).run1({empty}).data<bool>()[0]);
  EXPECT_FALSE(OpCall("OptionalHasElement", 18).run1({Tensor()}).data<bool>()[0]);  // absent input
  EXPECT_TRUE(OpCall("OptionalHasElement", 18).run1({floats({1}, {1})}).data<bool>()[0]);
  expect_error(ErrorCode::kInvalidArgument, "the optional is empty", [&] { OpCall("OptionalGetElement", 15).run1({empty}); });

  Tensor seq = seq_of({floats({1}, {3})});
  Tensor got = OpCall("OptionalGetElement", 18).run1({Tensor::make_optional(seq)});
  ASSERT_TRUE(got.is_sequence());
  EXPECT_EQ(values_of(got.elements()[0]), (std::vector<float>{3}));
  EXPECT_TRUE(OpCall("OptionalGetElement", 18).run1({seq}).is_sequence());  // passes through
}

TEST(OptionalOps, EmptyOptionalFromTheTypeAttribute) {
  ir::Node node;
  node.op_type = "Optional";
  node.outputs = {0};
  ir::Attribute a;
  a.name = "type";
  a.type = ir::AttrType::kTypeProto;
  a.tp = std::make_shared<ir::ValueType>();
  a.tp->kind = ir::ValueKind::kSequence;
  a.tp->has_type = true;
  a.tp->elem = std::make_shared<ir::ValueType>(ir::ValueType{ir::ValueKind::kTensor, DType::kInt32, Shape::from({4}), true, nullptr});
  node.attributes.push_back(a);
  Tensor t = runtime::evaluate_node(node, 0, 15, {}).at(0);
  EXPECT_TRUE(t.is_optional());
  EXPECT_FALSE(t.has_element());
  EXPECT_EQ(t.optional_holds(), TensorKind::kSequence);
  EXPECT_EQ(t.dtype(), DType::kInt32);
}

TEST(ContainerInputs, IdentityPassesThemAndTensorOpsRefuseThem) {
  Tensor s = seq_of({floats({1}, {4})});
  Tensor y = OpCall("Identity", 16).run1({s});
  ASSERT_TRUE(y.is_sequence());
  EXPECT_EQ(values_of(y.elements()[0]), (std::vector<float>{4}));
  expect_error(ErrorCode::kInvalidModel, "input 0 is a sequence, but Relu takes tensors only",
               [&] { OpCall("Relu", 14).run1({s}); });
  expect_error(ErrorCode::kInvalidModel, "input 1 is an optional, but Add takes tensors only",
               [&] { OpCall("Add", 14).run1({floats({1}, {1}), Tensor::make_optional(floats({1}, {1}))}); });
}

// ---- SequenceMap ----

class FakeRunner : public ops::SubgraphRunner {
 public:
  std::function<std::vector<Tensor>(std::span<const Tensor>)> body;
  int calls = 0;
  std::vector<Tensor> run(const ir::Graph&, std::span<const Tensor> inputs) override {
    ++calls;
    return body(inputs);
  }
};

std::vector<Tensor> run_sequence_map(const std::vector<Tensor>& inputs, size_t n_out, FakeRunner& runner) {
  auto body = std::make_shared<ir::Graph>();
  body->name = "body";
  for (size_t i = 0; i < inputs.size(); ++i) body->inputs.push_back(body->intern("in" + std::to_string(i)));
  for (size_t k = 0; k < n_out; ++k) body->outputs.push_back(body->intern("out" + std::to_string(k)));
  ir::Node node;
  node.op_type = "SequenceMap";
  ir::Attribute a;
  a.name = "body";
  a.type = ir::AttrType::kGraph;
  a.g = body;
  node.attributes.push_back(a);
  std::vector<const Tensor*> ptrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    node.inputs.push_back(static_cast<int>(i));
    ptrs.push_back(&inputs[i]);
  }
  for (size_t k = 0; k < n_out; ++k) node.outputs.push_back(static_cast<int>(inputs.size() + k));
  return runtime::evaluate_node(node, 0, 17, ptrs, &runner);
}

TEST(SequenceMap, RunsTheBodyPerPositionWithSequencesCutAndTensorsWhole) {
  FakeRunner r;
  r.body = [](std::span<const Tensor> in) {
    // out = a + b + c[0]
    EXPECT_EQ(in.size(), 3u);
    Tensor y(DType::kFloat32, in[0].dims());
    for (int64_t i = 0; i < y.numel(); ++i)
      y.data<float>()[i] = in[0].data<float>()[i] + in[1].data<float>()[i] + in[2].data<float>()[0];
    return std::vector<Tensor>{y};
  };
  Tensor a = seq_of({floats({1}, {1}), floats({2}, {2, 3})});
  Tensor b = seq_of({floats({1}, {10}), floats({2}, {20, 30})});
  auto out = run_sequence_map({a, b, floats({1}, {100})}, 1, r);
  EXPECT_EQ(r.calls, 2);
  ASSERT_TRUE(out[0].is_sequence());
  EXPECT_EQ(values_of(out[0].elements()[0]), (std::vector<float>{111}));
  EXPECT_EQ(values_of(out[0].elements()[1]), (std::vector<float>{122, 133}));

  Tensor shorter = seq_of({floats({1}, {1})});
  expect_error(ErrorCode::kInvalidArgument, "must be as long",
               [&] { run_sequence_map({a, shorter, floats({1}, {0})}, 1, r); });
}

// ---- through a Session ----

// seq_in (sequence of float) -> SequenceInsert(seq_in, x) -> s; outputs: s, SequenceLength(s), SequenceAt(s, 0).
Session sequence_session() {
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = std::make_shared<ir::Graph>();
  ir::Graph& g = *m.graph;
  const auto tensor_type = [](DType t, Shape s) { return ir::ValueType{ir::ValueKind::kTensor, t, std::move(s), true, nullptr}; };
  const int seq_in = g.intern("seq_in"), x = g.intern("x"), s = g.intern("s"), n = g.intern("n"), first = g.intern("first");
  const int zero = g.intern("zero");
  g.value(seq_in).type = {ir::ValueKind::kSequence, DType::kUndefined, Shape::unknown_rank(), true,
                          std::make_shared<ir::ValueType>(tensor_type(DType::kFloat32, Shape::unknown_rank()))};
  g.value(x).type = tensor_type(DType::kFloat32, Shape({Dim::symbol("k")}));
  g.inputs = {seq_in, x};
  g.initializers[zero] = Tensor::scalar<int64_t>(0);
  const auto add = [&](const char* op, std::vector<int> ins, int out) {
    ir::Node node;
    node.op_type = op;
    node.inputs = std::move(ins);
    node.outputs = {out};
    g.nodes.push_back(node);
  };
  add("SequenceInsert", {seq_in, x}, s);
  add("SequenceLength", {s}, n);
  add("SequenceAt", {s, zero}, first);
  g.outputs = {s, n, first};
  return Session(std::make_shared<Session::Impl>(std::move(m), SessionOptions{}));
}

TEST(SequenceSession, DescribesFeedsAndReturnsContainers) {
  Session session = sequence_session();
  ASSERT_EQ(session.inputs().size(), 2u);
  EXPECT_EQ(session.inputs()[0].kind, TensorKind::kSequence);
  EXPECT_EQ(session.inputs()[0].dtype, DType::kFloat32);
  EXPECT_EQ(session.outputs()[0].kind, TensorKind::kTensor);  // undeclared: nothing said
  float data[2] = {5, 6};
  for (int run = 0; run < 2; ++run) {  // the second run reuses the plan
    NamedTensors out = session.run({{"seq_in", seq_of({floats({3}, {1, 2, 3})})},
                                    {"x", Tensor::borrow(DType::kFloat32, {2}, data)}});
    ASSERT_TRUE(out[0].second.is_sequence());
    ASSERT_EQ(out[0].second.elements().size(), 2u);
    EXPECT_TRUE(out[0].second.owns_memory());  // the borrowed feed was copied, not returned
    EXPECT_EQ(values_of(out[0].second.elements()[1]), (std::vector<float>{5, 6}));
    EXPECT_EQ(out[1].second.data<int64_t>()[0], 2);
    EXPECT_EQ(values_of(out[2].second), (std::vector<float>{1, 2, 3}));
  }
  expect_error(ErrorCode::kInvalidArgument, "declared as sequence(float)", [&] {
    session.run({{"seq_in", floats({1}, {1})}, {"x", floats({1}, {1})}});
  });
  expect_error(ErrorCode::kInvalidArgument, "int64 tensors", [&] {
    session.run({{"seq_in", seq_of({Tensor::scalar<int64_t>(1)})}, {"x", floats({1}, {1})}});
  });
}

TEST(SequenceSession, APlanRefusesASequenceFedToATensorOp) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = std::make_shared<ir::Graph>();
  ir::Graph& g = *m.graph;
  const int s = g.intern("s"), y = g.intern("y");
  g.value(s).type = {ir::ValueKind::kSequence, DType::kUndefined, Shape::unknown_rank(), true,
                     std::make_shared<ir::ValueType>(ir::ValueType{ir::ValueKind::kTensor, DType::kFloat32,
                                                                   Shape::unknown_rank(), true, nullptr})};
  g.inputs = {s};
  ir::Node relu;
  relu.op_type = "Relu";
  relu.name = "relu";
  relu.inputs = {s};
  relu.outputs = {y};
  g.nodes.push_back(relu);
  g.outputs = {y};
  Session session(std::make_shared<Session::Impl>(std::move(m), SessionOptions{}));
  expect_error(ErrorCode::kInvalidModel, "node 'relu' (Relu): input 0 is a sequence, but Relu takes tensors only",
               [&] { session.run({{"s", seq_of({floats({1}, {1})})}}); });
}

// ---- SequenceProto / OptionalProto ----

TEST(ValueFiles, SequenceAndOptionalRoundTrip) {
  ir::FlatType seq_type;
  seq_type.kind = TensorKind::kSequence;
  seq_type.dtype = DType::kFloat32;
  Tensor s = seq_of({floats({2}, {1, 2}), floats({1}, {3})});
  Tensor back = onnx::parse_value(onnx::serialize_value(s, "s"), seq_type);
  ASSERT_TRUE(back.is_sequence());
  ASSERT_EQ(back.elements().size(), 2u);
  EXPECT_EQ(values_of(back.elements()[1]), (std::vector<float>{3}));
  // An empty sequence takes its element type from the declaration.
  seq_type.dtype = DType::kInt64;
  back = onnx::parse_value(onnx::serialize_value(Tensor::make_sequence(DType::kInt64, {}), ""), seq_type);
  EXPECT_TRUE(back.is_sequence() && back.elements().empty() && back.dtype() == DType::kInt64);

  ir::FlatType opt_type;
  opt_type.kind = TensorKind::kOptional;
  opt_type.holds = TensorKind::kSequence;
  opt_type.dtype = DType::kFloat32;
  back = onnx::parse_value(onnx::serialize_value(Tensor::make_optional(s), "o"), opt_type);
  ASSERT_TRUE(back.is_optional() && back.has_element());
  EXPECT_EQ(back.elements().front().elements().size(), 2u);
  back = onnx::parse_value(onnx::serialize_value(Tensor::make_empty_optional(DType::kFloat32, TensorKind::kSequence), ""),
                           opt_type);
  EXPECT_TRUE(back.is_optional() && !back.has_element() && back.optional_holds() == TensorKind::kSequence);

  seq_type.dtype = DType::kInt64;  // declared int64, file holds float
  expect_error(ErrorCode::kInvalidModel, "declares a sequence of int64", [&] {
    onnx::parse_value(onnx::serialize_value(s, ""), seq_type);
  });
}

}  // namespace
}  // namespace kiln::testing
