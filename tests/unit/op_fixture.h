#pragma once
// Data-driven op tests. tests/unit/fixtures/make_op_fixtures.py runs each case through an independent
// reference (onnx.reference or onnxruntime) and writes the inputs and expected outputs as C++ initialisers
// (tests/unit/fixtures/*_cases.inc); run_fixture() replays a case through kiln and compares every output.
// InferCall runs only an op's shape inference, on symbolic shapes.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ir/dispatch.h"
#include "op_test_util.h"
#include "ops/op.h"

namespace kiln::testing {

/// A tensor written out by the fixture script; dtype kUndefined stands for an absent optional input.
struct FxValue {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> dims;
  std::vector<double> data;
};

struct FxAttr {
  std::string name;
  ir::AttrType type = ir::AttrType::kUndefined;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

inline FxAttr attr_i(std::string n, int64_t v) { return {std::move(n), ir::AttrType::kInt, v, 0, {}, {}, {}}; }
inline FxAttr attr_f(std::string n, float v) { return {std::move(n), ir::AttrType::kFloat, 0, v, {}, {}, {}}; }
inline FxAttr attr_s(std::string n, std::string v) {
  return {std::move(n), ir::AttrType::kString, 0, 0, std::move(v), {}, {}};
}
inline FxAttr attr_ints(std::string n, std::vector<int64_t> v) {
  return {std::move(n), ir::AttrType::kInts, 0, 0, {}, std::move(v), {}};
}
inline FxAttr attr_floats(std::string n, std::vector<float> v) {
  return {std::move(n), ir::AttrType::kFloats, 0, 0, {}, {}, std::move(v)};
}

struct FxCase {
  std::string name;
  std::string op;
  int opset = 0;
  std::vector<FxAttr> attrs;
  std::vector<FxValue> inputs;
  std::vector<FxValue> outputs;
  double rtol = 1e-5;
  double atol = 1e-6;
};

/// Builds a kiln tensor from fixture data (values converted to the element type).
inline Tensor fx_tensor(const FxValue& v) {
  if (v.dtype == DType::kUndefined) return Tensor();
  Tensor t(v.dtype, v.dims);
  if (static_cast<size_t>(t.numel()) != v.data.size()) ADD_FAILURE() << "fixture value count does not match dims";
  visit_numeric_or_bool(v.dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (size_t i = 0; i < v.data.size() && i < static_cast<size_t>(t.numel()); ++i) {
      if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)
        p[i] = T(static_cast<float>(v.data[i]));
      else
        p[i] = static_cast<T>(v.data[i]);
    }
  });
  return t;
}

/// Expects the same dtype and dims, and each element within atol + rtol*|want| (NaN matches NaN, and an
/// infinity must match exactly).
inline void expect_tensor_near(const Tensor& got, const FxValue& want, double rtol, double atol,
                               const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << ": output missing";
  ASSERT_EQ(got.dtype(), want.dtype) << what;
  ASSERT_EQ(got.dims(), want.dims) << what;
  ASSERT_EQ(static_cast<size_t>(got.numel()), want.data.size()) << what;
  int reported = 0;
  for (int64_t i = 0; i < got.numel() && reported < 8; ++i) {
    double a = got.double_at(i), b = want.data[static_cast<size_t>(i)];
    bool ok;
    if (std::isnan(b)) ok = std::isnan(a);
    else if (std::isinf(b)) ok = a == b;
    else ok = std::abs(a - b) <= atol + rtol * std::abs(b);
    if (!ok) {
      ++reported;
      ADD_FAILURE() << what << ": element " << i << " is " << a << ", expected " << b;
    }
  }
}

