// Swish (opset 24): y = x * sigmoid(alpha * x), alpha defaulting to 1 (SiLU).
// SwiGLU (opset 28): y = Swish_alpha(a) * b, the gated form used by Llama-style MLPs; a and b must have the
// same shape (the spec forbids broadcasting) and the same type.

#include <cmath>

#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

double swish(double v, double alpha) { return v / (1.0 + std::exp(-alpha * v)); }

void infer_swish(InferContext& ctx) {
  if (!dtype_is_float(ctx.input_type(0))) ctx.fail("X must be a float type, not {}", dtype_name(ctx.input_type(0)));
  infer_same_as_input(ctx);
}

void compute_swish(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const double alpha = static_cast<double>(ctx.attr_float("alpha", 1.0f));
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double v = to_double(in[i]);
      out[i] = from_double<T>(swish(v, alpha));
    }
  }, "Swish");
}

/// The one dim two inputs that must be equal share: a number wins over a symbol or unknown, a symbol over
/// unknown; two different symbols are only known to be equal at run time, so the result is unknown.
Dim unify_equal_dims(const NodeContext& ctx, const Dim& a, const Dim& b, size_t axis) {
  if (a.is_known() && b.is_known() && a.value() != b.value())
    ctx.fail("A and B must have the same shape (SwiGLU does not broadcast), but dim {} is {} in A and {} in B", axis,
             a.value(), b.value());
  if (a.is_known() || a == b) return a;
  if (b.is_known()) return b;
  if (a.is_symbol() && !b.is_symbol()) return a;
  if (b.is_symbol() && !a.is_symbol()) return b;
  return Dim();
}

void infer_swiglu(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.fail("A must be a float type, not {}", dtype_name(t));
  if (ctx.input_type(1) != t)
    ctx.fail("B is {} but A is {}: SwiGLU needs both inputs of one type", dtype_name(ctx.input_type(1)), dtype_name(t));
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  if (!a.rank_known || !b.rank_known) {
    ctx.set_output(0, t, a.rank_known ? a : b);
    return;
  }
  if (a.rank() != b.rank())
    ctx.fail("A {} and B {} must have the same shape (SwiGLU does not broadcast)", a.str(), b.str());
  std::vector<Dim> dims(a.rank());
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = unify_equal_dims(ctx, a.dims[i], b.dims[i], i);
  ctx.set_output(0, t, Shape(std::move(dims)));
}

// Computed in double and rounded once: the backend test's float16 expectation is the float32 result cast to
// float16, not a chain of float16 steps.
void compute_swiglu(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (a.dims() != b.dims() || a.dtype() != b.dtype() || y.dims() != a.dims())
    ctx.bad_input("A {} and B {} must have the same shape and type (SwiGLU does not broadcast)",
                  dims_str(a.dims()), dims_str(b.dims()));
  const double alpha = static_cast<double>(ctx.attr_float("alpha", 1.0f));
  visit_float(a.dtype(), [&]<typename T>() {
    const T* gate = a.data<T>();
    const T* value = b.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0; i < a.numel(); ++i)
      out[i] = from_double<T>(swish(to_double(gate[i]), alpha) * to_double(value[i]));
  }, "SwiGLU");
}

}  // namespace

KILN_REGISTER_OP(swish, {"", "Swish", {24}, 0, infer_swish, compute_swish});
KILN_REGISTER_OP(swiglu, {"", "SwiGLU", {28}, 0, infer_swiglu, compute_swiglu});

}  // namespace kiln::ops
