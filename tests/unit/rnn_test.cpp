// LSTM, GRU and RNN against fixtures from an independent reference (onnxruntime on one-node models, and
// torch nn.LSTM/GRU/RNN exported with torch.onnx.export): see data/make_rnn_fixtures.py.

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "data/rnn_fixtures.h"
#include "ir/dispatch.h"
#include "op_test_util.h"
#include "ops/op.h"
#include "runtime/eval_node.h"

namespace kiln::testing {
namespace {

using rnn_fixtures::Fixture;
using rnn_fixtures::FixtureAttr;
using rnn_fixtures::FixtureTensor;

Tensor to_tensor(const FixtureTensor& f, DType dtype) {
  if (f.is_int) {
    std::vector<int32_t> v(f.data.begin(), f.data.end());
    return Tensor::from_vector<int32_t>(f.dims, v);
  }
  Tensor t(dtype, f.dims);
  visit_float(dtype, [&]<typename T>() {
    for (size_t i = 0; i < f.data.size(); ++i) t.data<T>()[i] = T(f.data[i]);
  });
  return t;
}

ir::Node make_node(const Fixture& fx, const std::vector<Tensor>& inputs, const std::vector<bool>& want_outputs) {
  ir::Node node;
  node.op_type = fx.op;
  node.name = fx.name;
  for (const FixtureAttr& fa : fx.attrs) {
    ir::Attribute a;
    a.name = fa.name;
    switch (fa.kind) {
      case FixtureAttr::kInt: a.type = ir::AttrType::kInt; a.i = fa.i; break;
      case FixtureAttr::kFloat: a.type = ir::AttrType::kFloat; a.f = fa.f; break;
      case FixtureAttr::kString: a.type = ir::AttrType::kString; a.s = fa.s; break;
      case FixtureAttr::kFloats: a.type = ir::AttrType::kFloats; a.floats = fa.floats; break;
      case FixtureAttr::kStrings: a.type = ir::AttrType::kStrings; a.strings = fa.strings; break;
    }
    node.attributes.push_back(a);
  }
  int next = 0;
  for (const Tensor& t : inputs) node.inputs.push_back(t.defined() ? next++ : -1);
  for (bool w : want_outputs) node.outputs.push_back(w ? next++ : -1);
  return node;
}

// Runs the fixture's node in `dtype` with the outputs `want` lists (false: the node's output name is empty).
std::vector<Tensor> run_fixture(const Fixture& fx, DType dtype, const std::vector<bool>& want) {
  std::vector<Tensor> inputs;
  for (const FixtureTensor& f : fx.inputs) inputs.push_back(f.present ? to_tensor(f, dtype) : Tensor());
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
  const ir::Node node = make_node(fx, inputs, want);
  return runtime::evaluate_node(node, 0, fx.opset, ptrs);
}

struct Tolerance {
  double rtol, atol;
};

Tolerance tolerance_for(DType t) {
  switch (t) {
    case DType::kFloat16: return {2e-3, 1e-3};  // the output's own rounding; states stay in float
    case DType::kBFloat16: return {3e-2, 3e-2};  // inputs rounded to 8 bits of mantissa
    default: return {1e-4, 1e-5};                // the reference computed in float32
  }
}

void expect_outputs(const Fixture& fx, const std::vector<Tensor>& got, const std::vector<bool>& want, DType dtype) {
  const Tolerance tol = tolerance_for(dtype);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i]) continue;
    SCOPED_TRACE("output " + std::to_string(i));
    expect_close(got[i], to_tensor(fx.outputs[i], dtype), tol.rtol, tol.atol);
  }
}

struct Param {
  size_t index;
  DType dtype;
};
void PrintTo(const Param& p, std::ostream* os) {
  *os << rnn_fixtures::all_fixtures()[p.index].name << " in " << dtype_name(p.dtype);
}

class RnnFixtureTest : public ::testing::TestWithParam<Param> {};

TEST_P(RnnFixtureTest, MatchesReference) {
  const Fixture& fx = rnn_fixtures::all_fixtures()[GetParam().index];
  const std::vector<bool> all(fx.outputs.size(), true);
  expect_outputs(fx, run_fixture(fx, GetParam().dtype, all), all, GetParam().dtype);
}

