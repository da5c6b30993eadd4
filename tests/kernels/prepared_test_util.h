#pragma once
// Runs one node through its prepared (fast) kernel and through its reference compute, for the op-level tests of
// prepared kernels: the node is prepared as a session would prepare it (inputs marked constant carry their
// value; shapes may be hidden as at prepare time of a model with symbolic dims), then run with a thread pool of
// 1 or 2 threads, at every ISA tier this CPU has.
//   PreparedCall call("MaxPool", 22);
//   call.attr("kernel_shape", std::vector<int64_t>{3, 3});
//   expect_prepared_matches(call, {x}, {.rtol = 0});

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "ops/op.h"
#include "runtime/eval_node.h"

namespace kiln::testing {

class PreparedCall {
 public:
  PreparedCall(std::string op_type, int opset) : opset_(opset) {
    node_.op_type = std::move(op_type);
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
  PreparedCall& attr(const std::string& name, std::vector<float> v) {
    return add(name, ir::AttrType::kFloats, [&](auto& a) { a.floats = v; });
  }
  /// Number of outputs the node lists (default 1).
  PreparedCall& outputs(size_t n) {
    num_outputs_ = n;
    return *this;
  }
  int opset() const { return opset_; }

  /// The reference: inference and `compute` (an undefined Tensor() is an absent optional input).
  std::vector<Tensor> reference(const std::vector<Tensor>& inputs) {
    bind(inputs);
    return runtime::evaluate_node(node_, 0, opset_, pointers(inputs));
  }

  /// The op's prepare at the active tier. `constant[i]` marks input i as a constant (its value visible);
  /// `hide_shapes` gives prepare only the ranks of the non-constant inputs, as for a model with symbolic dims.
  std::unique_ptr<ops::PreparedKernel> prepare(const std::vector<Tensor>& inputs, const std::vector<bool>& constant,
                                               bool hide_shapes) {
    bind(inputs);
    const ops::OpSchema* schema = ops::find_op("", node_.op_type);
    if (!schema || !schema->prepare) return nullptr;
    infos_.assign(inputs.size(), ops::ValueInfo());
    std::vector<const ops::ValueInfo*> ptrs(inputs.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) continue;
      const bool is_const = i < constant.size() && constant[i];
      infos_[i] = ops::ValueInfo::of(inputs[i], is_const);
      if (hide_shapes && !is_const) infos_[i].shape = Shape(std::vector<Dim>(inputs[i].rank()));
      ptrs[i] = &infos_[i];
    }
    ops::PrepareContext ctx(node_, 0, opset_, ptrs);
    return schema->prepare(ctx);
  }

  /// Runs a prepared kernel of this node on `inputs` with outputs sized by inference, on `pool` (may be null).
  std::vector<Tensor> run(const ops::PreparedKernel& kernel, const std::vector<Tensor>& inputs,
                          kernels::ThreadPool* pool) {
    bind(inputs);
    const ops::OpSchema* schema = ops::find_op("", node_.op_type);
    std::vector<ops::ValueInfo> in_infos(inputs.size());
    std::vector<const ops::ValueInfo*> in_ptrs(inputs.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) continue;
      in_infos[i] = ops::ValueInfo::of(inputs[i], true);
      in_ptrs[i] = &in_infos[i];
    }
    std::vector<ops::ValueInfo> out_infos(node_.outputs.size());
    ops::InferContext ictx(node_, 0, opset_, in_ptrs, out_infos);
    schema->infer(ictx);
    std::vector<Tensor> outputs = runtime::allocate_outputs(out_infos);
    // Fill outputs with a pattern so an element the kernel forgets to write shows up.
    for (Tensor& t : outputs)
      if (t.defined() && t.nbytes() > 0) std::memset(t.raw_data(), 0x7f, t.nbytes());
    std::vector<const Tensor*> ptrs = pointers(inputs);
    ops::KernelContext kctx(node_, 0, opset_, ptrs, outputs, nullptr);
    kctx.set_threads(pool);
    kernel.run(kctx);
    return outputs;
  }

 private:
  template <typename F> PreparedCall& add(const std::string& name, ir::AttrType type, F set) {
    ir::Attribute a;
    a.name = name;
    a.type = type;
    set(a);
    node_.attributes.push_back(std::move(a));
    return *this;
  }
  void bind(const std::vector<Tensor>& inputs) {
    node_.inputs.clear();
    for (size_t i = 0; i < inputs.size(); ++i) node_.inputs.push_back(inputs[i].defined() ? static_cast<int>(i) : -1);
    node_.outputs.clear();
    for (size_t i = 0; i < num_outputs_; ++i) node_.outputs.push_back(static_cast<int>(inputs.size() + i));
  }
  static std::vector<const Tensor*> pointers(const std::vector<Tensor>& inputs) {
    std::vector<const Tensor*> p;
    for (const Tensor& t : inputs) p.push_back(t.defined() ? &t : nullptr);
    return p;
  }

