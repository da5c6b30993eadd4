#pragma once
// Helpers for the data-movement op tests: tensors of any element type written as lists, attributes of every
// kind, and inference run alone on symbolic shapes (no data), the way a model's graph is inferred.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ir/dispatch.h"
#include "ir/graph.h"
#include "kiln/shape.h"
#include "op_test_util.h"
#include "ops/op.h"
#include "runtime/eval_node.h"

namespace kiln::testing {

/// An absent optional input.
inline Tensor absent() { return Tensor(); }

/// A tensor of an integer type or bool from int64 values.
inline Tensor ints(DType t, std::vector<int64_t> dims, const std::vector<int64_t>& v) {
  Tensor x(t, std::move(dims));
  EXPECT_EQ(static_cast<size_t>(x.numel()), v.size());
  visit_numeric_or_bool(t, [&]<typename T>() {
    for (size_t i = 0; i < v.size(); ++i) x.data<T>()[i] = static_cast<T>(v[i]);
  });
  return x;
}

/// A tensor of a float type from doubles.
inline Tensor floats(DType t, std::vector<int64_t> dims, const std::vector<double>& v) {
  Tensor x(t, std::move(dims));
  EXPECT_EQ(static_cast<size_t>(x.numel()), v.size());
  visit_float(t, [&]<typename T>() {
    for (size_t i = 0; i < v.size(); ++i) {
      if constexpr (std::is_same_v<T, double>) x.data<T>()[i] = v[i];
      else x.data<T>()[i] = T(static_cast<float>(v[i]));
    }
  });
  return x;
}

inline Tensor strings(std::vector<int64_t> dims, const std::vector<std::string>& v) {
  return Tensor::from_vector<std::string>(std::move(dims), v);
}

inline Tensor i64(std::vector<int64_t> v) { return ints(DType::kInt64, {static_cast<int64_t>(v.size())}, v); }
inline Tensor f32_from_f64(std::vector<int64_t> dims, const std::vector<double>& v) { return floats(DType::kFloat32, std::move(dims), v); }

inline ir::Attribute make_attr(std::string name, ir::AttrType type) {
  ir::Attribute a;
  a.name = std::move(name);
  a.type = type;
  return a;
}
inline ir::Attribute attr_int(std::string n, int64_t v) {
  auto a = make_attr(std::move(n), ir::AttrType::kInt);
  a.i = v;
  return a;
}
inline ir::Attribute attr_float(std::string n, double v) {
  auto a = make_attr(std::move(n), ir::AttrType::kFloat);
  a.f = static_cast<float>(v);
  return a;
}
inline ir::Attribute attr_string(std::string n, std::string v) {
  auto a = make_attr(std::move(n), ir::AttrType::kString);
  a.s = std::move(v);
  return a;
}
inline ir::Attribute attr_floats(std::string n, const std::vector<double>& v) {
  auto a = make_attr(std::move(n), ir::AttrType::kFloats);
  for (double d : v) a.floats.push_back(static_cast<float>(d));
  return a;
}
inline ir::Attribute attr_strings(std::string n, std::vector<std::string> v) {
  auto a = make_attr(std::move(n), ir::AttrType::kStrings);
  a.strings = std::move(v);
  return a;
}
inline ir::Attribute attr_tensor(std::string n, Tensor t) {
  auto a = make_attr(std::move(n), ir::AttrType::kTensor);
  a.t = std::move(t);
  return a;
}

/// A one-node graph node with `inputs` input slots (ids 0..n-1, -1 where absent) and `outputs` outputs.
inline ir::Node make_node(const std::string& op, std::vector<ir::Attribute> attrs, const std::vector<bool>& present,
                          size_t outputs) {
  ir::Node node;
  node.op_type = op;
  node.name = "test_" + op;
  node.attributes = std::move(attrs);
  for (size_t i = 0; i < present.size(); ++i) node.inputs.push_back(present[i] ? static_cast<int>(i) : -1);
  for (size_t i = 0; i < outputs; ++i) node.outputs.push_back(static_cast<int>(present.size() + i));
  return node;
}

/// Runs inference and the reference kernel on concrete tensors (undefined Tensor = absent input).
inline std::vector<Tensor> run_op(const std::string& op, int opset, std::vector<ir::Attribute> attrs,
                                  const std::vector<Tensor>& inputs, size_t outputs = 1) {
  std::vector<bool> present;
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) {
    present.push_back(t.defined());
    ptrs.push_back(t.defined() ? &t : nullptr);
  }
  ir::Node node = make_node(op, std::move(attrs), present, outputs);
  return runtime::evaluate_node(node, 0, opset, ptrs);
}

/// A value seen by inference: a type and a (possibly symbolic) shape, with content when known.
inline ops::ValueInfo info(DType t, Shape s) { return ops::ValueInfo(t, std::move(s)); }
inline ops::ValueInfo info_of(const Tensor& v) { return ops::ValueInfo(v.dtype(), Shape::from(v.dims()), &v); }

/// Runs only the op's inference, as a graph-level pass does before any data exists. nullopt infos are
/// absent inputs. Returns the inferred output infos (shape, dtype and any content inference recorded).
inline std::vector<ops::ValueInfo> infer_op(const std::string& op, int opset, std::vector<ir::Attribute> attrs,
                                            const std::vector<std::optional<ops::ValueInfo>>& inputs,
                                            size_t outputs = 1) {
  std::vector<bool> present;
  std::vector<const ops::ValueInfo*> ptrs;
  for (const auto& i : inputs) {
    present.push_back(i.has_value());
    ptrs.push_back(i ? &*i : nullptr);
  }
  ir::Node node = make_node(op, std::move(attrs), present, outputs);
  const ops::OpSchema* schema = ops::find_op("", op);
  EXPECT_NE(schema, nullptr) << op;
  std::vector<ops::ValueInfo> out(outputs);
  ops::InferContext ctx(node, 0, opset, ptrs, out);
  schema->infer(ctx);
  return out;
}

/// Partial content as text: "batch,3,?" (for compact expectations).
inline std::string partial_str(const ops::ValueInfo& v) {
  std::string s;
  if (v.value) {
    for (int64_t i = 0; i < v.value->numel(); ++i) s += fmt::format("{}{}", i ? "," : "", v.value->int_at(i));
    return s;
  }
  for (size_t i = 0; i < v.partial.size(); ++i) {
    const ops::SymbolicInt& e = v.partial[i];
    s += i ? "," : "";
    s += e.number ? std::to_string(*e.number) : e.symbol.empty() ? "?" : e.symbol;
  }
  return s;
}

/// Expects equal dtype, dims and elements (strings equal; numbers equal within rtol, NaN equal to NaN).
inline void expect_tensor_eq(const Tensor& got, const Tensor& want, double rtol = 0) {
  ASSERT_EQ(dtype_name(got.dtype()), dtype_name(want.dtype()));
  ASSERT_EQ(got.dims(), want.dims());
  for (int64_t i = 0; i < got.numel(); ++i) {
    if (want.dtype() == DType::kString) {
      EXPECT_EQ(got.data<std::string>()[i], want.data<std::string>()[i]) << "at element " << i;
      continue;
    }
    if (dtype_is_integer(want.dtype()) || want.dtype() == DType::kBool) {
      EXPECT_EQ(got.int_at(i), want.int_at(i)) << "at element " << i;
      continue;
    }
    double a = got.double_at(i), b = want.double_at(i);
    if (std::isnan(b)) EXPECT_TRUE(std::isnan(a)) << "at element " << i;
    else EXPECT_NEAR(a, b, rtol * std::abs(b)) << "at element " << i;
  }
}

}  // namespace kiln::testing
