// One-input math ops: trigonometric and hyperbolic functions, exp/log/sqrt, rounding, Abs/Neg/Sign,
// Erf, Reciprocal, and the IsInf/IsNaN tests.
#include <cmath>
#include <limits>

#include "ir/dispatch.h"
#include "ops/elementwise.h"
#include "ops/elementwise_prepared.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

// Each function object computes in Acc<T> (float for the 16-bit floats, T otherwise).
struct AcosFn { template <typename C> C operator()(C x) const { return std::acos(x); } };
struct AcoshFn { template <typename C> C operator()(C x) const { return std::acosh(x); } };
struct AsinFn { template <typename C> C operator()(C x) const { return std::asin(x); } };
struct AsinhFn { template <typename C> C operator()(C x) const { return std::asinh(x); } };
struct AtanFn { template <typename C> C operator()(C x) const { return std::atan(x); } };
struct AtanhFn { template <typename C> C operator()(C x) const { return std::atanh(x); } };
struct CosFn { template <typename C> C operator()(C x) const { return std::cos(x); } };
struct CoshFn { template <typename C> C operator()(C x) const { return std::cosh(x); } };
struct SinFn { template <typename C> C operator()(C x) const { return std::sin(x); } };
struct SinhFn { template <typename C> C operator()(C x) const { return std::sinh(x); } };
struct TanFn { template <typename C> C operator()(C x) const { return std::tan(x); } };
struct TanhFn { template <typename C> C operator()(C x) const { return std::tanh(x); } };
struct ExpFn { template <typename C> C operator()(C x) const { return std::exp(x); } };
struct LogFn { template <typename C> C operator()(C x) const { return std::log(x); } };
struct SqrtFn { template <typename C> C operator()(C x) const { return std::sqrt(x); } };
struct CeilFn { template <typename C> C operator()(C x) const { return std::ceil(x); } };
struct FloorFn { template <typename C> C operator()(C x) const { return std::floor(x); } };
struct ReciprocalFn { template <typename C> C operator()(C x) const { return C(1) / x; } };

// Round half to even, written out rather than relying on the floating-point environment's rounding mode
// (std::nearbyint) which a host program may have changed. x - floor(x) is exact for every finite x.
struct RoundFn {
  template <typename C> C operator()(C x) const {
    C r = std::floor(x);
    C frac = x - r;
    if (frac > C(0.5) || (frac == C(0.5) && std::fmod(r, C(2)) != C(0))) r += C(1);
    return r == C(0) ? std::copysign(C(0), x) : r;  // -0.4 rounds to -0, as numpy does
  }
};

/// Float-only one-input ops: y = Fn(x), computed in Acc<T>.
template <typename Fn> void compute_float_map(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    map_unary<T, T>(x, y, [](T v) { return T(Fn{}(Acc<T>(v))); });
  }, ctx.node().op_type.c_str());
}

void compute_abs(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    map_unary<T, T>(x, y, [](T v) {
      if constexpr (is_float_v<T>) return T(std::fabs(Acc<T>(v)));
      else if constexpr (std::is_signed_v<T>) return v < 0 ? wrap_neg(v) : v;  // |INT_MIN| wraps to INT_MIN
      else return v;
    });
  }, "Abs");
}

void compute_neg(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    if constexpr (is_float_v<T>) map_unary<T, T>(x, y, [](T v) { return T(-Acc<T>(v)); });
    else if constexpr (std::is_signed_v<T>) map_unary<T, T>(x, y, [](T v) { return wrap_neg(v); });
    else ctx.fail("Neg does not accept unsigned {}", dtype_name(x.dtype()));
  }, "Neg");
}

void compute_sign(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    map_unary<T, T>(x, y, [](T v) {
      using C = Acc<T>;
      C c = C(v);
      if constexpr (std::is_unsigned_v<T>) {
        return T(c != 0 ? 1 : 0);
      } else {
        if constexpr (is_float_v<T>) {
          if (std::isnan(c)) return v;
        }
        return T(c > C(0) ? C(1) : c < C(0) ? C(-1) : C(0));
      }
    });
  }, "Sign");
}

// Erf-9 also listed integer types; like the ONNX reference they compute in float (so erf(5) rounds to 1)
// and truncate like a Cast.
void compute_erf(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    if constexpr (is_float_v<T>) map_unary<T, T>(x, y, [](T v) { return T(std::erf(Acc<T>(v))); });
    else map_unary<T, T>(x, y, [](T v) { return float_to_int<T>(std::erf(float(v))); });
  }, "Erf");
}