class RnnOutputSubsetTest : public ::testing::TestWithParam<size_t> {};

// Every proper subset of the optional outputs: absent ones are -1 in the node; present ones must not change.
TEST_P(RnnOutputSubsetTest, MatchesReference) {
  const Fixture& fx = rnn_fixtures::all_fixtures()[GetParam()];
  const size_t n = fx.outputs.size();
  for (unsigned mask = 1; mask + 1 < (1u << n); ++mask) {
    std::vector<bool> want(n);
    for (size_t i = 0; i < n; ++i) want[i] = (mask >> i) & 1u;
    SCOPED_TRACE("output mask " + std::to_string(mask));
    expect_outputs(fx, run_fixture(fx, DType::kFloat32, want), want, DType::kFloat32);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RnnOutputSubsetTest,
                         ::testing::Range(size_t{0}, rnn_fixtures::all_fixtures().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::string(rnn_fixtures::all_fixtures()[info.param].name);
                         });

std::vector<Param> all_params() {
  std::vector<Param> v;
  for (size_t i = 0; i < rnn_fixtures::all_fixtures().size(); ++i)
    for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16}) v.push_back({i, t});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RnnFixtureTest, ::testing::ValuesIn(all_params()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(rnn_fixtures::all_fixtures()[info.param.index].name) + "_" +
                                  std::string(dtype_name(info.param.dtype));
                         });

const Fixture& fixture(const std::string& name) {
  for (const Fixture& f : rnn_fixtures::all_fixtures())
    if (name == f.name) return f;
  throw std::runtime_error("no fixture " + name);
}

TEST(Rnn, BFloat16ComputesInFloat) {
  const Fixture& fx = fixture("lstm_bidir_layout1_lens");
  const std::vector<bool> all(3, true);
  expect_outputs(fx, run_fixture(fx, DType::kBFloat16, all), all, DType::kBFloat16);
}


// ---- inference and errors (small hand-built nodes) ----

ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}
ir::Attribute str_attr(const std::string& name, const std::string& v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kString;
  a.s = v;
  return a;
}
ir::Attribute strs_attr(const std::string& name, std::vector<std::string> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kStrings;
  a.strings = std::move(v);
  return a;
}

ir::Node bare_node(const std::string& op, std::vector<ir::Attribute> attrs, size_t n_in, size_t n_out) {
  ir::Node n;
  n.op_type = op;
  n.attributes = std::move(attrs);
  for (size_t i = 0; i < n_in; ++i) n.inputs.push_back(static_cast<int>(i));
  for (size_t i = 0; i < n_out; ++i) n.outputs.push_back(static_cast<int>(n_in + i));
  return n;
}

// Runs only inference; a null entry in `ins` is an absent input.
std::vector<ops::ValueInfo> infer(const ir::Node& node, int opset, const std::vector<const ops::ValueInfo*>& ins) {
  std::vector<ops::ValueInfo> outs(node.outputs.size());
  ops::InferContext ctx(node, 0, opset, ins, outs);
  const ops::OpSchema* schema = ops::find_op("", node.op_type);
  EXPECT_NE(schema, nullptr);
  schema->infer(ctx);
  return outs;
}

ops::ValueInfo info(DType t, Shape s) { return ops::ValueInfo{t, std::move(s), nullptr}; }

TEST(RnnInference, LstmKeepsSeqAndBatchSymbols) {
  const ir::Node node = bare_node("LSTM", {int_attr("hidden_size", 3), str_attr("direction", "bidirectional")}, 3, 3);
  const auto x = info(DType::kFloat32, Shape({Dim::symbol("seq"), Dim::symbol("batch"), Dim(4)}));
  const auto w = info(DType::kFloat32, Shape::from({2, 12, 4}));
  const auto r = info(DType::kFloat32, Shape::from({2, 12, 3}));
  const auto outs = infer(node, 14, {&x, &w, &r});
  EXPECT_EQ(outs[0].shape, Shape({Dim::symbol("seq"), Dim(2), Dim::symbol("batch"), Dim(3)}));
  EXPECT_EQ(outs[1].shape, Shape({Dim(2), Dim::symbol("batch"), Dim(3)}));
  EXPECT_EQ(outs[2].shape, Shape({Dim(2), Dim::symbol("batch"), Dim(3)}));
  for (const auto& o : outs) EXPECT_EQ(o.dtype, DType::kFloat32);
}