/// Runs one fixture case through inference and the reference kernel and compares every listed output.
inline void run_fixture(const FxCase& c) {
  SCOPED_TRACE(c.name + " (" + c.op + "-" + std::to_string(c.opset) + ")");
  OpCall call(c.op, c.opset);
  for (const FxAttr& a : c.attrs) {
    switch (a.type) {
      case ir::AttrType::kInt: call.attr(a.name, a.i); break;
      case ir::AttrType::kFloat: call.attr(a.name, a.f); break;
      case ir::AttrType::kString: call.attr(a.name, a.s); break;
      case ir::AttrType::kInts: call.attr(a.name, a.ints); break;
      case ir::AttrType::kFloats: call.attr(a.name, a.floats); break;
      default: FAIL() << "unsupported fixture attribute type";
    }
  }
  std::vector<Tensor> inputs;
  for (const FxValue& v : c.inputs) inputs.push_back(fx_tensor(v));
  call.outputs(c.outputs.size());
  std::vector<Tensor> got;
  try {
    got = call.run(inputs);
  } catch (const std::exception& e) {
    FAIL() << "threw: " << e.what();
  }
  ASSERT_EQ(got.size(), c.outputs.size());
  for (size_t i = 0; i < got.size(); ++i)
    expect_tensor_near(got[i], c.outputs[i], c.rtol, c.atol, c.name + " output " + std::to_string(i));
}

inline void PrintTo(const FxCase& c, std::ostream* os) { *os << c.name; }

/// Declares a parameterised test `Suite` that replays every case of `cases` (a std::vector<FxCase>).
#define KILN_FIXTURE_SUITE(Suite, cases)                                                              \
  class Suite : public ::testing::TestWithParam<::kiln::testing::FxCase> {};                          \
  TEST_P(Suite, MatchesReference) { ::kiln::testing::run_fixture(GetParam()); }                        \
  INSTANTIATE_TEST_SUITE_P(Ref, Suite, ::testing::ValuesIn(cases),                                    \
                           [](const ::testing::TestParamInfo<::kiln::testing::FxCase>& i) { return i.param.name; })

/// Runs only shape inference on a one-node graph with the given input infos (shapes may hold symbols).
class InferCall {
 public:
  InferCall(std::string op_type, int opset) : opset_(opset) {
    node_.op_type = std::move(op_type);
    node_.name = "infer_" + node_.op_type;
  }
  InferCall& attr(const FxAttr& a) {
    ir::Attribute x;
    x.name = a.name;
    x.type = a.type;
    x.i = a.i;
    x.f = a.f;
    x.s = a.s;
    x.ints = a.ints;
    x.floats = a.floats;
    node_.attributes.push_back(std::move(x));
    return *this;
  }
  /// Inputs with dtype kUndefined are absent. Returns one info per output.
  std::vector<ops::ValueInfo> run(const std::vector<ops::ValueInfo>& inputs, size_t num_outputs = 1) {
    const ops::OpSchema* schema = ops::find_op("", node_.op_type);
    if (!schema) throw Error(ErrorCode::kUnsupported, "no schema for " + node_.op_type);
    std::vector<const ops::ValueInfo*> ptrs;
    node_.inputs.clear();
    for (size_t i = 0; i < inputs.size(); ++i) {
      bool present = inputs[i].dtype != DType::kUndefined;
      ptrs.push_back(present ? &inputs[i] : nullptr);
      node_.inputs.push_back(present ? static_cast<int>(i) : -1);
    }
    node_.outputs.clear();
    for (size_t i = 0; i < num_outputs; ++i) node_.outputs.push_back(static_cast<int>(inputs.size() + i));
    std::vector<ops::ValueInfo> outs(num_outputs);
    ops::InferContext ctx(node_, 0, opset_, ptrs, outs);
    schema->infer(ctx);
    return outs;
  }

 private:
  ir::Node node_;
  int opset_;
};

/// A ValueInfo with a known or symbolic shape and optionally a known value.
inline ops::ValueInfo vinfo(DType t, Shape s, const Tensor* value = nullptr) { return {t, std::move(s), value}; }
inline Dim sym(const char* name) { return Dim::symbol(name); }

}  // namespace kiln::testing
