// ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
// ReduceLogSumExp, ReduceSumSquare.
//
// Axes come from the `axes` attribute before opset 18 (ReduceSum: before 13) and from the optional second
// input after; from then on `noop_with_empty_axes=1` turns "no axes" into the identity instead of "all axes".
// Reducing an empty set gives the reduction's identity: 0 for sums, 1 for products, -inf (or the type's
// lowest value) for Max, +inf (highest) for Min, -inf for LogSum/LogSumExp, NaN for the float mean.

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/elementwise_prepared.h"
#include "ops/op.h"
#include "ops/reduce_loop.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

/// Which axes to reduce; `known` is false when they come from an input whose value inference cannot see.
struct AxesChoice {
  bool known = true;
  std::vector<bool> reduce;  // per input axis, when known
  int64_t count_hint = -1;   // number of listed axes when only the axes input's length is known
};

int axes_input_since(std::string_view op) { return op == "ReduceSum" ? 13 : 18; }

/// Resolves the axes for a tensor of `rank`: from the attribute or from input 1 (`axes_value`, nullptr
/// when absent or unknown).
template <typename Ctx>
AxesChoice choose_axes(const Ctx& ctx, int64_t rank, bool axes_input_listed, const Tensor* axes_value,
                       const Shape* axes_shape) {
  const bool from_input = ctx.opset() >= axes_input_since(ctx.node().op_type);
  AxesChoice c;
  std::vector<int64_t> axes;
  bool noop = false;
  if (!from_input) {
    axes = ctx.attr_ints("axes");
  } else {
    if (ctx.has_attr("axes"))
      ctx.fail("'axes' is an input since opset {}, not an attribute; move the axes into input 1",
               axes_input_since(ctx.node().op_type));
    noop = ctx.attr_int("noop_with_empty_axes", 0) != 0;
    if (axes_input_listed) {
      if (!axes_value) {
        c.known = false;
        if (axes_shape && axes_shape->rank_known && axes_shape->rank() == 1 && axes_shape->dims[0].is_known())
          c.count_hint = axes_shape->dims[0].value();
        return c;
      }
      if (!dtype_is_integer(axes_value->dtype()))
        ctx.fail("axes must be int64, not {}", dtype_name(axes_value->dtype()));
      if (axes_value->rank() > 1) ctx.fail("axes must be 1-D, got rank {}", axes_value->rank());
      axes = axes_value->to_int64_vector();
    }
  }
  c.reduce.assign(static_cast<size_t>(rank), false);
  if (axes.empty()) {
    // noop_with_empty_axes=1: reduce over no axes, so each output is the reduction of one element (|x| for
    // ReduceL1, x*x for ReduceSumSquare), as onnx.reference and onnxruntime both compute it.
    if (!noop) c.reduce.assign(static_cast<size_t>(rank), true);
    return c;
  }
  for (int64_t a : axes) {
    size_t k = static_cast<size_t>(normalize_axis(ctx, a, rank));
    if (c.reduce[k]) ctx.fail("axis {} is listed twice in axes", a);
    c.reduce[k] = true;
  }
  return c;
}

void infer_reduce(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  const Shape& in = ctx.input_shape(0);
  const bool keep = ctx.attr_int("keepdims", 1) != 0;
  const bool from_input = ctx.opset() >= axes_input_since(ctx.node().op_type);
  const bool listed = from_input && ctx.has_input(1);
  if (!in.rank_known) {
    // Only "reduce everything, drop the dims" gives a shape without knowing the rank.
    bool all = from_input ? !listed && ctx.attr_int("noop_with_empty_axes", 0) == 0 : ctx.attr_ints("axes").empty();
    ctx.set_output(0, t, all && !keep ? Shape(std::vector<Dim>{}) : Shape::unknown_rank());
    return;
  }
  const int64_t rank = static_cast<int64_t>(in.rank());
  AxesChoice c = choose_axes(ctx, rank, listed, listed ? ctx.input_value(1) : nullptr,
                             listed ? &ctx.input_shape(1) : nullptr);
  if (!c.known) {
    if (keep) {
      std::vector<Dim> dims;
      for (const Dim& d : in.dims) dims.push_back(d.is_known() && d.value() == 1 ? Dim(1) : Dim());
      ctx.set_output(0, t, Shape(dims));
    } else if (c.count_hint > 0 && c.count_hint <= rank) {
      ctx.set_output(0, t, Shape(std::vector<Dim>(static_cast<size_t>(rank - c.count_hint), Dim())));
    } else {
      ctx.set_output(0, t, Shape::unknown_rank());
    }
    return;
  }
  std::vector<Dim> dims;
  for (size_t i = 0; i < in.rank(); ++i) {
    if (!c.reduce[i]) dims.push_back(in.dims[i]);
    else if (keep) dims.push_back(Dim(1));
  }
  ctx.set_output(0, t, Shape(dims));
}

