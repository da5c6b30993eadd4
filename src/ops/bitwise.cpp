// Bit operations on integers: BitShift (unsigned since opset 11, signed too since 28), BitwiseAnd/Or/Xor
// with broadcasting, BitwiseNot.
#include <climits>

#include "ir/dispatch.h"
#include "ops/elementwise.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

/// x << s or x >> s with BitShift-28's rule for shift counts outside [0, bits): the result is what the sign
/// extension alone gives (-1 for a right shift of a negative x, else 0). Never undefined in C++.
template <typename T> T shift(T x, T s, bool left) {
  constexpr int kBits = int(sizeof(T) * CHAR_BIT);
  bool in_range = s < T(kBits);
  if constexpr (std::is_signed_v<T>) in_range = in_range && s >= 0;
  if (!in_range) {
    if constexpr (std::is_signed_v<T>) {
      if (!left && x < 0) return T(-1);
    }
    return T(0);
  }
  if (left) return T(WrapUnsigned<T>(x) << int(s));  // bits past the top (sign bit included) are dropped
  return T(x >> int(s));                             // arithmetic for signed types (C++20)
}

void infer_bitshift(InferContext& ctx) {
  const std::string direction = ctx.attr_string("direction");
  if (direction != "LEFT" && direction != "RIGHT")
    ctx.fail("attribute 'direction' must be \"LEFT\" or \"RIGHT\", not \"{}\"", direction);
  infer_broadcast(ctx, ctx.opset() >= 28 ? uint32_t(kIntTypes) : uint32_t(kUnsignedIntTypes));
}

void compute_bitshift(KernelContext& ctx) {
  const bool left = ctx.attr_string("direction") == "LEFT";
  const Tensor& x = ctx.input(0);
  const Tensor& s = ctx.input(1);
  visit_integer(x.dtype(), [&]<typename T>() {
    broadcast_binary<T, T, T>(x, s, ctx.output(0), [left](T a, T b) { return shift(a, b, left); });
  }, "BitShift");
}

enum class Bits { kAnd, kOr, kXor };

template <Bits kOp> void compute_bitwise(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  visit_integer(a.dtype(), [&]<typename T>() {
    broadcast_binary<T, T, T>(a, b, ctx.output(0), [](T x, T y) {
      if constexpr (kOp == Bits::kAnd) return T(x & y);
      else if constexpr (kOp == Bits::kOr) return T(x | y);
      else return T(x ^ y);
    });
  }, ctx.node().op_type.c_str());
}

void compute_bitwise_not(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  visit_integer(x.dtype(), [&]<typename T>() {
    map_unary<T, T>(x, ctx.output(0), [](T v) { return T(~v); });
  }, "BitwiseNot");
}

}  // namespace

KILN_REGISTER_OP(bit_shift, {"", "BitShift", {11, 28}, 0, infer_bitshift, compute_bitshift});
KILN_REGISTER_OP(bitwise_and, {"", "BitwiseAnd", {18}, 0, infer_binary<kIntTypes>, compute_bitwise<Bits::kAnd>});
KILN_REGISTER_OP(bitwise_or, {"", "BitwiseOr", {18}, 0, infer_binary<kIntTypes>, compute_bitwise<Bits::kOr>});
KILN_REGISTER_OP(bitwise_xor, {"", "BitwiseXor", {18}, 0, infer_binary<kIntTypes>, compute_bitwise<Bits::kXor>});
KILN_REGISTER_OP(bitwise_not, {"", "BitwiseNot", {18}, 0, infer_unary<kIntTypes>, compute_bitwise_not});

}  // namespace kiln::ops