TEST(RnnInference, GruLayout1TakesHiddenSizeFromR) {
  const ir::Node node = bare_node("GRU", {int_attr("layout", 1)}, 3, 2);
  const auto x = info(DType::kFloat16, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(5)}));
  const auto w = info(DType::kFloat16, Shape::from({1, 12, 5}));
  const auto r = info(DType::kFloat16, Shape::from({1, 12, 4}));
  const auto outs = infer(node, 14, {&x, &w, &r});
  EXPECT_EQ(outs[0].shape, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(1), Dim(4)}));
  EXPECT_EQ(outs[1].shape, Shape({Dim::symbol("batch"), Dim(1), Dim(4)}));
  EXPECT_EQ(outs[1].dtype, DType::kFloat16);
}

TEST(RnnInference, UnknownRankXStillGivesRanks) {
  const ir::Node node = bare_node("RNN", {int_attr("hidden_size", 2)}, 3, 2);
  const auto x = info(DType::kFloat32, Shape::unknown_rank());
  const auto w = info(DType::kFloat32, Shape::unknown_rank());
  const auto r = info(DType::kFloat32, Shape::unknown_rank());
  const auto outs = infer(node, 14, {&x, &w, &r});
  EXPECT_EQ(outs[0].shape, Shape({Dim(), Dim(1), Dim(), Dim(2)}));
  EXPECT_EQ(outs[1].shape, Shape({Dim(1), Dim(), Dim(2)}));
}

void expect_error(ErrorCode code, const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
  }
}

TEST(RnnInference, RefusesInconsistentShapes) {
  const ir::Node node = bare_node("LSTM", {int_attr("hidden_size", 3)}, 3, 3);
  const auto x = info(DType::kFloat32, Shape({Dim::symbol("seq"), Dim(2), Dim(4)}));
  const auto r = info(DType::kFloat32, Shape::from({1, 12, 3}));
  const auto w_bad_input = info(DType::kFloat32, Shape::from({1, 12, 5}));
  expect_error(ErrorCode::kInvalidModel, [&] { infer(node, 14, {&x, &w_bad_input, &r}); });
  const auto w_two_dirs = info(DType::kFloat32, Shape::from({2, 12, 4}));
  expect_error(ErrorCode::kInvalidModel, [&] { infer(node, 14, {&x, &w_two_dirs, &r}); });
  const auto w = info(DType::kFloat32, Shape::from({1, 12, 4}));
  const auto h0 = info(DType::kFloat32, Shape::from({1, 3, 3}));  // batch 3, X says 2
  expect_error(ErrorCode::kInvalidModel, [&] { infer(node, 14, {&x, &w, &r, nullptr, nullptr, &h0}); });
  const auto xi = info(DType::kInt32, Shape::from({1, 2, 4}));
  expect_error(ErrorCode::kInvalidModel, [&] { infer(node, 14, {&xi, &w, &r}); });
}

