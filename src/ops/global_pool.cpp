// GlobalAveragePool, GlobalMaxPool, GlobalLpPool: one value per (n, c) plane, spatial dims become 1.

#include <cmath>
#include <limits>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/pool_prepared.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class GlobalKind { kAverage, kMax, kLp };

void infer_global_pool(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.unsupported("{} takes float types, got {}", ctx.node().op_type, dtype_name(t));
  const Shape& x = ctx.input_shape(0);
  if (!x.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  if (x.rank() < 3) ctx.fail("input must have rank >= 3 (N, C, spatial...), got {}", x.str());
  std::vector<Dim> dims(x.rank(), Dim(1));
  dims[0] = x.dims[0];
  dims[1] = x.dims[1];
  ctx.set_output(0, t, Shape(std::move(dims)));
}

template <GlobalKind kind> void compute_global_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) ctx.bad_input("input must have rank >= 3 (N, C, spatial...), got {}", dims_str(x.dims()));
  const int64_t planes = checked_mul(x.dim(0), x.dim(1));
  const int64_t size = product(x.dims(), 2, x.rank());
  const double p = kind == GlobalKind::kLp ? lp_power(ctx) : 2.0;
  Tensor& y = ctx.output(0);
  std::vector<int64_t> want(x.rank(), 1);
  want[0] = x.dim(0);
  want[1] = x.dim(1);
  expect_output_dims(ctx, y, want);
  visit_float(x.dtype(), [&]<typename T>() {
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* xp = xs + pl * size;
      double acc = kind == GlobalKind::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
      for (int64_t i = 0; i < size; ++i) {
        const double v = static_cast<double>(xp[i]);
        if constexpr (kind == GlobalKind::kAverage) acc += v;
        else if constexpr (kind == GlobalKind::kMax) acc = (v > acc || std::isnan(v)) ? v : acc;
        else acc += std::pow(std::abs(v), p);
      }
      if constexpr (kind == GlobalKind::kAverage) acc = size > 0 ? acc / static_cast<double>(size) : std::nan("");
      if constexpr (kind == GlobalKind::kLp) acc = std::pow(acc, 1.0 / p);
      ys[pl] = from_double<T>(acc);
    }
  }, ctx.node().op_type.c_str());
}

}  // namespace

KILN_REGISTER_OP(global_average_pool, {.domain = "", .name = "GlobalAveragePool", .versions = {1, 22},
                                       .infer = infer_global_pool, .compute = compute_global_pool<GlobalKind::kAverage>,
                                       .prepare = prepare_global_average_pool});
KILN_REGISTER_OP(global_max_pool, {.domain = "", .name = "GlobalMaxPool", .versions = {1, 22},
                                   .infer = infer_global_pool, .compute = compute_global_pool<GlobalKind::kMax>,
                                   .prepare = prepare_global_max_pool});
KILN_REGISTER_OP(global_lp_pool, {"", "GlobalLpPool", {1, 2, 22}, 0, infer_global_pool,
                                  compute_global_pool<GlobalKind::kLp>});

}  // namespace kiln::ops
