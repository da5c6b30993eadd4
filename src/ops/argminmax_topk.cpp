// ArgMax, ArgMin (keepdims, select_last_index from opset 12) and TopK (k an attribute before opset 10,
// an input from 10; `largest` and `sorted` from 11).
//
// Order used throughout: NaN counts as larger than every number (numpy's argmax/sort), and equal values
// are ranked by index — the lower index first, or for ArgMax/ArgMin with select_last_index the higher.

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

/// a < b in the total order above (NaN largest; NaNs equal to each other).
template <typename T> bool value_less(T a, T b) {
  if constexpr (is_float_like_v<T>) {
    double x = to_double(a), y = to_double(b);
    if (std::isnan(x)) return false;
    if (std::isnan(y)) return true;
    return x < y;
  } else {
    return a < b;
  }
}

// ---- ArgMax / ArgMin ----

void infer_arg(InferContext& ctx) {
  const Shape& s = ctx.input_shape(0);
  if (!s.rank_known) {
    ctx.set_output(0, DType::kInt64, Shape::unknown_rank());
    return;
  }
  const int64_t rank = static_cast<int64_t>(s.rank());
  const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), rank));
  std::vector<Dim> dims = s.dims;
  if (ctx.attr_int("keepdims", 1) != 0) dims[axis] = Dim(1);
  else dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(axis));
  ctx.set_output(0, DType::kInt64, Shape(dims));
}

template <bool kMax> void compute_arg(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), rank));
  const bool last = ctx.opset() >= 12 && ctx.attr_int("select_last_index", 0) != 0;
  const AxisSplit s = split_at_axis(x.dims(), axis);
  int64_t* out = ctx.output(0).data<int64_t>();
  if (s.n == 0 && s.outer * s.inner > 0)
    ctx.bad_input("cannot take {} along axis {} of size 0", kMax ? "ArgMax" : "ArgMin", axis);
  visit_numeric(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const T* p = in + o * s.n * s.inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < s.n; ++k) {
          T v = p[k * s.inner], b = p[best * s.inner];
          bool better = kMax ? value_less(b, v) : value_less(v, b);
          bool equal = !value_less(v, b) && !value_less(b, v);
          if (better || (last && equal)) best = k;
        }
        out[o * s.inner + i] = best;
      }
    }
  }, kMax ? "ArgMax" : "ArgMin");
}

// ---- TopK ----

/// k from the attribute (opset < 10) or from the 1-element input; nullopt when inference cannot see it.
template <typename Ctx> std::optional<int64_t> topk_k(const Ctx& ctx, const Tensor* k_value, bool k_listed) {
  int64_t k;
  if (ctx.opset() < 10) {
    k = ctx.attr_int("k");
  } else {
    if (!k_listed) ctx.fail("input 1 (K) is required from opset 10");
    if (!k_value) return std::nullopt;
    if (!dtype_is_integer(k_value->dtype())) ctx.fail("K must be int64, not {}", dtype_name(k_value->dtype()));
    if (k_value->numel() != 1 || k_value->rank() > 1)
      ctx.fail("K must be a 1-D tensor of one element, got dims {}", dims_str(k_value->dims()));
    k = k_value->int_at(0);
  }
  if (k < 0) ctx.bad_input("K must be >= 0, got {}", k);
  return k;
}

void infer_topk(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  const Shape& s = ctx.input_shape(0);
  const std::optional<int64_t> k = topk_k(ctx, ctx.input_value(1), ctx.has_input(1));
  if (!s.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    ctx.set_output(1, DType::kInt64, Shape::unknown_rank());
    return;
  }
  const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), static_cast<int64_t>(s.rank())));
  const Dim& d = s.dims[axis];
  if (k && d.is_known() && *k > d.value())
    ctx.bad_input("K = {} is larger than axis {} of size {}", *k, axis, d.value());
  std::vector<Dim> dims = s.dims;
  dims[axis] = k ? Dim(*k) : Dim();
  ctx.set_output(0, t, Shape(dims));
  ctx.set_output(1, DType::kInt64, Shape(dims));
}

void compute_topk(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t k = topk_k(ctx, ctx.has_input(1) ? &ctx.input(1) : nullptr, ctx.has_input(1)).value();
  const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), static_cast<int64_t>(x.rank())));
  const bool largest = ctx.opset() < 11 || ctx.attr_int("largest", 1) != 0;
  // sorted=0 leaves the order unspecified; returning sorted output is one valid order.
  const AxisSplit s = split_at_axis(x.dims(), axis);
  if (k < 0 || k > s.n) ctx.bad_input("K = {} is out of range for axis {} of size {}", k, axis, s.n);
  Tensor& values = ctx.output(0);
  int64_t* indices = ctx.num_outputs() > 1 && ctx.node().outputs[1] >= 0 ? ctx.output(1).data<int64_t>() : nullptr;
  visit_numeric(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = values.data<T>();
    std::vector<int64_t> order(static_cast<size_t>(s.n));
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const T* p = in + o * s.n * s.inner + i;
        std::iota(order.begin(), order.end(), int64_t{0});
        auto before = [&](int64_t a, int64_t b) {
          T va = p[a * s.inner], vb = p[b * s.inner];
          if (largest ? value_less(vb, va) : value_less(va, vb)) return true;
          if (largest ? value_less(va, vb) : value_less(vb, va)) return false;
          return a < b;  // ties: lower index first
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          const int64_t dst = o * k * s.inner + j * s.inner + i;
          out[dst] = p[order[static_cast<size_t>(j)] * s.inner];
          if (indices) indices[dst] = order[static_cast<size_t>(j)];
        }
      }
    }
  }, "TopK");
}

}  // namespace

KILN_REGISTER_OP(argmax, {"", "ArgMax", {1, 11, 12, 13}, 0, infer_arg, compute_arg<true>});
KILN_REGISTER_OP(argmin, {"", "ArgMin", {1, 11, 12, 13}, 0, infer_arg, compute_arg<false>});
KILN_REGISTER_OP(topk, {"", "TopK", {1, 10, 11, 24}, 0, infer_topk, compute_topk});

}  // namespace kiln::ops
