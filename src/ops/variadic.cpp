// Ops over any number of inputs, all broadcast together: Min, Max, Sum, Mean.
// The output is built up pairwise: out = op(in0, in1), then out = op(out, in_k) in place (the output has
// the full broadcast shape, so it always advances one element at a time and reading before writing each
// element is safe).
#include <cmath>

#include "ir/dispatch.h"
#include "ops/elementwise.h"
#include "ops/elementwise_prepared.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

enum class Fold { kMin, kMax, kSum };

template <typename T, Fold kOp> T fold(T x, T y) {
  using C = Acc<T>;
  if constexpr (kOp == Fold::kSum) {
    if constexpr (is_float_v<T>) return T(C(x) + C(y));
    else return wrap_add(x, y);
  } else {
    if constexpr (is_float_v<T>) {  // NaN wins, as numpy's minimum/maximum and the ONNX reference do
      if (std::isnan(C(x))) return x;
      if (std::isnan(C(y))) return y;
    }
    if constexpr (kOp == Fold::kMin) return C(y) < C(x) ? y : x;
    else return C(x) < C(y) ? y : x;
  }
}

void check_has_inputs(const NodeContext& ctx, size_t n) {
  if (n == 0) ctx.fail("needs at least one input");
}

template <uint32_t Allowed> void infer_variadic(InferContext& ctx) {
  check_has_inputs(ctx, ctx.num_inputs());
  infer_broadcast(ctx, Allowed);
}

template <typename T, Fold kOp> void fold_all(KernelContext& ctx, Tensor& out) {
  std::vector<const Tensor*> in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i)) in.push_back(&ctx.input(i));
  check_has_inputs(ctx, in.size());
  if (in.size() == 1) {
    copy_elements(*in[0], out);  // inference gave the output this input's shape
    return;
  }
  broadcast_binary<T, T, T>(*in[0], *in[1], out, fold<T, kOp>);
  for (size_t k = 2; k < in.size(); ++k) broadcast_binary<T, T, T>(out, *in[k], out, fold<T, kOp>);
}

template <Fold kOp> void compute_fold(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  visit_numeric(out.dtype(), [&]<typename T>() { fold_all<T, kOp>(ctx, out); }, ctx.node().op_type.c_str());
}

void compute_mean(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  visit_float(out.dtype(), [&]<typename T>() {
    fold_all<T, Fold::kSum>(ctx, out);
    size_t count = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) count += ctx.has_input(i);
    using C = Acc<T>;
    const C n = C(count);
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = T(C(p[i]) / n);
  }, "Mean");
}

}  // namespace

KILN_REGISTER_OP(min, {"", "Min", {1, 6, 8, 12, 13}, 0, infer_variadic<kNumericTypes>, compute_fold<Fold::kMin>,
                       false, false, false, prepare_binary});
KILN_REGISTER_OP(max, {"", "Max", {1, 6, 8, 12, 13}, 0, infer_variadic<kNumericTypes>, compute_fold<Fold::kMax>,
                       false, false, false, prepare_binary});
KILN_REGISTER_OP(sum, {"", "Sum", {1, 6, 8, 13}, 0, infer_variadic<kFloatTypes>, compute_fold<Fold::kSum>});
KILN_REGISTER_OP(mean, {"", "Mean", {1, 6, 8, 13}, 0, infer_variadic<kFloatTypes>, compute_mean});

}  // namespace kiln::ops
