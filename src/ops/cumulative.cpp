// CumSum and CumProd (opset 26): the running sum or product along the axis given by input 1 (a scalar),
// optionally exclusive (each output leaves out its own element: the first is 0 for a sum, 1 for a product)
// and/or reversed (accumulating from the end). One scan loop serves both; only the combining step differs.

#include <type_traits>

#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class Accumulate { kSum, kProduct };

void check_axis_tensor(const NodeContext& ctx, const Tensor& axis) {
  if (axis.dtype() != DType::kInt32 && axis.dtype() != DType::kInt64)
    ctx.fail("axis must be int32 or int64, not {}", dtype_name(axis.dtype()));
  if (axis.numel() != 1 || axis.rank() > 1) ctx.fail("axis must be a scalar, got dims {}", dims_str(axis.dims()));
}

void infer_cumulative(InferContext& ctx) {
  const Shape& s = ctx.input_shape(0);
  if (const Tensor* a = ctx.input_value(1); a && s.rank_known) {
    check_axis_tensor(ctx, *a);
    normalize_axis(ctx, a->int_at(0), static_cast<int64_t>(s.rank()));
  }
  infer_same_as_input(ctx);
}

void infer_cumprod(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t) && t != DType::kInt32 && t != DType::kInt64 && t != DType::kUInt32 && t != DType::kUInt64)
    ctx.fail("x must be a float type or a 32/64-bit integer, not {}", dtype_name(t));
  infer_cumulative(ctx);
}

template <Accumulate kOp> void compute_cumulative(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& axis_t = ctx.input(1);
  check_axis_tensor(ctx, axis_t);
  const auto axis = static_cast<size_t>(normalize_axis(ctx, axis_t.int_at(0), static_cast<int64_t>(x.rank())));
  const bool exclusive = ctx.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.attr_int("reverse", 0) != 0;
  const AxisSplit s = split_at_axis(x.dims(), axis);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    // Floats accumulate in double; integers in uint64, whose wrap-around keeps the low bits two's-complement
    // correct for every width (numpy's cumsum on int32 wraps; signed overflow would be undefined behaviour).
    using A = std::conditional_t<is_float_like_v<T>, double, uint64_t>;
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t base = o * s.n * s.inner + i;
        A acc = kOp == Accumulate::kSum ? A(0) : A(1);
        for (int64_t step = 0; step < s.n; ++step) {
          const int64_t at = base + (reverse ? s.n - 1 - step : step) * s.inner;
          A v;
          if constexpr (is_float_like_v<T>) v = to_double(in[at]);
          else v = static_cast<A>(in[at]);
          const A next = kOp == Accumulate::kSum ? acc + v : acc * v;
          const A shown = exclusive ? acc : next;
          if constexpr (is_float_like_v<T>) out[at] = from_double<T>(shown);
          else out[at] = static_cast<T>(shown);
          acc = next;
        }
      }
  }, kOp == Accumulate::kSum ? "CumSum" : "CumProd");
}

}  // namespace

KILN_REGISTER_OP(cumsum, {"", "CumSum", {11, 14}, 0, infer_cumulative, compute_cumulative<Accumulate::kSum>});
KILN_REGISTER_OP(cumprod, {"", "CumProd", {26}, 0, infer_cumprod, compute_cumulative<Accumulate::kProduct>});

}  // namespace kiln::ops
