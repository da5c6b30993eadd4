// LSTM, GRU and RNN against fixtures from an independent reference (onnxruntime on one-node models, and
// torch nn.LSTM/GRU/RNN exported with torch.onnx.export): see data/make_rnn_fixtures.py.

#include <gtest/gtest.h>

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

class RnnFixtureTest : public ::testing::TestWithParam<Param> {};

TEST_P(RnnFixtureTest, MatchesReference) {
  const Fixture& fx = rnn_fixtures::all_fixtures()[GetParam().index];
  const std::vector<bool> all(fx.outputs.size(), true);
  expect_outputs(fx, run_fixture(fx, GetParam().dtype, all), all, GetParam().dtype);
}

// Every subset of the optional outputs: absent ones are -1 in the node; present ones must not change.
TEST_P(RnnFixtureTest, AnySubsetOfOutputs) {
  if (GetParam().dtype != DType::kFloat32) GTEST_SKIP() << "subsets run once, in float32";
  const Fixture& fx = rnn_fixtures::all_fixtures()[GetParam().index];
  const size_t n = fx.outputs.size();
  for (unsigned mask = 1; mask + 1 < (1u << n); ++mask) {
    std::vector<bool> want(n);
    for (size_t i = 0; i < n; ++i) want[i] = (mask >> i) & 1u;
    SCOPED_TRACE("output mask " + std::to_string(mask));
    expect_outputs(fx, run_fixture(fx, DType::kFloat32, want), want, DType::kFloat32);
  }
}

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

}  // namespace
}  // namespace kiln::testing
