// LpNormalization, LRN (local response normalization across channels), MeanVarianceNormalization.

#include <algorithm>
#include <cmath>

#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/reduce_loop.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

void infer_float_same(InferContext& ctx) {
  if (!dtype_is_float(ctx.input_type(0)))
    ctx.fail("input must be a float type, not {}", dtype_name(ctx.input_type(0)));
  infer_same_as_input(ctx);
}

// ---- LpNormalization: x / ||x||_p along one axis, p in {1, 2} ----

void infer_lp_norm(InferContext& ctx) {
  const int64_t p = ctx.attr_int("p", 2);
  if (p != 1 && p != 2) ctx.fail("p must be 1 or 2, got {}", p);
  const Shape& s = ctx.input_shape(0);
  if (s.rank_known) normalize_axis(ctx, ctx.attr_int("axis", -1), static_cast<int64_t>(s.rank()));
  infer_float_same(ctx);
}

void compute_lp_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t p = ctx.attr_int("p", 2);
  if (p != 1 && p != 2) ctx.fail("p must be 1 or 2, got {}", p);
  const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), static_cast<int64_t>(x.rank())));
  const AxisSplit s = split_at_axis(x.dims(), axis);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t base = o * s.n * s.inner + i;
        double norm = 0;
        for (int64_t k = 0; k < s.n; ++k) {
          double v = to_double(in[base + k * s.inner]);
          norm += p == 1 ? std::abs(v) : v * v;
        }
        if (p == 2) norm = std::sqrt(norm);
        // A zero vector stays zero (onnx.reference's choice) instead of becoming 0/0 = NaN.
        for (int64_t k = 0; k < s.n; ++k) {
          const int64_t at = base + k * s.inner;
          out[at] = from_double<T>(norm == 0 ? 0.0 : to_double(in[at]) / norm);
        }
      }
  }, "LpNormalization");
}

// ---- LRN: y = x / (bias + alpha/size * sum of squares over nearby channels)^beta ----

void infer_lrn(InferContext& ctx) {
  if (ctx.attr_int("size") <= 0) ctx.fail("size must be positive, got {}", ctx.attr_int("size"));
  const Shape& s = ctx.input_shape(0);
  if (s.rank_known && s.rank() < 3) ctx.fail("X must be [N, C, D1, ...], got {}", s.str());
  infer_float_same(ctx);
}

void compute_lrn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t size = ctx.attr_int("size");
  if (size <= 0) ctx.fail("size must be positive, got {}", size);
  if (x.rank() < 3) ctx.fail("X must be [N, C, D1, ...], got {}", dims_str(x.dims()));
  const double alpha = ctx.attr_float("alpha", 1e-4f), beta = ctx.attr_float("beta", 0.75f);
  const double bias = ctx.attr_float("bias", 1.0f);
  const int64_t before = (size - 1) / 2, after = size - 1 - before;  // floor / ceil of (size-1)/2
  const AxisSplit s = split_at_axis(x.dims(), 1);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t n = 0; n < s.outer; ++n)
      for (int64_t c = 0; c < s.n; ++c) {
        const int64_t lo = std::max<int64_t>(0, c - before), hi = std::min<int64_t>(s.n - 1, c + after);
        for (int64_t i = 0; i < s.inner; ++i) {
          double sq = 0;
          for (int64_t k = lo; k <= hi; ++k) {
            double v = to_double(in[(n * s.n + k) * s.inner + i]);
            sq += v * v;
          }
          const int64_t at = (n * s.n + c) * s.inner + i;
          out[at] = from_double<T>(to_double(in[at]) / std::pow(bias + alpha / static_cast<double>(size) * sq, beta));
        }
      }
  }, "LRN");
}

// ---- MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes` ----

std::vector<bool> mvn_axes(const NodeContext& ctx, int64_t rank) {
  std::vector<bool> mask(static_cast<size_t>(rank), false);
  for (int64_t a : ctx.attr_ints("axes", {0, 2, 3})) {
    size_t k = static_cast<size_t>(normalize_axis(ctx, a, rank));
    if (mask[k]) ctx.fail("axis {} is listed twice in axes", a);
    mask[k] = true;
  }
  return mask;
}

void infer_mvn(InferContext& ctx) {
  const Shape& s = ctx.input_shape(0);
  if (s.rank_known) mvn_axes(ctx, static_cast<int64_t>(s.rank()));
  infer_float_same(ctx);
}

void compute_mvn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<bool> mask = mvn_axes(ctx, static_cast<int64_t>(x.rank()));
  const std::vector<int64_t>& dims = x.dims();
  const std::vector<int64_t> ostr = reduced_output_strides(dims, mask);
  int64_t groups = 1, count = 1;
  for (size_t i = 0; i < dims.size(); ++i) (mask[i] ? count : groups) *= dims[i];
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<double> mean(static_cast<size_t>(groups), 0.0), var(static_cast<size_t>(groups), 0.0);
    for_each_reduce_pair(dims, ostr, [&](int64_t i, int64_t o) { mean[static_cast<size_t>(o)] += to_double(in[i]); });
    for (double& m : mean) m /= static_cast<double>(count);
    for_each_reduce_pair(dims, ostr, [&](int64_t i, int64_t o) {
      double d = to_double(in[i]) - mean[static_cast<size_t>(o)];
      var[static_cast<size_t>(o)] += d * d;
    });
    // The ONNX function adds epsilon to the standard deviation, not to the variance.
    for (double& v : var) v = std::sqrt(v / static_cast<double>(count)) + 1e-9;
    for_each_reduce_pair(dims, ostr, [&](int64_t i, int64_t o) {
      out[i] = from_double<T>((to_double(in[i]) - mean[static_cast<size_t>(o)]) / var[static_cast<size_t>(o)]);
    });
  }, "MeanVarianceNormalization");
}

}  // namespace

KILN_REGISTER_OP(lp_normalization, {"", "LpNormalization", {1, 22}, 0, infer_lp_norm, compute_lp_norm});
KILN_REGISTER_OP(lrn, {"", "LRN", {1, 13}, 0, infer_lrn, compute_lrn});
KILN_REGISTER_OP(mean_variance_normalization, {"", "MeanVarianceNormalization", {9, 13}, 0, infer_mvn, compute_mvn});

}  // namespace kiln::ops