  ir::Node node_;
  int opset_;
  size_t num_outputs_ = 1;
  std::vector<ops::ValueInfo> infos_;  // alive while a prepare runs
};

/// Restores the ISA cap a test changed.
class IsaCapGuard {
 public:
  IsaCapGuard() : saved_(kernels::active_isa()) {}
  ~IsaCapGuard() { kernels::set_isa_cap(saved_); }

 private:
  kernels::IsaTier saved_;
};

/// Op-level tests of prepared kernels run once per fast tier: TEST_P(Suite, ...) on a fixture derived from
/// TierTest, instantiated with KILN_INSTANTIATE_TIERS(Suite). A tier this CPU lacks is skipped, saying so.
class TierTest : public ::testing::TestWithParam<kernels::IsaTier> {
 protected:
  void SetUp() override {
    if (!kernels::isa_available(GetParam()))
      GTEST_SKIP() << "this CPU cannot run " << kernels::isa_name(GetParam()) << " kernels (detected tier: "
                   << kernels::isa_name(kernels::detected_isa()) << ")";
  }
  kernels::IsaTier tier() const { return GetParam(); }
};
#define KILN_INSTANTIATE_TIERS(Suite)                                                                     \
  INSTANTIATE_TEST_SUITE_P(Tiers, Suite, ::testing::Values(::kiln::kernels::IsaTier::kAvx2,              \
                                                           ::kiln::kernels::IsaTier::kAvx512),           \
                           [](const ::testing::TestParamInfo<::kiln::kernels::IsaTier>& i) {             \
                             return std::string(::kiln::kernels::isa_name(i.param));                     \
                           })

/// How expect_prepared_matches compares and prepares: MatchOptions().tol(1e-5, 1e-6).hidden_shapes().
struct MatchOptions {
  double rtol = 0;  ///< 0 and atol 0: bit-identical (data movement); NaN always matches NaN
  double atol = 0;
  std::vector<bool> constant;  ///< inputs given to prepare as constants
  bool hide_shapes = false;
  bool expect_prepared = true;  ///< fail when prepare declines the node

  MatchOptions& tol(double r, double a) { rtol = r, atol = a; return *this; }
  MatchOptions& constants(std::vector<bool> c) { constant = std::move(c); return *this; }
  MatchOptions& hidden_shapes(bool h = true) { hide_shapes = h; return *this; }
  MatchOptions& may_decline() { expect_prepared = false; return *this; }
};

/// Bitwise equal, or within atol + rtol * |want| elementwise with NaN matching NaN.
inline void expect_same_tensor(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.dims(), want.dims()) << what;
  if (rtol == 0 && atol == 0) {
    ASSERT_EQ(got.nbytes(), want.nbytes()) << what;
    if (got.nbytes() == 0) return;
    if (std::memcmp(got.raw_data(), want.raw_data(), got.nbytes()) == 0) return;
  }
  int reported = 0;
  for (int64_t i = 0; i < got.numel() && reported < 6; ++i) {
    const double a = got.double_at(i), b = want.double_at(i);
    const bool ok = std::isnan(b) ? std::isnan(a) : (a == b || std::abs(a - b) <= atol + rtol * std::abs(b));
    if (!ok) {
      ++reported;
      ADD_FAILURE() << what << ": element " << i << " is " << a << ", reference " << b;
    }
  }
  if (rtol == 0 && atol == 0 && reported == 0) {
    ADD_FAILURE() << what << ": values equal but bytes differ (sign of zero or NaN payload)";
  }
}

/// Prepares `call` at `tier` and checks, on 1 and 2 threads, every output against the reference compute; the
/// 1- and 2-thread results must be bit-identical. Returns false when prepare declined the node.
inline bool expect_prepared_matches(kernels::IsaTier tier, PreparedCall& call, const std::vector<Tensor>& inputs,
                                    const MatchOptions& o = MatchOptions()) {
  const std::vector<Tensor> want = call.reference(inputs);
  IsaCapGuard guard;
  kernels::set_isa_cap(tier);
  const std::string at = std::string(" at ") + std::string(kernels::isa_name(tier));
  std::unique_ptr<ops::PreparedKernel> k = call.prepare(inputs, o.constant, o.hide_shapes);
  if (!k) {
    if (o.expect_prepared) ADD_FAILURE() << "prepare declined the node" << at;
    return false;
  }
  static kernels::ThreadPool two(2);
  const std::vector<Tensor> one_thread = call.run(*k, inputs, nullptr);
  const std::vector<Tensor> two_threads = call.run(*k, inputs, &two);
  EXPECT_EQ(one_thread.size(), want.size());
  for (size_t i = 0; i < want.size() && i < one_thread.size(); ++i) {
    const std::string what = k->describe() + at + " output " + std::to_string(i);
    expect_same_tensor(one_thread[i], want[i], o.rtol, o.atol, what);
    expect_same_tensor(two_threads[i], one_thread[i], 0, 0, what + " (2 threads vs 1)");
  }
  return true;
}

}  // namespace kiln::testing