/// Accumulates in double for floats (and for the integer reductions that leave the integers: L2, LogSum,
/// LogSumExp), in 64 bits with wrap-around for integer sums and products (numpy's behaviour), and in the
/// element type itself for integer Max/Min.
template <typename T> struct Acc {
  static constexpr bool kFloat = is_float_like_v<T>;
  using Int = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
};

/// Signed 64-bit sums and products wrap around (through uint64) instead of overflowing.
template <typename A> A wrap_add(A a, A b) {
  if constexpr (std::is_integral_v<A> && std::is_signed_v<A>)
    return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else
    return a + b;
}
template <typename A> A wrap_mul(A a, A b) {
  if constexpr (std::is_integral_v<A> && std::is_signed_v<A>)
    return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else
    return a * b;
}

template <typename T>
void reduce_typed(Kind kind, const Tensor& x, const std::vector<bool>& mask, Tensor& y) {
  const std::vector<int64_t>& dims = x.dims();
  const std::vector<int64_t> ostr = reduced_output_strides(dims, mask);
  int64_t count = 1;
  for (size_t i = 0; i < dims.size(); ++i)
    if (mask[i]) count *= dims[i];
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const size_t n_out = static_cast<size_t>(y.numel());

  const bool via_double = Acc<T>::kFloat || kind == Kind::kL2 || kind == Kind::kLogSum || kind == Kind::kLogSumExp;
  if (kind == Kind::kMax || kind == Kind::kMin) {
    const bool is_max = kind == Kind::kMax;
    if constexpr (Acc<T>::kFloat) {
      const double init = is_max ? -INFINITY : INFINITY;
      std::vector<double> acc(n_out, init);
      for_each_reduce_pair(dims, ostr, [&](int64_t i, int64_t o) {
        double v = to_double(in[i]);
        double& a = acc[static_cast<size_t>(o)];
        if (std::isnan(v) || (is_max ? v > a : v < a)) a = v;  // NaN sticks, as in numpy
      });
      for (size_t o = 0; o < n_out; ++o) out[o] = from_double<T>(acc[o]);
    } else {
      const T init = is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
      std::fill(out, out + n_out, init);
      for_each_reduce_pair(dims, ostr, [&](int64_t i, int64_t o) {
        T v = in[i];
        T& a = out[o];
        if (is_max ? v > a : v < a) a = v;
      });
    }
    return;
  }
  if (via_double) {
    std::vector<double> acc(n_out, kind == Kind::kProd ? 1.0 : 0.0);
    std::vector<double> shift;  // LogSumExp: per-output max, subtracted before exp for stability
    if (kind == Kind::kLogSumExp) {
      shift.assign(n_out, -INFINITY);
      for_each_reduce_pair(dims, ostr, [&](int64_t i, int64_t o) {
        double v = to_double(in[i]);
        if (!std::isinf(v)) shift[static_cast<size_t>(o)] = std::max(shift[static_cast<size_t>(o)], v);
      });
      for (double& s : shift)
        if (std::isinf(s)) s = 0;  // all entries infinite (or none): exp of the raw values is exact
    }
    for_each_reduce_pair(dims, ostr, [&](int64_t i, int64_t o) {
      double v = to_double(in[i]);
      double& a = acc[static_cast<size_t>(o)];
      switch (kind) {
        case Kind::kProd: a *= v; break;
        case Kind::kL1: a += std::abs(v); break;
        case Kind::kL2: case Kind::kSumSquare: a += v * v; break;
        case Kind::kLogSumExp: a += std::exp(v - shift[static_cast<size_t>(o)]); break;
        default: a += v; break;
      }
    });
    for (size_t o = 0; o < n_out; ++o) {
      double a = acc[o];
      switch (kind) {
        case Kind::kMean: a = a / static_cast<double>(count); break;
        case Kind::kL2: a = std::sqrt(a); break;
        case Kind::kLogSum: a = std::log(a); break;
        case Kind::kLogSumExp: a = std::log(a) + shift[o]; break;
        default: break;
      }
      out[o] = from_double<T>(a);
    }
    return;
  }
  if constexpr (!Acc<T>::kFloat && !std::is_same_v<T, bool>) {
    using A = typename Acc<T>::Int;
    std::vector<A> acc(n_out, kind == Kind::kProd ? A(1) : A(0));
    for_each_reduce_pair(dims, ostr, [&](int64_t i, int64_t o) {
      A v = static_cast<A>(in[i]);
      A& a = acc[static_cast<size_t>(o)];
      switch (kind) {
        case Kind::kProd: a = wrap_mul(a, v); break;
        case Kind::kL1: a = wrap_add(a, v < A(0) ? wrap_mul(v, A(-1)) : v); break;
        case Kind::kSumSquare: a = wrap_add(a, wrap_mul(v, v)); break;
        default: a = wrap_add(a, v); break;
      }
    });
    for (size_t o = 0; o < n_out; ++o) {
      A a = acc[o];
      // Integer mean truncates toward zero (numpy's mean then astype); an empty mean has no value: 0.
      if (kind == Kind::kMean) a = count == 0 ? A(0) : static_cast<A>(a / static_cast<A>(count));
      out[o] = static_cast<T>(a);
    }
  }
}

