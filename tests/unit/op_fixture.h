#pragma once
// Data-driven op tests. tests/unit/fixtures/make_op_fixtures.py runs each case through an independent
// reference (onnx.reference or onnxruntime) and writes the inputs and expected outputs as constant C++ data
// (tests/unit/fixtures/<family>_cases.inc, defining kFixtureCases); a test file includes one inside a namespace
// of its own (<family>_cases: the test files build in unity batches, and every family's arrays have the same names)
// and declares KILN_FIXTURE_SUITE(Suite, <family>_cases::kFixtureCases), which replays every case through kiln and
// compares every output. InferCall runs only an op's shape inference, on symbolic shapes.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ir/dispatch.h"
#include "op_test_util.h"
#include "ops/op.h"

namespace kiln::testing {

/// The fixture files are plain constant data (arrays of numbers and of these structs), so even hundreds of
/// cases compile in moments, sanitizers included.

/// A tensor written out by the fixture script; dtype kUndefined stands for an absent optional input.
struct FxValue {
  DType dtype = DType::kUndefined;
  int rank = 0;
  int64_t dims[8] = {};
  const double* data = nullptr;
  size_t size = 0;

  std::vector<int64_t> shape() const { return std::vector<int64_t>(dims, dims + rank); }
};

struct FxAttr {
  const char* name;
  ir::AttrType type;
  int64_t i;
  float f;
  const char* s;
  const int64_t* ints;
  size_t n_ints;
  const float* floats;
  size_t n_floats;
};

struct FxCase {
  const char* name;
  const char* op;
  int opset;
  const FxAttr* attrs;
  size_t n_attrs;
  const FxValue* inputs;
  size_t n_inputs;
  const FxValue* outputs;
  size_t n_outputs;
  double rtol;
  double atol;
};

/// Builds a kiln tensor from fixture data (values converted to the element type).
inline Tensor fx_tensor(const FxValue& v) {
  if (v.dtype == DType::kUndefined) return Tensor();
  Tensor t(v.dtype, v.shape());
  if (static_cast<size_t>(t.numel()) != v.size) ADD_FAILURE() << "fixture value count does not match dims";
  visit_numeric_or_bool(v.dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size && i < static_cast<size_t>(t.numel()); ++i) {
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
  ASSERT_EQ(got.dims(), want.shape()) << what;
  ASSERT_EQ(static_cast<size_t>(got.numel()), want.size) << what;
  int reported = 0;
  for (int64_t i = 0; i < got.numel() && reported < 8; ++i) {
    double a = got.double_at(i), b = want.data[i];
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
  const std::string name = c.name;
  SCOPED_TRACE(name + " (" + c.op + "-" + std::to_string(c.opset) + ")");
  OpCall call(c.op, c.opset);
  for (size_t k = 0; k < c.n_attrs; ++k) {
    const FxAttr& a = c.attrs[k];
    switch (a.type) {
      case ir::AttrType::kInt: call.attr(a.name, a.i); break;
      case ir::AttrType::kFloat: call.attr(a.name, a.f); break;
      case ir::AttrType::kString: call.attr(a.name, std::string(a.s)); break;
      case ir::AttrType::kInts: call.attr(a.name, std::vector<int64_t>(a.ints, a.ints + a.n_ints)); break;
      case ir::AttrType::kFloats: call.attr(a.name, std::vector<float>(a.floats, a.floats + a.n_floats)); break;
      default: FAIL() << "unsupported fixture attribute type";
    }
  }
  std::vector<Tensor> inputs;
  for (size_t k = 0; k < c.n_inputs; ++k) inputs.push_back(fx_tensor(c.inputs[k]));
  call.outputs(c.n_outputs);
  std::vector<Tensor> got;
  try {
    got = call.run(inputs);
  } catch (const std::exception& e) {
    FAIL() << "threw: " << e.what();
  }
  ASSERT_EQ(got.size(), c.n_outputs);
  for (size_t i = 0; i < got.size(); ++i)
    expect_tensor_near(got[i], c.outputs[i], c.rtol, c.atol, name + " output " + std::to_string(i));
}

inline void PrintTo(const FxCase& c, std::ostream* os) { *os << c.name; }

/// Declares a parameterised test `Suite` replaying every case of `cases` (a C array of FxCase).
#define KILN_FIXTURE_SUITE(Suite, cases)                                                              \
  class Suite : public ::testing::TestWithParam<::kiln::testing::FxCase> {};                          \
  TEST_P(Suite, MatchesReference) { ::kiln::testing::run_fixture(GetParam()); }                        \
  INSTANTIATE_TEST_SUITE_P(Ref, Suite, ::testing::ValuesIn(cases),                                    \
                           [](const ::testing::TestParamInfo<::kiln::testing::FxCase>& i) {           \
                             return std::string(i.param.name);                                         \
                           })

/// Runs only shape inference on a one-node graph with the given input infos (shapes may hold symbols).
class InferCall {
 public:
  InferCall(std::string op_type, int opset) : opset_(opset) {
    node_.op_type = std::move(op_type);
    node_.name = "infer_" + node_.op_type;
  }
  InferCall& attr(const ir::Attribute& a) {
    node_.attributes.push_back(a);
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

/// Attributes for InferCall.
inline ir::Attribute attr_i(std::string n, int64_t v) {
  ir::Attribute a;
  a.name = std::move(n);
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}
inline ir::Attribute attr_s(std::string n, std::string v) {
  ir::Attribute a;
  a.name = std::move(n);
  a.type = ir::AttrType::kString;
  a.s = std::move(v);
  return a;
}
inline ir::Attribute attr_floats(std::string n, std::vector<float> v) {
  ir::Attribute a;
  a.name = std::move(n);
  a.type = ir::AttrType::kFloats;
  a.floats = std::move(v);
  return a;
}

/// A ValueInfo with a known or symbolic shape and optionally a known value.
inline ops::ValueInfo vinfo(DType t, Shape s, const Tensor* value = nullptr) { return {t, std::move(s), value}; }

}  // namespace kiln::testing
