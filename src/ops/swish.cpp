// Swish (opset 24): y = x * sigmoid(alpha * x), alpha defaulting to 1 (SiLU).

#include <cmath>

#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

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
      out[i] = from_double<T>(v / (1.0 + std::exp(-alpha * v)));
    }
  }, "Swish");
}

}  // namespace

KILN_REGISTER_OP(swish, {"", "Swish", {24}, 0, infer_swish, compute_swish});

}  // namespace kiln::ops
