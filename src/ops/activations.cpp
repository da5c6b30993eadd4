// Activation functions: Relu and its relatives, sigmoid-like curves, Gelu, Shrink, PRelu (slope broadcast
// to X) and Clip (attributes before opset 11, optional min/max inputs from 11).
#include <cmath>
#include <limits>
#include <numbers>

#include "ir/dispatch.h"
#include "ops/elementwise.h"
#include "ops/elementwise_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

/// y = f(x) for the float types; f receives and returns Acc<T> (float for 16-bit floats).
template <typename F> void float_map(KernelContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    map_unary<T, T>(x, y, [&](T v) { return T(f(Acc<T>(v))); });
  }, ctx.node().op_type.c_str());
}

// Numerically stable forms: exp of a large positive argument overflows, so each branch only
// exponentiates non-positive values.
template <typename C> C sigmoid(C x) {
  if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
  C e = std::exp(x);
  return e / (C(1) + e);
}
template <typename C> C softplus(C x) {
  return x > C(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

void compute_relu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    map_unary<T, T>(x, y, [](T v) {
      if constexpr (std::is_unsigned_v<T>) return v;
      else return Acc<T>(v) < Acc<T>(0) ? T(Acc<T>(0)) : v;  // NaN passes through, as max(x, 0) keeps it
    });
  }, "Relu");
}

void compute_leaky_relu(KernelContext& ctx) {
  const float alpha = ctx.attr_float("alpha", 0.01f);
  float_map(ctx, [=](auto x) { return x >= 0 ? x : decltype(x)(alpha) * x; });
}

void compute_elu(KernelContext& ctx) {
  const float alpha = ctx.attr_float("alpha", 1.0f);
  float_map(ctx, [=](auto x) {
    using C = decltype(x);
    return x >= C(0) ? x : C(alpha) * (std::exp(x) - C(1));
  });
}

void compute_selu(KernelContext& ctx) {
  const float alpha = ctx.attr_float("alpha", 1.67326319217681884765625f);
  const float gamma = ctx.attr_float("gamma", 1.05070102214813232421875f);
  float_map(ctx, [=](auto x) {
    using C = decltype(x);
    return x > C(0) ? C(gamma) * x : C(gamma) * (C(alpha) * std::exp(x) - C(alpha));
  });
}

void compute_celu(KernelContext& ctx) {
  const float alpha = ctx.attr_float("alpha", 1.0f);
  if (alpha == 0) ctx.fail("attribute 'alpha' must not be 0 (Celu divides by it)");
  float_map(ctx, [=](auto x) {
    using C = decltype(x);
    return std::max(C(0), x) + std::min(C(0), C(alpha) * (std::exp(x / C(alpha)) - C(1)));
  });
}

void compute_sigmoid(KernelContext& ctx) { float_map(ctx, [](auto x) { return sigmoid(x); }); }

void compute_hard_sigmoid(KernelContext& ctx) {
  const float alpha = ctx.attr_float("alpha", 0.2f);
  const float beta = ctx.attr_float("beta", 0.5f);
  float_map(ctx, [=](auto x) {
    using C = decltype(x);
    return std::max(C(0), std::min(C(1), C(alpha) * x + C(beta)));
  });
}

void compute_hard_swish(KernelContext& ctx) {
  float_map(ctx, [](auto x) {
    using C = decltype(x);
    return x * std::max(C(0), std::min(C(1), x / C(6) + C(0.5)));
  });
}

void compute_softplus(KernelContext& ctx) { float_map(ctx, [](auto x) { return softplus(x); }); }
void compute_softsign(KernelContext& ctx) {
  float_map(ctx, [](auto x) { return x / (decltype(x)(1) + std::fabs(x)); });
}
void compute_mish(KernelContext& ctx) { float_map(ctx, [](auto x) { return x * std::tanh(softplus(x)); }); }

void compute_gelu(KernelContext& ctx) {
  const std::string approximate = ctx.attr_string("approximate", "none");
  if (approximate == "none") {
    float_map(ctx, [](auto x) {
      using C = decltype(x);
      return C(0.5) * x * (C(1) + std::erf(x * C(std::numbers::sqrt2 / 2)));
    });
  } else if (approximate == "tanh") {
    float_map(ctx, [](auto x) {
      using C = decltype(x);
      const C k = C(std::sqrt(2 / std::numbers::pi));
      return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
    });
  } else {
    ctx.fail("attribute 'approximate' must be \"none\" or \"tanh\", not \"{}\"", approximate);
  }
}

