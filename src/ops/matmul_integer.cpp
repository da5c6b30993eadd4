// MatMulInteger (int32 result of 8-bit operands minus zero points) and QLinearMatMul (the same, requantized
// with a_scale * b_scale / y_scale). Zero points and scales are per tensor (one element), per row of A /
// per column of B (1-D), or N-D with A's batch dims ([..., M, 1] for A, [..., 1, N] for B).

#include <cmath>
#include <limits>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/gemm_plain.h"
#include "ops/matmul_shape.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

// How a zero point or scale lines up with the elements of its operand.
enum class Layout { kTensor, kRowsOfA, kColsOfB, kNdA, kNdB };

Layout param_layout(const NodeContext& ctx, const char* what, const Tensor& p, const std::vector<int64_t>& operand,
                    bool for_a) {
  if (p.numel() == 1) return Layout::kTensor;
  const int64_t M = operand.size() >= 2 ? operand[operand.size() - 2] : 1, N = operand.back();
  if (p.rank() == 1 && for_a && operand.size() >= 2 && p.dim(0) == M) return Layout::kRowsOfA;
  if (p.rank() == 1 && !for_a && operand.size() >= 2 && p.dim(0) == N) return Layout::kColsOfB;
  std::vector<int64_t> want = operand;
  if (want.size() >= 2) want[want.size() - (for_a ? 1 : 2)] = 1;
  if (p.dims() == want) return for_a ? Layout::kNdA : Layout::kNdB;
  ctx.bad_input("{} has shape {}; for the operand {} it must have one element, be 1-D per {} or have shape {}", what,
                dims_str(p.dims()), dims_str(operand), for_a ? "row" : "column", dims_str(want));
}

// Index into the parameter for element i of an operand with R x C matrices (R rows, C columns).
int64_t param_index(Layout l, int64_t i, int64_t R, int64_t C) {
  switch (l) {
    case Layout::kTensor: return 0;
    case Layout::kRowsOfA: return (i / C) % R;
    case Layout::kColsOfB: return i % C;
    case Layout::kNdA: return i / C;
    case Layout::kNdB: return (i / (R * C)) * C + i % C;
  }
  return 0;
}

// operand - zero point, widened to int32.
std::vector<int32_t> centered(const NodeContext& ctx, const Tensor& x, const Tensor* zp, const char* what, bool for_a) {
  const std::vector<int64_t>& d = x.dims();
  const int64_t R = d.size() >= 2 ? d[d.size() - 2] : (for_a ? 1 : d[0]);
  const int64_t C = for_a ? d.back() : (d.size() >= 2 ? d.back() : 1);
  Layout l = Layout::kTensor;
  if (zp) {
    if (zp->dtype() != x.dtype()) ctx.bad_input("{} is {} but its operand is {}", what, dtype_name(zp->dtype()), dtype_name(x.dtype()));
    l = param_layout(ctx, what, *zp, d, for_a);
  }
  std::vector<int32_t> v(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i)
    v[static_cast<size_t>(i)] = static_cast<int32_t>(x.int_at(i) - (zp ? zp->int_at(param_index(l, i, R, C)) : 0));
  return v;
}

std::vector<int32_t> integer_matmul(const MatMulPlan& p, const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> y(static_cast<size_t>(checked_numel(p.out_dims)));
  for (size_t i = 0; i < p.a_offset.size(); ++i)
    gemm_any<int32_t>(false, false, p.M, p.N, p.K, a.data() + p.a_offset[i], p.K, b.data() + p.b_offset[i], p.N,
                      y.data() + static_cast<int64_t>(i) * p.M * p.N, p.N, false);
  return y;
}

// ---- MatMulInteger ----

void infer_matmul_integer(InferContext& ctx) {
  if (!is_8bit(ctx.input_type(0)) || !is_8bit(ctx.input_type(1)))
    ctx.unsupported("MatMulInteger takes int8/uint8 operands, got {} and {}", dtype_name(ctx.input_type(0)),
                    dtype_name(ctx.input_type(1)));
  ctx.set_output(0, DType::kInt32, infer_matmul_shape(ctx, ctx.input_shape(0), ctx.input_shape(1)));
}