void infer_bool_test(InferContext& ctx) {
  check_input_type(ctx, 0, kFloatTypes);
  ctx.set_output(0, DType::kBool, ctx.input_shape(0));
}

void compute_isinf(KernelContext& ctx) {
  const bool negative = ctx.attr_int("detect_negative", 1) != 0;
  const bool positive = ctx.attr_int("detect_positive", 1) != 0;
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    map_unary<T, bool>(x, y, [&](T v) {
      Acc<T> c = Acc<T>(v);
      return std::isinf(c) && (c > 0 ? positive : negative);
    });
  }, "IsInf");
}

void compute_isnan(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    map_unary<T, bool>(x, y, [](T v) { return std::isnan(Acc<T>(v)); });
  }, "IsNaN");
}

constexpr auto infer_float = infer_unary<kFloatTypes>;

}  // namespace

KILN_REGISTER_OP(abs, {"", "Abs", {1, 6, 13}, 0, infer_unary<kNumericTypes>, compute_abs,
                       false, false, false, prepare_unary});
KILN_REGISTER_OP(neg, {"", "Neg", {1, 6, 13}, 0, infer_unary<kSignedTypes>, compute_neg,
                       false, false, false, prepare_unary});
KILN_REGISTER_OP(sign, {"", "Sign", {9, 13}, 0, infer_unary<kNumericTypes>, compute_sign});
KILN_REGISTER_OP(erf, {"", "Erf", {9, 13}, 0, infer_unary<kNumericTypes>, compute_erf,
                       false, false, false, prepare_unary});
KILN_REGISTER_OP(isinf, {"", "IsInf", {10, 20}, 0, infer_bool_test, compute_isinf});
KILN_REGISTER_OP(isnan, {"", "IsNaN", {9, 13, 20}, 0, infer_bool_test, compute_isnan});

KILN_REGISTER_OP(acos, {"", "Acos", {7, 22}, 0, infer_float, compute_float_map<AcosFn>});
KILN_REGISTER_OP(acosh, {"", "Acosh", {9, 22}, 0, infer_float, compute_float_map<AcoshFn>});
KILN_REGISTER_OP(asin, {"", "Asin", {7, 22}, 0, infer_float, compute_float_map<AsinFn>});
KILN_REGISTER_OP(asinh, {"", "Asinh", {9, 22}, 0, infer_float, compute_float_map<AsinhFn>});
KILN_REGISTER_OP(atan, {"", "Atan", {7, 22}, 0, infer_float, compute_float_map<AtanFn>});
KILN_REGISTER_OP(atanh, {"", "Atanh", {9, 22}, 0, infer_float, compute_float_map<AtanhFn>});
KILN_REGISTER_OP(cos, {"", "Cos", {7, 22}, 0, infer_float, compute_float_map<CosFn>});
KILN_REGISTER_OP(cosh, {"", "Cosh", {9, 22}, 0, infer_float, compute_float_map<CoshFn>});
KILN_REGISTER_OP(sin, {"", "Sin", {7, 22}, 0, infer_float, compute_float_map<SinFn>});
KILN_REGISTER_OP(sinh, {"", "Sinh", {9, 22}, 0, infer_float, compute_float_map<SinhFn>});
KILN_REGISTER_OP(tan, {"", "Tan", {7, 22}, 0, infer_float, compute_float_map<TanFn>});
KILN_REGISTER_OP(tanh, {"", "Tanh", {1, 6, 13}, 0, infer_float, compute_float_map<TanhFn>,
                        false, false, false, prepare_unary});
KILN_REGISTER_OP(exp, {"", "Exp", {1, 6, 13}, 0, infer_float, compute_float_map<ExpFn>,
                       false, false, false, prepare_unary});
KILN_REGISTER_OP(log, {"", "Log", {1, 6, 13}, 0, infer_float, compute_float_map<LogFn>,
                       false, false, false, prepare_unary});
KILN_REGISTER_OP(sqrt, {"", "Sqrt", {1, 6, 13}, 0, infer_float, compute_float_map<SqrtFn>,
                        false, false, false, prepare_unary});
KILN_REGISTER_OP(ceil, {"", "Ceil", {1, 6, 13}, 0, infer_float, compute_float_map<CeilFn>});
KILN_REGISTER_OP(floor, {"", "Floor", {1, 6, 13}, 0, infer_float, compute_float_map<FloorFn>});
KILN_REGISTER_OP(reciprocal, {"", "Reciprocal", {1, 6, 13}, 0, infer_float, compute_float_map<ReciprocalFn>});
KILN_REGISTER_OP(round, {"", "Round", {11, 22}, 0, infer_float, compute_float_map<RoundFn>});

}  // namespace kiln::ops
