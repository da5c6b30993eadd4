#pragma once
// Runs one node through its op's fast path (schema->prepare, then PreparedKernel::run) and through its
// reference (inference + schema->compute), for op-level tests of prepared kernels.
//   PreparedNode n("Conv", 22);
//   n.attr(...).input(x).constant(w);
//   Tensor want = n.reference()[0];
//   auto k = n.prepare();            // at the active ISA tier
//   Tensor got = n.run(*k, pool)[0];  // outputs allocated with the reference's dims

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "kiln/tensor.h"
#include "ops/op.h"
#include "runtime/eval_node.h"

namespace kiln::testing {

class PreparedNode {
 public:
  PreparedNode(std::string op_type, int opset, std::string domain = "") : opset_(opset) {
    node_.op_type = std::move(op_type);
    node_.domain = std::move(domain);
    node_.name = "prepared_" + node_.op_type;
  }

  PreparedNode& attr(ir::Attribute a) {
    node_.attributes.push_back(std::move(a));
    return *this;
  }
  /// A run-time input (prepare sees its dtype, and its shape unless `shape_known` is false).
  PreparedNode& input(Tensor t, bool shape_known = true) { return add(std::move(t), false, shape_known); }
  /// A constant input (prepare sees its value: weights it may pack).
  PreparedNode& constant(Tensor t) { return add(std::move(t), true, true); }
  /// An absent optional input.
  PreparedNode& absent() { return add(Tensor(), false, false); }
  /// Replaces input i's tensor for the next run (same constness as declared; prepare is not repeated).
  void set_input(size_t i, Tensor t) { inputs_.at(i) = std::move(t); }

  std::vector<Tensor> reference(size_t outputs = 1) {
    finish(outputs);
    return runtime::evaluate_node(node_, 0, opset_, tensor_ptrs());
  }

  std::unique_ptr<ops::PreparedKernel> prepare(size_t outputs = 1) {
    finish(outputs);
    const ops::OpSchema* schema = ops::find_op(node_.domain, node_.op_type);
    if (!schema || !schema->prepare) return nullptr;
    std::vector<ops::ValueInfo> infos(inputs_.size());
    std::vector<const ops::ValueInfo*> ptrs(inputs_.size(), nullptr);
    for (size_t i = 0; i < inputs_.size(); ++i) {
      if (!inputs_[i].defined()) continue;
      infos[i].dtype = inputs_[i].dtype();
      infos[i].shape = shape_known_[i] ? Shape::from(inputs_[i].dims()) : Shape::unknown_rank();
      if (constant_[i]) infos[i].value = &inputs_[i];
      ptrs[i] = &infos[i];
    }
    ops::PrepareContext ctx(node_, 0, opset_, ptrs);
    return schema->prepare(ctx);
  }

  /// Runs `k` with outputs of the given dims (float32) on `pool` (may be null).
  std::vector<Tensor> run(const ops::PreparedKernel& k, const std::vector<std::vector<int64_t>>& out_dims,
                          kernels::ThreadPool* pool) {
    std::vector<Tensor> outs;
    for (const auto& d : out_dims) outs.emplace_back(DType::kFloat32, d);
    auto ptrs = tensor_ptrs();
    ops::KernelContext ctx(node_, 0, opset_, ptrs, outs, nullptr);
    ctx.set_threads(pool);
    k.run(ctx);
    return outs;
  }

 private:
  PreparedNode& add(Tensor t, bool constant, bool shape_known) {
    inputs_.push_back(std::move(t));
    constant_.push_back(constant);
    shape_known_.push_back(shape_known);
    return *this;
  }
  void finish(size_t outputs) {
    node_.inputs.clear();
    for (size_t i = 0; i < inputs_.size(); ++i) node_.inputs.push_back(inputs_[i].defined() ? static_cast<int>(i) : -1);
    node_.outputs.clear();
    for (size_t i = 0; i < outputs; ++i) node_.outputs.push_back(static_cast<int>(inputs_.size() + i));
  }
  std::vector<const Tensor*> tensor_ptrs() const {
    std::vector<const Tensor*> p;
    for (const Tensor& t : inputs_) p.push_back(t.defined() ? &t : nullptr);
    return p;
  }

  ir::Node node_;
  int opset_;
  std::vector<Tensor> inputs_;
  std::vector<bool> constant_, shape_known_;
};

inline ir::Attribute int_attr(std::string n, int64_t v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kInt, a.i = v;
  return a;
}
inline ir::Attribute ints_attr(std::string n, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kInts, a.ints = std::move(v);
  return a;
}
inline ir::Attribute string_attr(std::string n, std::string v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kString, a.s = std::move(v);
  return a;
}
inline ir::Attribute floats_attr(std::string n, std::vector<float> v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kFloats, a.floats = std::move(v);
  return a;
}

// Restores the ISA cap the tests started with (the highest: a cap above the CPU's tier has no effect).
struct IsaCapGuard {
  ~IsaCapGuard() { kernels::set_isa_cap(kernels::IsaTier::kAvx512); }
};

/// Expects the same dims and every element within 1e-4 (absolute and relative); reports the first few misses.
inline void expect_close_f32(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dims(), want.dims()) << what;
  int bad = 0;
  for (int64_t i = 0; i < got.numel() && bad < 5; ++i) {
    const float a = got.data<float>()[i], b = want.data<float>()[i];
    const bool ok = std::isnan(b) ? std::isnan(a) : std::abs(a - b) <= 1e-4f + 1e-4f * std::abs(b);
    if (!ok) ADD_FAILURE() << what << ": element " << i << " is " << a << ", expected " << b, ++bad;
  }
}

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.dims() == b.dims() &&
         std::equal(a.data<float>(), a.data<float>() + a.numel(), b.data<float>(), b.data<float>() + b.numel());
}

}  // namespace kiln::testing
