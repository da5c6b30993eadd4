#pragma once
// Runs one node through its op's fast path (OpSchema::prepare, then PreparedKernel::run) at a chosen ISA
// tier, and through the reference compute, so op-level tests compare the two on the same inputs.
//   PreparedCall("Softmax", 13).attr("axis", int64_t{0}).compare({x}, IsaTier::kAvx2, pool);

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "ops/op.h"
#include "runtime/eval_node.h"
#include "../unit/op_test_util.h"

namespace kiln::testing {

class PreparedCall {
 public:
  PreparedCall(std::string op_type, int opset, std::string domain = "") : opset_(opset) {
    node_.op_type = std::move(op_type);
    node_.domain = std::move(domain);
    node_.name = "prepared_" + node_.op_type;
  }
  PreparedCall& attr(const std::string& name, int64_t v) { return add(name, ir::AttrType::kInt, [&](auto& a) { a.i = v; }); }
  PreparedCall& attr(const std::string& name, float v) { return add(name, ir::AttrType::kFloat, [&](auto& a) { a.f = v; }); }
  PreparedCall& attr(const std::string& name, std::string v) {
    return add(name, ir::AttrType::kString, [&](auto& a) { a.s = v; });
  }
  PreparedCall& attr(const std::string& name, std::vector<int64_t> v) {
    return add(name, ir::AttrType::kInts, [&](auto& a) { a.ints = v; });
  }
  /// Input i is seen by prepare as a constant (its value known), like an initializer.
  PreparedCall& constant(size_t i) {
    constants_.push_back(i);
    return *this;
  }

  /// The fast path's outputs at `tier`, or nullopt when prepare declined the node.
  std::optional<std::vector<Tensor>> run_prepared(const std::vector<Tensor>& inputs, kernels::IsaTier tier,
                                                  kernels::ThreadPool* pool, std::string* describe = nullptr) {
    set_node_io(inputs);
    std::vector<ops::ValueInfo> infos(inputs.size());
    std::vector<const ops::ValueInfo*> ptrs(inputs.size(), nullptr);
    std::vector<const Tensor*> in_ptrs(inputs.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) continue;
      const bool is_const = std::find(constants_.begin(), constants_.end(), i) != constants_.end();
      infos[i] = ops::ValueInfo(inputs[i].dtype(), Shape::from(inputs[i].dims()), is_const ? &inputs[i] : nullptr);
      ptrs[i] = &infos[i];
      in_ptrs[i] = &inputs[i];
    }
    const ops::OpSchema* schema = ops::find_op(node_.domain, node_.op_type);
    EXPECT_TRUE(schema && schema->prepare) << node_.op_type << " has no prepare";
    if (!schema || !schema->prepare) return std::nullopt;
    kernels::set_isa_cap(tier);
    ops::PrepareContext pctx(node_, 0, opset_, ptrs);
    std::unique_ptr<ops::PreparedKernel> k = schema->prepare(pctx);
    kernels::set_isa_cap(kernels::IsaTier::kAvx512);
    if (!k) return std::nullopt;
    if (describe) *describe = k->describe();
    // Outputs sized by inference, as the runtime does.
    std::vector<ops::ValueInfo> in_infos(inputs.size()), out_infos(node_.outputs.size());
    std::vector<const ops::ValueInfo*> in_info_ptrs(inputs.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].defined()) in_infos[i] = ops::ValueInfo::of(inputs[i], true), in_info_ptrs[i] = &in_infos[i];
    ops::InferContext ictx(node_, 0, opset_, in_info_ptrs, out_infos);
    schema->infer(ictx);
    std::vector<Tensor> outputs = runtime::allocate_outputs(out_infos);
    ops::KernelContext kctx(node_, 0, opset_, in_ptrs, outputs, nullptr);
    kctx.set_threads(pool);
    k->run(kctx);
    return outputs;
  }

  std::vector<Tensor> run_reference(const std::vector<Tensor>& inputs) {
    set_node_io(inputs);
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    return runtime::evaluate_node(node_, 0, opset_, ptrs);
  }

  /// Prepared (must not decline) against reference, output 0, |a - b| <= atol + rtol |b|.
  void compare(const std::vector<Tensor>& inputs, kernels::IsaTier tier, kernels::ThreadPool* pool,
               double rtol = 1e-5, double atol = 1e-6) {
    std::string what;
    auto got = run_prepared(inputs, tier, pool, &what);
    ASSERT_TRUE(got.has_value()) << node_.op_type << ": prepare declined";
    SCOPED_TRACE(node_.op_type + " via " + what);
    expect_close(got->at(0), run_reference(inputs).at(0), rtol, atol);
  }

 private:
  void set_node_io(const std::vector<Tensor>& inputs) {
    node_.inputs.clear();
    for (size_t i = 0; i < inputs.size(); ++i) node_.inputs.push_back(inputs[i].defined() ? static_cast<int>(i) : -1);
    node_.outputs = {static_cast<int>(inputs.size())};
  }
  template <typename F> PreparedCall& add(const std::string& name, ir::AttrType type, F set) {
    ir::Attribute a;
    a.name = name;
    a.type = type;
    set(a);
    node_.attributes.push_back(std::move(a));
    return *this;
  }

  ir::Node node_;
  int opset_;
  std::vector<size_t> constants_;
};

}  // namespace kiln::testing
