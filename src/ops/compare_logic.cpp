// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) giving bool tensors, boolean logic
// (And, Or, Xor, Not) and Where's three-way broadcast select. Floats compare as IEEE values: NaN is
// unequal to everything, itself included.
#include <string>

#include "ir/dispatch.h"
#include "ops/elementwise.h"
#include "ops/movement_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class Cmp { kEq, kLt, kGt, kLe, kGe };

template <Cmp kOp, typename V> bool compare(const V& x, const V& y) {
  if constexpr (kOp == Cmp::kEq) return x == y;
  else if constexpr (kOp == Cmp::kLt) return x < y;
  else if constexpr (kOp == Cmp::kGt) return x > y;
  else if constexpr (kOp == Cmp::kLe) return x <= y;
  else return x >= y;
}

template <Cmp kOp> void compute_compare(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor b = broadcast_operand_b(ctx);
  Tensor& out = ctx.output(0);
  visit_all(a.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, std::string>) {
      broadcast_binary<T, T, bool>(a, b, out, [](const T& x, const T& y) { return compare<kOp>(x, y); });
    } else {
      broadcast_binary<T, T, bool>(a, b, out, [](T x, T y) { return compare<kOp>(Acc<T>(x), Acc<T>(y)); });
    }
  }, ctx.node().op_type.c_str());
}

// Equal-19 added strings; Equal-11 floats; Equal has always taken bool.
void infer_equal(InferContext& ctx) { infer_broadcast(ctx, kNumericTypes | kBoolType | kStringType, DType::kBool); }

enum class Logic { kAnd, kOr, kXor };

template <Logic kOp> void compute_logic(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor b = broadcast_operand_b(ctx);
  if (a.dtype() != DType::kBool || b.dtype() != DType::kBool) ctx.fail("inputs must be bool tensors");
  broadcast_binary<bool, bool, bool>(a, b, ctx.output(0), [](bool x, bool y) {
    if constexpr (kOp == Logic::kAnd) return x && y;
    else if constexpr (kOp == Logic::kOr) return x || y;
    else return x != y;
  });
}

void compute_not(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kBool) ctx.fail("input must be a bool tensor");
  map_unary<bool, bool>(x, ctx.output(0), [](bool v) { return !v; });
}

// ---- Where ----

void infer_where(InferContext& ctx) {
  check_input_type(ctx, 0, kBoolType);
  const size_t values[] = {1, 2};
  DType t = check_same_type(ctx, values, kAllTypes);
  const Shape shapes[] = {ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)};
  ctx.set_output(0, t, broadcast_shapes(ctx, shapes));
}

void compute_where(KernelContext& ctx) {
  const Tensor& cond = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  Tensor& out = ctx.output(0);
  visit_all(out.dtype(), [&]<typename T>() {
    const bool* pc = cond.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    BroadcastLoop<3> loop(out.dims(), {&cond.dims(), &x.dims(), &y.dims()});
    loop.for_each_run([&](int64_t o, const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
      const bool* c = pc + off[0];
      const T* a = px + off[1];
      const T* b = py + off[2];
      T* z = po + o;
      if (st[0] == 0) {  // one condition for the whole run: a copy (or fill) from one side
        const T* src = c[0] ? a : b;
        const int64_t s = c[0] ? st[1] : st[2];
        for (int64_t i = 0; i < n; ++i) z[i] = src[i * s];
      } else {
        for (int64_t i = 0; i < n; ++i) z[i] = c[i] ? a[i * st[1]] : b[i * st[2]];
      }
    });
  }, "Where");
}

constexpr uint32_t kOrdered = kNumericTypes;

}  // namespace

KILN_REGISTER_OP(equal, {"", "Equal", {1, 7, 11, 13, 19}, 0, infer_equal, compute_compare<Cmp::kEq>});
KILN_REGISTER_OP(less, {"", "Less", {1, 7, 9, 13}, 0, infer_compare<kOrdered>, compute_compare<Cmp::kLt>});
KILN_REGISTER_OP(greater, {"", "Greater", {1, 7, 9, 13}, 0, infer_compare<kOrdered>, compute_compare<Cmp::kGt>});
KILN_REGISTER_OP(less_or_equal,
                 {"", "LessOrEqual", {12, 16}, 0, infer_compare<kOrdered>, compute_compare<Cmp::kLe>});
KILN_REGISTER_OP(greater_or_equal,
                 {"", "GreaterOrEqual", {12, 16}, 0, infer_compare<kOrdered>, compute_compare<Cmp::kGe>});
KILN_REGISTER_OP(logical_and, {"", "And", {1, 7}, 0, infer_compare<kBoolType>, compute_logic<Logic::kAnd>});
KILN_REGISTER_OP(logical_or, {"", "Or", {1, 7}, 0, infer_compare<kBoolType>, compute_logic<Logic::kOr>});
KILN_REGISTER_OP(logical_xor, {"", "Xor", {1, 7}, 0, infer_compare<kBoolType>, compute_logic<Logic::kXor>});
KILN_REGISTER_OP(logical_not, {"", "Not", {1}, 0, infer_unary<kBoolType>, compute_not});
KILN_REGISTER_OP(where, {.domain = "", .name = "Where", .versions = {9, 16}, .infer = infer_where,
                         .compute = compute_where, .prepare = prepare_where});

}  // namespace kiln::ops