template <Kind K> void compute_reduce(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const bool from_input = ctx.opset() >= axes_input_since(ctx.node().op_type);
  const bool listed = from_input && ctx.has_input(1);
  AxesChoice c = choose_axes(ctx, static_cast<int64_t>(x.rank()), listed, listed ? &ctx.input(1) : nullptr, nullptr);
  KILN_ASSERT(c.known);
  const char* what = ctx.node().op_type.c_str();
  auto run = [&]<typename T>() { reduce_typed<T>(K, x, c.reduce, y); };
  if ((K == Kind::kMax || K == Kind::kMin) && x.dtype() == DType::kBool) {
    if (ctx.opset() < 20) ctx.unsupported("bool input needs opset 20 or later (the model imports {})", ctx.opset());
    run.template operator()<bool>();
  } else {
    visit_numeric(x.dtype(), run, what);
  }
}

}  // namespace

KILN_REGISTER_OP(reduce_mean, {"", "ReduceMean", {1, 11, 13, 18}, 0, infer_reduce, compute_reduce<Kind::kMean>,
                               false, false, false, prepare_reduce});
KILN_REGISTER_OP(reduce_sum, {"", "ReduceSum", {1, 11, 13}, 0, infer_reduce, compute_reduce<Kind::kSum>,
                              false, false, false, prepare_reduce});
KILN_REGISTER_OP(reduce_max, {"", "ReduceMax", {1, 11, 12, 13, 18, 20}, 0, infer_reduce, compute_reduce<Kind::kMax>});
KILN_REGISTER_OP(reduce_min, {"", "ReduceMin", {1, 11, 12, 13, 18, 20}, 0, infer_reduce, compute_reduce<Kind::kMin>});
KILN_REGISTER_OP(reduce_prod, {"", "ReduceProd", {1, 11, 13, 18}, 0, infer_reduce, compute_reduce<Kind::kProd>});
KILN_REGISTER_OP(reduce_l1, {"", "ReduceL1", {1, 11, 13, 18}, 0, infer_reduce, compute_reduce<Kind::kL1>});
KILN_REGISTER_OP(reduce_l2, {"", "ReduceL2", {1, 11, 13, 18}, 0, infer_reduce, compute_reduce<Kind::kL2>});
KILN_REGISTER_OP(reduce_log_sum, {"", "ReduceLogSum", {1, 11, 13, 18, 28}, 0, infer_reduce,
                                  compute_reduce<Kind::kLogSum>});
KILN_REGISTER_OP(reduce_log_sum_exp, {"", "ReduceLogSumExp", {1, 11, 13, 18, 28}, 0, infer_reduce,
                                      compute_reduce<Kind::kLogSumExp>});
KILN_REGISTER_OP(reduce_sum_square, {"", "ReduceSumSquare", {1, 11, 13, 18}, 0, infer_reduce,
                                     compute_reduce<Kind::kSumSquare>});

}  // namespace kiln::ops
