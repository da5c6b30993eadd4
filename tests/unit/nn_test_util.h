#pragma once
// Helpers shared by the NN op tests: random tensors, and running only an op's shape inference on symbolic
// input shapes (OpCall runs inference on concrete tensors only).

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/isa.h"
#include "kiln/tensor.h"
#include "ops/op.h"

namespace kiln::testing {

/// A float32 tensor of a fixed pattern in [-0.5, 0.5): weights that vary with `salt`, alike on every run.
inline Tensor ramp_tensor(std::vector<int64_t> dims, int salt) {
  Tensor t(DType::kFloat32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>((i * 37 + salt) % 29) / 29.0f - 0.5f;
  return t;
}

/// Uniform random values in [-1, 1) (rounded to the type for float16/bfloat16/double).
inline Tensor random_tensor(std::vector<int64_t> dims, std::mt19937& rng, DType t = DType::kFloat32) {
  Tensor x(t, std::move(dims));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = u(rng);
    switch (t) {
      case DType::kFloat32: x.data<float>()[i] = v; break;
      case DType::kFloat64: x.data<double>()[i] = v; break;
      case DType::kFloat16: x.data<Float16>()[i] = Float16(v); break;
      case DType::kBFloat16: x.data<BFloat16>()[i] = BFloat16(v); break;
      default: ADD_FAILURE() << "random_tensor: unsupported type";
    }
  }
  return x;
}

/// Element i of a float-typed tensor as double.
inline double at(const Tensor& t, int64_t i) { return t.double_at(i); }

/// A node for inference-only tests, its attributes set by name (op_fixture.h's InferCall takes ir::Attribute
/// values; two classes of one name would break the one-definition rule in the test binary).
struct InferNode {
  ir::Node node;
  int opset;
  InferNode(std::string op, int opset_) : opset(opset_) {
    node.op_type = std::move(op);
    node.name = "infer_" + node.op_type;
  }
  InferNode& ints(const std::string& name, std::vector<int64_t> v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::kInts;
    a.ints = std::move(v);
    node.attributes.push_back(a);
    return *this;
  }
  InferNode& integer(const std::string& name, int64_t v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::kInt;
    a.i = v;
    node.attributes.push_back(a);
    return *this;
  }
  InferNode& str(const std::string& name, std::string v) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::kString;
    a.s = std::move(v);
    node.attributes.push_back(a);
    return *this;
  }
  /// Runs the op's inference on (dtype, shape) inputs; returns the output infos.
  std::vector<ops::ValueInfo> run(const std::vector<std::pair<DType, Shape>>& inputs, size_t outputs = 1) {
    std::vector<ops::ValueInfo> in(inputs.size());
    std::vector<const ops::ValueInfo*> ptrs;
    node.inputs.clear();
    for (size_t i = 0; i < inputs.size(); ++i) {
      in[i].dtype = inputs[i].first;
      in[i].shape = inputs[i].second;
      ptrs.push_back(&in[i]);
      node.inputs.push_back(static_cast<int>(i));
    }
    node.outputs.clear();
    for (size_t i = 0; i < outputs; ++i) node.outputs.push_back(static_cast<int>(inputs.size() + i));
    std::vector<ops::ValueInfo> out(outputs);
    const ops::OpSchema* s = ops::find_op("", node.op_type);
    if (!s) throw Error(ErrorCode::kUnsupported, "no op " + node.op_type);
    ops::InferContext ctx(node, 0, opset, ptrs, out);
    s->infer(ctx);
    return out;
  }
};

/// Runs `f` and returns the Error message it throws ("" when it does not throw).
template <typename F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// Whether ops prepare fast kernels at the active ISA tier (at the ref tier they run the reference).
inline bool prepares() { return kernels::active_isa() != kernels::IsaTier::kRef; }

/// The activations a fused Conv or MatMul takes (its "activation" attribute; "" is none), for the tests that
/// cycle through them.
inline constexpr const char* kFusedActivations[] = {"",          "Relu",      "Clip", "LeakyRelu", "Sigmoid", "Tanh",
                                                    "HardSigmoid", "HardSwish", "Silu", "GeluErf",   "GeluTanh"};

}  // namespace kiln::testing
