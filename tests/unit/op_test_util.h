#pragma once
// Builds one-node graphs by hand and runs them through inference and the reference kernel.
//   auto out = OpCall("Softmax", 13).attr("axis", int64_t{-1}).run({x});

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/eval_node.h"

namespace kiln::testing {

class OpCall {
 public:
  OpCall(std::string op_type, int opset, std::string domain = "") : opset_(opset) {
    node_.op_type = std::move(op_type);
    node_.domain = std::move(domain);
    node_.name = "test_" + node_.op_type;
  }
  OpCall& attr(const std::string& name, int64_t v) { return add(name, ir::AttrType::kInt, [&](auto& a) { a.i = v; }); }
  OpCall& attr(const std::string& name, float v) { return add(name, ir::AttrType::kFloat, [&](auto& a) { a.f = v; }); }
  OpCall& attr(const std::string& name, std::string v) {
    return add(name, ir::AttrType::kString, [&](auto& a) { a.s = v; });
  }
  OpCall& attr(const std::string& name, std::vector<int64_t> v) {
    return add(name, ir::AttrType::kInts, [&](auto& a) { a.ints = v; });
  }
  OpCall& attr(const std::string& name, std::vector<float> v) {
    return add(name, ir::AttrType::kFloats, [&](auto& a) { a.floats = v; });
  }
  OpCall& attr(const std::string& name, Tensor v) {
    return add(name, ir::AttrType::kTensor, [&](auto& a) { a.t = v; });
  }
  /// Number of outputs the node lists (default 1).
  OpCall& outputs(size_t n) {
    num_outputs_ = n;
    return *this;
  }
  /// Runs with these inputs; an undefined Tensor() stands for an absent optional input.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) {
    std::vector<const Tensor*> ptrs;
    node_.inputs.clear();
    for (size_t i = 0; i < inputs.size(); ++i) {
      ptrs.push_back(inputs[i].defined() ? &inputs[i] : nullptr);
      node_.inputs.push_back(inputs[i].defined() ? static_cast<int>(i) : -1);
    }
    node_.outputs.clear();
    for (size_t i = 0; i < num_outputs_; ++i) node_.outputs.push_back(static_cast<int>(inputs.size() + i));
    return runtime::evaluate_node(node_, 0, opset_, ptrs);
  }
  Tensor run1(const std::vector<Tensor>& inputs) { return run(inputs).at(0); }

 private:
  template <typename F> OpCall& add(const std::string& name, ir::AttrType type, F set) {
    ir::Attribute a;
    a.name = name;
    a.type = type;
    set(a);
    node_.attributes.push_back(std::move(a));
    return *this;
  }
  ir::Node node_;
  int opset_;
  size_t num_outputs_ = 1;
};

/// An ints attribute.
inline ir::Attribute attr_ints(std::string n, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = std::move(n);
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

/// A symbolic dim.
inline Dim sym(const char* name) { return Dim::symbol(name); }

/// A float32 tensor of the given dims and values.
inline Tensor f32(std::vector<int64_t> dims, std::vector<float> v) { return Tensor::from_vector<float>(std::move(dims), v); }

/// Expects equal dims and elementwise closeness (|a-b| <= atol + rtol*|b|).
inline void expect_close(const Tensor& got, const Tensor& want, double rtol = 1e-5, double atol = 1e-6) {
  ASSERT_EQ(got.dims(), want.dims());
  ASSERT_EQ(got.dtype(), want.dtype());
  for (int64_t i = 0; i < got.numel(); ++i) {
    double a = got.double_at(i), b = want.double_at(i);
    EXPECT_NEAR(a, b, atol + rtol * std::abs(b)) << "at element " << i;
  }
}

}  // namespace kiln::testing