void compute_thresholded_relu(KernelContext& ctx) {
  const float alpha = ctx.attr_float("alpha", 1.0f);
  float_map(ctx, [=](auto x) { return x > decltype(x)(alpha) ? x : decltype(x)(0); });
}

// Shrink accepts integer types too; those compute in double (lambd and bias are floats) and convert back
// the way Cast does.
void compute_shrink(KernelContext& ctx) {
  const double lambd = ctx.attr_float("lambd", 0.5f);
  const double bias = ctx.attr_float("bias", 0.0f);
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    map_unary<T, T>(x, y, [=](T v) {
      using C = std::conditional_t<is_float_v<T>, Acc<T>, double>;
      C c = C(v);
      C r = c < C(-lambd) ? c + C(bias) : c > C(lambd) ? c - C(bias) : C(0);
      if constexpr (is_float_v<T>) return T(r);
      else return float_to_int<T>(r);
    });
  }, "Shrink");
}

// ---- PRelu: slope broadcasts to X (unidirectional), output has X's shape ----

/// The shape the slope broadcasts with. Before opset 7 (PRelu-1/6) a 1-D slope of more than one value holds
/// one value per channel, X's axis 1, rather than lining up with X's last axis as numpy broadcasting does
/// from PRelu-7 on: it is seen as [1, C, 1, ..., 1].
Shape prelu_slope_shape(const NodeContext& ctx, const Shape& x, const Shape& slope) {
  if (ctx.opset() >= 7 || !slope.rank_known || slope.rank() != 1 || !x.rank_known || x.rank() < 2) return slope;
  const Dim& c = slope.dims[0];
  if (c.is_known() && c.value() == 1) return slope;  // one value shared by every channel
  const Dim& xc = x.dims[1];
  if (c.is_known() && xc.is_known() && c.value() != xc.value())
    ctx.fail("PRelu-{} takes a slope of 1 value or one per channel, but slope {} does not match X {}'s {} channels",
             ctx.opset() < 6 ? 1 : 6, slope.str(), x.str(), xc.value());
  std::vector<Dim> dims(x.rank(), Dim(1));
  dims[1] = c;
  return Shape(std::move(dims));
}

void infer_prelu(InferContext& ctx) {
  const size_t both[] = {0, 1};
  DType t = check_same_type(ctx, both, kFloatTypes | kSignedIntTypes | kUnsignedIntTypes);
  const Shape& x = ctx.input_shape(0);
  const Shape slope = prelu_slope_shape(ctx, x, ctx.input_shape(1));
  const Shape shapes[] = {x, slope};
  Shape joint = broadcast_shapes(ctx, shapes);  // fails on incompatible dims
  if (x.rank_known && slope.rank_known) {
    bool ok = slope.rank() <= x.rank();
    for (size_t i = 0; ok && i < x.rank(); ++i)
      if (x.dims[i].is_known() && joint.dims[i].is_known() && x.dims[i].value() != joint.dims[i].value()) ok = false;
    if (!ok)
      ctx.fail("slope of shape {} must broadcast to X of shape {} without enlarging it", slope.str(), x.str());
  }
  ctx.set_output(0, t, x);
}

void compute_prelu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& given = ctx.input(1);
  const Tensor slope =
      given.reshaped(prelu_slope_shape(ctx, Shape::from(x.dims()), Shape::from(given.dims())).values());
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    broadcast_binary<T, T, T>(x, slope, y, [](T v, T s) {
      using C = Acc<T>;
      if constexpr (std::is_unsigned_v<T>) {
        return v;  // never negative
      } else {
        if (!(C(v) < C(0))) return v;
        if constexpr (is_float_v<T>) return T(C(s) * C(v));
        else return wrap_mul(s, v);
      }
    });
  }, "PRelu");
}

// ---- Clip ----

void infer_clip(InferContext& ctx) {
  if (ctx.opset() < 11) {
    ctx.set_output(0, check_input_type(ctx, 0, kFloatTypes), ctx.input_shape(0));
    return;
  }
  const size_t all[] = {0, 1, 2};
  DType t = check_same_type(ctx, all, kNumericTypes);
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    const Shape& s = ctx.input_shape(i);
    if (!s.is_concrete()) continue;
    bool one_value = true;  // exactly one element: every dim is 1
    for (int64_t d : s.values()) one_value = one_value && d == 1;
    if (!one_value) ctx.fail("input {} ({}) must be a scalar, but has shape {}", i, i == 1 ? "min" : "max", s.str());
  }
  ctx.set_output(0, t, ctx.input_shape(0));
}