// A one-unit RNN with W = 1, R = 0 and no bias: Y = f(X), so each activation can be checked on its own.
std::vector<float> rnn_identity(std::vector<ir::Attribute> attrs, const std::vector<float>& xs) {
  attrs.push_back(int_attr("hidden_size", 1));
  const ir::Node node = bare_node("RNN", std::move(attrs), 3, 1);
  const Tensor x = Tensor::from_vector<float>({static_cast<int64_t>(xs.size()), 1, 1}, xs);
  const Tensor w = Tensor::from_vector<float>({1, 1, 1}, {1.f});
  const Tensor r = Tensor::from_vector<float>({1, 1, 1}, {0.f});
  const std::vector<const Tensor*> ins{&x, &w, &r};
  const Tensor y = runtime::evaluate_node(node, 0, 14, ins).at(0);
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

// Without activation_alpha/beta the spec's defaults apply (those of the ONNX operators of the same name;
// Affine identity, ScaledTanh tanh). ONNX Runtime uses 0 instead for Affine, ScaledTanh and ThresholdedRelu.
TEST(Rnn, ActivationDefaultsFollowTheSpec) {
  const std::vector<float> xs{-2.f, 0.5f, 2.f};
  EXPECT_EQ(rnn_identity({strs_attr("activations", {"ThresholdedRelu"})}, xs), (std::vector<float>{0.f, 0.f, 2.f}));
  EXPECT_EQ(rnn_identity({strs_attr("activations", {"Affine"})}, xs), xs);
  EXPECT_EQ(rnn_identity({strs_attr("activations", {"LeakyRelu"})}, xs), (std::vector<float>{-0.02f, 0.5f, 2.f}));
  const auto hs = rnn_identity({strs_attr("activations", {"HardSigmoid"})}, xs);
  EXPECT_FLOAT_EQ(hs[0], 0.1f);  // 0.2 * -2 + 0.5
  EXPECT_FLOAT_EQ(hs[1], 0.6f);
  EXPECT_FLOAT_EQ(hs[2], 0.9f);
  const auto st = rnn_identity({strs_attr("activations", {"scaledtanh"})}, xs);  // names are case-insensitive
  EXPECT_NEAR(st[0], -0.96402758f, 1e-6);
  EXPECT_NEAR(st[2], 0.96402758f, 1e-6);
}

TEST(Rnn, RefusesBadAttributesAndInputs) {
  const Fixture& fx = fixture("lstm_reverse_lens");
  std::vector<Tensor> in;
  for (const FixtureTensor& f : fx.inputs) in.push_back(f.present ? to_tensor(f, DType::kFloat32) : Tensor());
  auto run = [&](std::vector<ir::Attribute> attrs, int opset, const std::vector<Tensor>& inputs) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    ir::Node node = bare_node("LSTM", std::move(attrs), inputs.size(), 3);
    for (size_t i = 0; i < inputs.size(); ++i)
      if (!inputs[i].defined()) node.inputs[i] = -1;
    return runtime::evaluate_node(node, 0, opset, ptrs);
  };
  const auto base = [] { return std::vector<ir::Attribute>{int_attr("hidden_size", 3), str_attr("direction", "reverse")}; };
  EXPECT_NO_THROW(run(base(), 14, in));
  expect_error(ErrorCode::kInvalidModel, [&] { run({int_attr("hidden_size", 3), str_attr("direction", "sideways")}, 14, in); });
  expect_error(ErrorCode::kInvalidModel, [&] { run({int_attr("hidden_size", 4), str_attr("direction", "reverse")}, 14, in); });
  expect_error(ErrorCode::kInvalidModel, [&] { run({int_attr("hidden_size", -3)}, 14, in); });
  auto with = [&](ir::Attribute a) {
    auto v = base();
    v.push_back(std::move(a));
    return v;
  };
  expect_error(ErrorCode::kInvalidModel, [&] { run(with(strs_attr("activations", {"Sigmoid", "Tanh"})), 14, in); });
  expect_error(ErrorCode::kInvalidModel, [&] { run(with(strs_attr("activations", {"Sigmoid", "Tanh", "Gelu"})), 14, in); });
  expect_error(ErrorCode::kInvalidModel, [&] { run(with(int_attr("layout", 1)), 7, in); });
  expect_error(ErrorCode::kInvalidModel, [&] { run(with(int_attr("layout", 2)), 14, in); });
  expect_error(ErrorCode::kInvalidModel, [&] { run(with(int_attr("input_forget", 5)), 14, in); });

  auto bad = in;
  bad[4] = Tensor::from_vector<int32_t>({3}, {4, 5, 1});  // a length past seq_length 4
  expect_error(ErrorCode::kInvalidArgument, [&] { run(base(), 14, bad); });
  bad = in;
  bad[4] = Tensor::from_vector<int32_t>({3}, {4, -1, 1});
  expect_error(ErrorCode::kInvalidArgument, [&] { run(base(), 14, bad); });
  bad = in;
  bad[5] = Tensor(DType::kFloat32, {1, 2, 3});  // initial_h for batch 2, X has 3
  expect_error(ErrorCode::kInvalidModel, [&] { run(base(), 14, bad); });  // inference sees it first
  bad = in;
  bad[1] = Tensor(DType::kFloat64, {1, 12, 2});  // W double, X float
  expect_error(ErrorCode::kInvalidModel, [&] { run(base(), 14, bad); });
}

}  // namespace
}  // namespace kiln::testing
