// ai.kiln.FusedMatMul (kiln's own domain, version 1): a matrix product with its epilogue, so the bias, the
// residual and the activation are applied while the result is still in registers (the passes fold MatMul/Gemm
// + Add + activation chains into it).
//   inputs  A, B, bias (optional, 1-D [N], added along the last dim), Z (optional residual, exactly Y's shape)
//   attrs   transB (0/1: B is stored [..., N, K]), alpha (scales A·B), activation, activation_params
//   Y = activation(alpha * MatMul(A, op(B)) + bias + Z), with MatMul's numpy broadcasting for rank > 2.
// float32 only (the passes fuse float32 graphs); the reference runs the reference Transpose and MatMul, then
// the epilogue with the scalar reference activation.

#include <span>

#include "kernels/activation.h"
#include "ops/fused_activation.h"
#include "ops/matmul_prepared.h"
#include "ops/matmul_shape.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/reference_compose.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

bool read_trans_b(const NodeContext& ctx) {
  const int64_t t = ctx.attr_int("transB", 0);
  if (t != 0 && t != 1) ctx.fail("transB must be 0 or 1, not {}", t);
  return t == 1;
}

void infer_fused_matmul(InferContext& ctx) {
  const bool tb = read_trans_b(ctx);
  read_fused_activation(ctx);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const DType t = ctx.input_type(i);
    if (t != DType::kFloat32 && t != DType::kUndefined)
      ctx.unsupported("FusedMatMul takes float32 only, but input {} is {}", i, dtype_name(t));
  }
  Shape b = ctx.input_shape(1);
  if (tb && b.rank_known && b.rank() >= 2) std::swap(b.dims[b.rank() - 1], b.dims[b.rank() - 2]);
  const Shape y = infer_matmul_shape(ctx, ctx.input_shape(0), b);
  if (ctx.has_input(2)) {
    const Shape& bias = ctx.input_shape(2);
    if (bias.rank_known && bias.rank() != 1) ctx.fail("bias must be 1-D [N], got {}", bias.str());
    if (bias.rank_known && y.rank_known && y.rank() > 0) {
      const Dim& n = y.dims.back();
      if (bias.dims[0].is_known() && n.is_known() && bias.dims[0].value() != n.value())
        ctx.fail("bias {} must have N = {} elements", bias.str(), n.value());
    }
  }
  if (ctx.has_input(3)) {
    const Shape& z = ctx.input_shape(3);
    if (z.rank_known && y.rank_known) {
      bool same = z.rank() == y.rank();
      for (size_t i = 0; same && i < z.rank(); ++i)
        same = !(z.dims[i].is_known() && y.dims[i].is_known() && z.dims[i].value() != y.dims[i].value());
      if (!same) ctx.fail("residual Z {} must have exactly the result's shape {}", z.str(), y.str());
    }
  }
  ctx.set_output(0, DType::kFloat32, y);
}

void compute_fused_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b_stored = ctx.input(1);
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype() != DType::kFloat32)
      ctx.bad_input("FusedMatMul takes float32 only, but input {} is {}", i, dtype_name(ctx.input(i).dtype()));
  const bool tb = read_trans_b(ctx) && b_stored.rank() >= 2;
  const float alpha = ctx.attr_float("alpha", 1.0f);
  const kernels::ActivationParams act = read_fused_activation(ctx);
  const Tensor b = tb ? transpose_last_two(ctx, b_stored) : b_stored;
  const MatMulPlan p = plan_matmul(ctx, a.dims(), b.dims());
  Tensor& y = ctx.output(0);
  expect_output_dims(ctx, y, p.out_dims);
  run_reference_op(ctx, "MatMul", 13, {}, {&a, &b}, std::span<Tensor>(&y, 1));

  const Tensor* bias = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const Tensor* z = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  if (bias && (bias->rank() != 1 || bias->dim(0) != p.N))
    ctx.bad_input("bias {} must be 1-D with N = {} elements", dims_str(bias->dims()), p.N);
  if (z && z->dims() != y.dims())
    ctx.bad_input("residual Z {} must have exactly the result's shape {}", dims_str(z->dims()), dims_str(y.dims()));
  float* yv = y.data<float>();
  for (int64_t i = 0; i < y.numel(); ++i) {
    float v = alpha * yv[i];
    if (bias) v += bias->data<float>()[i % p.N];
    if (z) v += z->data<float>()[i];
    yv[i] = v;
  }
  kernels::apply_activation_f32_ref(act, yv, yv, y.numel());
}

}  // namespace

KILN_REGISTER_OP(fused_matmul, {"ai.kiln", "FusedMatMul", {1}, 0, infer_fused_matmul, compute_fused_matmul, false,
                                false, false, prepare_fused_matmul}.with_macs(macs::matmul));

}  // namespace kiln::ops