void compute_clip(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    using C = Acc<T>;
    C lo = std::numeric_limits<C>::lowest();
    C hi = std::numeric_limits<C>::max();
    if (ctx.opset() < 11) {
      // An absent attribute leaves that side open: Clip-6's +-FLT_MAX defaults clip no float value.
      if constexpr (is_float_v<T>) {
        if (ctx.has_attr("min")) lo = C(ctx.attr_float("min", 0));
        if (ctx.has_attr("max")) hi = C(ctx.attr_float("max", 0));
      }
    } else {
      auto bound = [&](size_t i, C& out) {
        if (!ctx.has_input(i)) return;
        const Tensor& b = ctx.input(i);
        if (b.numel() != 1) ctx.bad_input("input {} must hold one value, but has shape {}", i, dims_str(b.dims()));
        out = C(b.data<T>()[0]);
      };
      bound(1, lo);
      bound(2, hi);
    }
    // Written as two comparisons so that NaN passes through, and so that min > max gives max everywhere,
    // as the spec's Min(max, Max(input, min)) does.
    map_unary<T, T>(x, y, [=](T v) {
      C c = C(v);
      if (c < lo) c = lo;
      if (c > hi) c = hi;
      return T(c);
    });
  }, "Clip");
}

}  // namespace

KILN_REGISTER_OP(relu, {"", "Relu", {1, 6, 13, 14}, 0, infer_unary<kSignedTypes>, compute_relu,
                        false, false, false, prepare_unary});
KILN_REGISTER_OP(leaky_relu, {"", "LeakyRelu", {1, 6, 16}, 0, infer_unary<kFloatTypes>, compute_leaky_relu,
                              false, false, false, prepare_unary});
KILN_REGISTER_OP(elu, {"", "Elu", {1, 6, 22}, 0, infer_unary<kFloatTypes>, compute_elu});
KILN_REGISTER_OP(selu, {"", "Selu", {1, 6, 22}, 0, infer_unary<kFloatTypes>, compute_selu});
KILN_REGISTER_OP(celu, {"", "Celu", {12, 28}, 0, infer_unary<kFloatTypes>, compute_celu});
KILN_REGISTER_OP(sigmoid, {"", "Sigmoid", {1, 6, 13}, 0, infer_unary<kFloatTypes>, compute_sigmoid,
                           false, false, false, prepare_unary});
KILN_REGISTER_OP(hard_sigmoid, {"", "HardSigmoid", {1, 6, 22}, 0, infer_unary<kFloatTypes>, compute_hard_sigmoid,
                                false, false, false, prepare_unary});
KILN_REGISTER_OP(hard_swish, {"", "HardSwish", {14, 22}, 0, infer_unary<kFloatTypes>, compute_hard_swish,
                              false, false, false, prepare_unary});
KILN_REGISTER_OP(softplus, {"", "Softplus", {1, 22}, 0, infer_unary<kFloatTypes>, compute_softplus,
                            false, false, false, prepare_unary});
KILN_REGISTER_OP(softsign, {"", "Softsign", {1, 22}, 0, infer_unary<kFloatTypes>, compute_softsign});
KILN_REGISTER_OP(mish, {"", "Mish", {18, 22}, 0, infer_unary<kFloatTypes>, compute_mish});
KILN_REGISTER_OP(gelu, {"", "Gelu", {20}, 0, infer_unary<kFloatTypes>, compute_gelu,
                        false, false, false, prepare_unary});
// ai.kiln.Gelu (kiln's domain, version 1): Gelu-20's semantics (approximate "none" | "tanh") at any opset of
// the model, for the rewrite that fuses an exported erf- or tanh-form GELU subgraph.
KILN_REGISTER_OP(kiln_gelu, {"ai.kiln", "Gelu", {1}, 0, infer_unary<kFloatTypes>, compute_gelu, false, false, false,
                             prepare_unary});
KILN_REGISTER_OP(thresholded_relu,
                 {"", "ThresholdedRelu", {10, 22}, 0, infer_unary<kFloatTypes>, compute_thresholded_relu});
KILN_REGISTER_OP(shrink, {"", "Shrink", {9}, 0, infer_unary<kNumericTypes>, compute_shrink});
KILN_REGISTER_OP(prelu, {"", "PRelu", {1, 6, 7, 9, 16}, 0, infer_prelu, compute_prelu});
KILN_REGISTER_OP(clip, {"", "Clip", {1, 6, 11, 12, 13}, 0, infer_clip, compute_clip,
                        false, false, false, prepare_unary});

}  // namespace kiln::ops
