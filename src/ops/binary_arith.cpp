// Two-input arithmetic with numpy broadcasting: Add, Sub, Mul, Div, Mod, Pow (and, before opset 7, the
// limited broadcasting the `broadcast`/`axis` attributes ask for: see uses_legacy_broadcast).
// Integer arithmetic wraps around (two's complement) as numpy and onnxruntime do; integer division and
// modulo by zero are refused as bad input rather than left to crash the process.
#include <cmath>
#include <type_traits>

#include "ir/dispatch.h"
#include "ops/elementwise.h"
#include "ops/elementwise_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class Arith { kAdd, kSub, kMul, kDiv };

/// Refuses integer division or modulo when the divisor holds a zero (checked once, before the loop, so
/// the loop itself stays branch-free).
template <typename T> void check_no_zero_divisor(const KernelContext& ctx, const Tensor& b, const Tensor& out) {
  if (out.numel() == 0) return;
  const T* p = b.data<T>();
  for (int64_t i = 0; i < b.numel(); ++i)
    if (p[i] == T(0))
      ctx.bad_input("integer {} by zero (divisor element {} is 0); integer division by zero has no defined result",
                    ctx.node().op_type == "Mod" ? "modulo" : "division", i);
}

/// a / b truncated toward zero; INT_MIN / -1 wraps to INT_MIN instead of trapping.
template <typename T> T int_div(T a, T b) {
  if constexpr (std::is_signed_v<T>) {
    if (b == T(-1)) return wrap_neg(a);
  }
  return T(a / b);
}

template <Arith kOp> void compute_arith(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor b = broadcast_operand_b(ctx);
  Tensor& out = ctx.output(0);
  visit_numeric(a.dtype(), [&]<typename T>() {
    if constexpr (is_float_v<T>) {
      using C = Acc<T>;
      broadcast_binary<T, T, T>(a, b, out, [](T x, T y) {
        if constexpr (kOp == Arith::kAdd) return T(C(x) + C(y));
        else if constexpr (kOp == Arith::kSub) return T(C(x) - C(y));
        else if constexpr (kOp == Arith::kMul) return T(C(x) * C(y));
        else return T(C(x) / C(y));
      });
    } else if constexpr (kOp == Arith::kDiv) {
      check_no_zero_divisor<T>(ctx, b, out);
      broadcast_binary<T, T, T>(a, b, out, [](T x, T y) { return int_div(x, y); });
    } else {
      broadcast_binary<T, T, T>(a, b, out, [](T x, T y) {
        if constexpr (kOp == Arith::kAdd) return wrap_add(x, y);
        else if constexpr (kOp == Arith::kSub) return wrap_sub(x, y);
        else return wrap_mul(x, y);
      });
    }
  }, ctx.node().op_type.c_str());
}

// ---- Mod ----

/// fmod=1: C's fmod / %, the sign of the dividend. INT_MIN % -1 is 0 (no trap).
template <typename T> T trunc_mod(T a, T b) {
  if constexpr (is_float_v<T>) {
    return T(std::fmod(Acc<T>(a), Acc<T>(b)));
  } else {
    if constexpr (std::is_signed_v<T>) {
      if (b == T(-1)) return T(0);
    }
    return T(a % b);
  }
}

/// fmod=0: Python's %, the sign of the divisor. For floats this is Mod-28's floor modulo: a zero result
/// takes the divisor's sign, an infinite divisor gives a (same sign) or b (different signs).
template <typename T> T floor_mod(T a, T b) {
  if constexpr (is_float_v<T>) {
    using C = Acc<T>;
    C x = C(a), y = C(b);
    C r = std::fmod(x, y);
    if (r == C(0)) return T(std::copysign(C(0), y));
    if ((r < C(0)) != (y < C(0))) r += y;
    return T(r);
  } else {
    T r = trunc_mod(a, b);
    if constexpr (std::is_signed_v<T>) {
      if (r != 0 && ((r < 0) != (b < 0))) r = T(r + b);  // |r| < |b| and opposite signs: no overflow
    }
    return r;
  }
}

