// Fast paths of the float32 one-input math and activation ops (vunary kernels) and of Pow(x, 2).
#include <cfloat>
#include <string>

#include "kernels/isa.h"
#include "kernels/vunary/vunary.h"
#include "ops/elementwise_prepared.h"

namespace kiln::ops {

namespace prepared_detail {

void run_reference(KernelContext& ctx) {
  const OpSchema* schema = find_op(ctx.node().domain, ctx.node().op_type);
  KILN_ASSERT(schema && schema->compute);
  schema->compute(ctx);
}

bool input_is_f32(const PrepareContext& ctx, size_t i) {
  return ctx.has_input(i) && !ctx.input(i).is_container() && ctx.input(i).dtype == DType::kFloat32;
}

}  // namespace prepared_detail

namespace {

using kernels::UnaryOp;
using prepared_detail::for_chunks;
using prepared_detail::input_is_f32;
using prepared_detail::run_reference;

/// Elements per task below which splitting costs more than it saves. The memory-bound ops (a compare or an
/// fma per element) gain little from a second core (both share the memory bandwidth: PERF-NOTES), and on a
/// loaded machine waiting for a descheduled worker costs far more than the gain (measured: a 16 MiB Relu or
/// row mean at 2 threads had a median 2x its 1-thread time with other jobs on the cores), so they split only
/// past 1 Mi elements per task; the transcendental ones are compute-bound and split from 32 Ki.
int64_t grain_for(UnaryOp op) {
  switch (op) {
    case UnaryOp::kSigmoid: case UnaryOp::kTanh: case UnaryOp::kSilu: case UnaryOp::kGeluErf:
    case UnaryOp::kGeluTanh: case UnaryOp::kExp: case UnaryOp::kLog: case UnaryOp::kErf: case UnaryOp::kSoftplus:
      return int64_t{1} << 15;
    default:
      return int64_t{1} << 20;
  }
}

class UnaryKernel final : public PreparedKernel {
 public:
  UnaryKernel(UnaryOp op, float alpha, float beta, bool clip_inputs)
      : op_(op), alpha_(alpha), beta_(beta), clip_inputs_(clip_inputs),
        fn_(kernels::vunary_kernel_for(kernels::active_isa())) {
    for (const kernels::VUnaryKernel& k : kernels::vunary_kernels())
      if (k.fn == fn_) name_ = k.name;
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    float alpha = alpha_, beta = beta_;
    if (x.dtype() != DType::kFloat32 || !fn_ || (clip_inputs_ && !clip_bounds(ctx, alpha, beta))) {
      run_reference(ctx);
      return;
    }
    const float* in = x.data<float>();
    float* out = ctx.output(0).data<float>();
    for_chunks(ctx.threads(), x.numel(), grain_for(op_),
               [&](int64_t b, int64_t e) { fn_(op_, alpha, beta, in + b, out + b, e - b); });
  }

  std::string describe() const override {
    return std::string(kernels::unary_op_name(op_)) + " " + name_;
  }

 private:
  /// Clip-11+: min and max are optional one-element inputs read at run time (they may be computed).
  static bool clip_bounds(const KernelContext& ctx, float& lo, float& hi) {
    for (size_t i = 1; i <= 2; ++i) {
      if (!ctx.has_input(i)) continue;
      const Tensor& t = ctx.input(i);
      if (t.dtype() != DType::kFloat32 || t.numel() != 1) return false;  // the reference reports it
      (i == 1 ? lo : hi) = t.data<float>()[0];
    }
    return true;
  }

  UnaryOp op_;
  float alpha_, beta_;
  bool clip_inputs_;
  kernels::VUnaryFn fn_;
  const char* name_ = "?";
};

}  // namespace

std::unique_ptr<PreparedKernel> prepare_unary(PrepareContext& ctx) {
  if (!input_is_f32(ctx, 0)) return nullptr;
  const std::string& op = ctx.node().op_type;
  float alpha = 0, beta = 0;
  UnaryOp u;
  bool clip_inputs = false;
  if (op == "Relu") u = UnaryOp::kRelu;
  else if (op == "LeakyRelu") u = UnaryOp::kLeakyRelu, alpha = ctx.attr_float("alpha", 0.01f);
  else if (op == "Sigmoid") u = UnaryOp::kSigmoid;
  else if (op == "Tanh") u = UnaryOp::kTanh;
  else if (op == "HardSigmoid")
    u = UnaryOp::kHardSigmoid, alpha = ctx.attr_float("alpha", 0.2f), beta = ctx.attr_float("beta", 0.5f);
  else if (op == "HardSwish") u = UnaryOp::kHardSwish;
  else if (op == "Softplus") u = UnaryOp::kSoftplus;
  else if (op == "Erf") u = UnaryOp::kErf;
  else if (op == "Exp") u = UnaryOp::kExp;
  else if (op == "Log") u = UnaryOp::kLog;
  else if (op == "Sqrt") u = UnaryOp::kSqrt;
  else if (op == "Neg") u = UnaryOp::kNeg;
  else if (op == "Abs") u = UnaryOp::kAbs;
  else if (op == "Gelu") {
    const std::string approximate = ctx.attr_string("approximate", "none");
    if (approximate == "none") u = UnaryOp::kGeluErf;
    else if (approximate == "tanh") u = UnaryOp::kGeluTanh;
    else return nullptr;  // the reference reports the bad attribute
  } else if (op == "Clip") {
    u = UnaryOp::kClip;
    alpha = -FLT_MAX;
    beta = FLT_MAX;
    if (ctx.opset() < 11) {
      alpha = ctx.attr_float("min", -FLT_MAX);
      beta = ctx.attr_float("max", FLT_MAX);
    } else {
      clip_inputs = true;
    }
  } else {
    return nullptr;
  }
  return std::make_unique<UnaryKernel>(u, alpha, beta, clip_inputs);
}

std::unique_ptr<PreparedKernel> prepare_pow(PrepareContext& ctx) {
  // x ** 2 (exported x.pow(2), e.g. inside a decomposed LayerNorm): x * x is exactly what the reference's
  // double pow rounds to. The exponent must be a constant 2; anything else stays with the reference.
  if (!input_is_f32(ctx, 0)) return nullptr;
  const Tensor* e = ctx.input_value(1);
  if (!e || e->numel() != 1 || e->double_at(0) != 2.0 || ctx.opset() < 7) return nullptr;
  return std::make_unique<UnaryKernel>(UnaryOp::kSquare, 0.0f, 0.0f, false);
}

}  // namespace kiln::ops