void compute_matmul_integer(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  MatMulPlan p = plan_matmul(ctx, a.dims(), b.dims());
  std::vector<int32_t> ac = centered(ctx, a, ctx.has_input(2) ? &ctx.input(2) : nullptr, "a_zero_point", true);
  std::vector<int32_t> bc = centered(ctx, b, ctx.has_input(3) ? &ctx.input(3) : nullptr, "b_zero_point", false);
  std::vector<int32_t> y = integer_matmul(p, ac, bc);
  expect_output_dims(ctx, ctx.output(0), p.out_dims);
  std::copy(y.begin(), y.end(), ctx.output(0).data<int32_t>());
}

// ---- QLinearMatMul ----

void infer_qlinear_matmul(InferContext& ctx) {
  const DType a = ctx.input_type(0), b = ctx.input_type(3), y = ctx.input_type(7);
  if (!is_8bit(a) || !is_8bit(b) || !is_8bit(y))
    ctx.unsupported("QLinearMatMul takes int8/uint8 tensors, got a {}, b {}, y_zero_point {}", dtype_name(a),
                    dtype_name(b), dtype_name(y));
  ctx.set_output(0, y, infer_matmul_shape(ctx, ctx.input_shape(0), ctx.input_shape(3)));
}

void compute_qlinear_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& a_scale = ctx.input(1);
  const Tensor& b = ctx.input(3);
  const Tensor& b_scale = ctx.input(4);
  const Tensor& y_scale = ctx.input(6);
  const Tensor& y_zp = ctx.input(7);
  MatMulPlan p = plan_matmul(ctx, a.dims(), b.dims());
  std::vector<int32_t> ac = centered(ctx, a, &ctx.input(2), "a_zero_point", true);
  std::vector<int32_t> bc = centered(ctx, b, &ctx.input(5), "b_zero_point", false);
  std::vector<int32_t> acc = integer_matmul(p, ac, bc);
  if (y_scale.numel() != 1 || y_zp.numel() != 1)
    ctx.bad_input("y_scale {} and y_zero_point {} must have one element", dims_str(y_scale.dims()),
                  dims_str(y_zp.dims()));
  if (a_scale.dtype() != b_scale.dtype() || a_scale.dtype() != y_scale.dtype() || !dtype_is_float(a_scale.dtype()))
    ctx.bad_input("the scales must share one float type, got {}, {}, {}", dtype_name(a_scale.dtype()),
                  dtype_name(b_scale.dtype()), dtype_name(y_scale.dtype()));
  const Layout la = param_layout(ctx, "a_scale", a_scale, a.dims(), true);
  const Layout lb = param_layout(ctx, "b_scale", b_scale, b.dims(), false);
  const int64_t zp = y_zp.int_at(0);
  Tensor& y = ctx.output(0);
  expect_output_dims(ctx, y, p.out_dims);
  const int64_t per = p.M * p.N;
  visit_float(a_scale.dtype(), [&]<typename S>() {
    const S* as = a_scale.data<S>();
    const S* bs = b_scale.data<S>();
    const S ys = y_scale.data<S>()[0];
    visit_integer(y.dtype(), [&]<typename Q>() {
      Q* out = y.data<Q>();
      for (int64_t i = 0; i < static_cast<int64_t>(acc.size()); ++i) {
        const int64_t batch = i / per, m = (i % per) / p.N, n = i % p.N;
        // Parameter indices in A's and B's own element numbering (a row of A, a column of B).
        const int64_t ai = param_index(la, (p.a_offset[static_cast<size_t>(batch)] + m * p.K), p.M, p.K);
        const int64_t bi = param_index(lb, p.b_offset[static_cast<size_t>(batch)] + n, p.K, p.N);
        // The multiplier is formed in the scale's own type, as the ONNX reference does.
        const S mult = S(static_cast<float>(S(static_cast<float>(as[ai]) * static_cast<float>(bs[bi]))) /
                         static_cast<float>(ys));
        const double v = std::nearbyint(static_cast<double>(acc[static_cast<size_t>(i)]) * static_cast<double>(mult)) +
                         static_cast<double>(zp);
        out[i] = saturate_to_int<Q>(v, true);
      }
    }, "QLinearMatMul");
  }, "QLinearMatMul");
}

}  // namespace

KILN_REGISTER_OP(matmul_integer, {"", "MatMulInteger", {10}, 0, infer_matmul_integer, compute_matmul_integer}.with_macs(macs::matmul));
KILN_REGISTER_OP(qlinear_matmul, {"", "QLinearMatMul", {10, 21}, 0, infer_qlinear_matmul, compute_qlinear_matmul}.with_macs(macs::matmul));

}  // namespace kiln::ops