void compute_mod(KernelContext& ctx) {
  const int64_t fmod = ctx.attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) ctx.fail("attribute 'fmod' must be 0 or 1, not {}", fmod);
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.output(0);
  visit_numeric(a.dtype(), [&]<typename T>() {
    if constexpr (!is_float_v<T>) check_no_zero_divisor<T>(ctx, b, out);
    if (fmod == 1) broadcast_binary<T, T, T>(a, b, out, [](T x, T y) { return trunc_mod(x, y); });
    else broadcast_binary<T, T, T>(a, b, out, [](T x, T y) { return floor_mod(x, y); });
  }, "Mod");
}

// ---- Pow: base and exponent types may differ; the result has the base's type ----

void infer_pow(InferContext& ctx) {
  DType t = check_input_type(ctx, 0, kFloatTypes | kSignedIntTypes);
  if (ctx.opset() < 12) {
    const size_t both[] = {0, 1};
    t = check_same_type(ctx, both, kFloatTypes);
  } else {
    check_input_type(ctx, 1, kNumericTypes);
  }
  const Shape shapes[] = {ctx.input_shape(0), uses_legacy_broadcast(ctx)
                                                  ? legacy_aligned_shape(ctx, ctx.input_shape(0), ctx.input_shape(1))
                                                  : ctx.input_shape(1)};
  ctx.set_output(0, t, broadcast_shapes(ctx, shapes));
}

/// base ** e for integers by repeated squaring, wrapping on overflow. A negative exponent truncates
/// 1 / base**|e| toward zero: 1 and -1 keep a value, 0 has none (refused), every other base gives 0.
template <typename T, typename E> T int_pow(const KernelContext& ctx, T base, E e) {
  if constexpr (std::is_signed_v<E>) {
    if (e < 0) {
      if (base == T(0)) ctx.bad_input("Pow: 0 raised to the negative integer power {} has no integer result", e);
      if (base == T(1)) return T(1);
      if constexpr (std::is_signed_v<T>) {
        if (base == T(-1)) return (e % 2 == 0) ? T(1) : T(-1);
      }
      return T(0);
    }
  }
  T result = T(1);
  T square = base;
  for (auto n = static_cast<std::make_unsigned_t<E>>(e); n != 0; n >>= 1) {
    if (n & 1) result = wrap_mul(result, square);
    if (n > 1) square = wrap_mul(square, square);
  }
  return result;
}

void compute_pow(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor y = broadcast_operand_b(ctx);
  Tensor& out = ctx.output(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    visit_numeric(y.dtype(), [&]<typename E>() {
      broadcast_binary<T, E, T>(x, y, out, [&](T b, E e) {
        if constexpr (is_float_v<T>) {  // computed in double, rounded once: within an ulp of powf
          return T(static_cast<Acc<T>>(std::pow(double(Acc<T>(b)), double(Acc<E>(e)))));
        } else if constexpr (is_float_v<E>) {
          return float_to_int<T>(std::pow(double(b), double(Acc<E>(e))));
        } else {
          return int_pow<T, E>(ctx, b, e);
        }
      });
    }, "Pow exponent");
  }, "Pow");
}

}  // namespace

KILN_REGISTER_OP(add, {"", "Add", {1, 6, 7, 13, 14}, 0, infer_binary<kNumericTypes>, compute_arith<Arith::kAdd>,
                       false, false, false, prepare_binary});
KILN_REGISTER_OP(sub, {"", "Sub", {1, 6, 7, 13, 14}, 0, infer_binary<kNumericTypes>, compute_arith<Arith::kSub>,
                       false, false, false, prepare_binary});
KILN_REGISTER_OP(mul, {"", "Mul", {1, 6, 7, 13, 14}, 0, infer_binary<kNumericTypes>, compute_arith<Arith::kMul>,
                       false, false, false, prepare_binary});
KILN_REGISTER_OP(div, {"", "Div", {1, 6, 7, 13, 14}, 0, infer_binary<kNumericTypes>, compute_arith<Arith::kDiv>,
                       false, false, false, prepare_binary});
KILN_REGISTER_OP(mod, {"", "Mod", {10, 13, 28}, 0, infer_binary<kNumericTypes>, compute_mod});
KILN_REGISTER_OP(pow, {"", "Pow", {1, 7, 12, 13, 15}, 0, infer_pow, compute_pow, false, false, false, prepare_pow});

}  // namespace kiln::ops
