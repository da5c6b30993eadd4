// ai.kiln.FusedMatMul (kiln's own domain, version 1): a matrix product with its epilogue, so the bias, the
// residual and the activation are applied while the result is still in registers (the passes fold MatMul/Gemm
// + Add + activation chains into it).
//   inputs  A, B, bias (optional, 1-D [N], added along the last dim), Z (optional residual, exactly Y's shape)
//   attrs   transB (0/1: B is stored [..., N, K]), alpha (scales A·B), activation, activation_params,
//           split (ints, optional: widths along N, summing to N; no Z with it)
//   Y = activation(alpha * MatMul(A, op(B)) + bias + Z), with MatMul's numpy broadcasting for rank > 2.
//   With split, Y is not one output: output i holds Y's columns [split[0] + ... + split[i-1], + split[i]) of the
//   last dim, as a Split (or Slices) on the last axis would give (the pass fuse_matmul_split folds those in: a
//   transformer's fused Q/K/V projection, so the attention reads three outputs and no copy of them is made).
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

// The split attribute, checked against the node's outputs: empty when absent (one output, Y itself).
std::vector<int64_t> read_split(const NodeContext& ctx, size_t outputs, bool has_residual) {
  const std::vector<int64_t> split = ctx.attr_ints("split");
  if (!ctx.has_attr("split")) {
    if (outputs != 1) ctx.fail("FusedMatMul without split has one output, not {}", outputs);
    return split;
  }
  if (split.size() != outputs) ctx.fail("split has {} widths but the node has {} outputs", split.size(), outputs);
  for (int64_t w : split)
    if (w <= 0) ctx.fail("split widths must be positive, got {}", w);
  if (has_residual) ctx.fail("split and a residual Z cannot be used together");
  return split;
}

int64_t sum_of(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

void infer_fused_matmul(InferContext& ctx) {
  const bool tb = read_trans_b(ctx);
  const std::vector<int64_t> split = read_split(ctx, ctx.num_outputs(), ctx.has_input(3));
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
  if (split.empty()) return ctx.set_output(0, DType::kFloat32, y);
  if (ctx.input_shape(1).rank_known && ctx.input_shape(1).rank() < 2)
    ctx.fail("split needs B to be a matrix (rank >= 2), got {}", ctx.input_shape(1).str());
  if (y.rank_known && y.dims.back().is_known() && y.dims.back().value() != sum_of(split))
    ctx.fail("split widths sum to {}, but N is {}", sum_of(split), y.dims.back().value());
  for (size_t i = 0; i < split.size(); ++i) {
    Shape part = y;
    if (part.rank_known) part.dims.back() = Dim(split[i]);
    ctx.set_output(i, DType::kFloat32, part);
  }
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
  const std::vector<int64_t> split = read_split(ctx, ctx.num_outputs(), ctx.has_input(3));
  if (!split.empty() && b_stored.rank() < 2) ctx.bad_input("split needs B to be a matrix, got {}", dims_str(b.dims()));
  if (!split.empty() && sum_of(split) != p.N) ctx.bad_input("split widths sum to {}, but N is {}", sum_of(split), p.N);
  Tensor whole = split.empty() ? Tensor() : Tensor(DType::kFloat32, p.out_dims);
  Tensor& y = split.empty() ? ctx.output(0) : whole;
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
  // Each output's rows are its columns of Y's rows.
  const int64_t rows = p.N == 0 ? 0 : y.numel() / p.N;
  int64_t first = 0;
  for (size_t i = 0; i < split.size(); ++i) {
    std::vector<int64_t> dims = p.out_dims;
    dims.back() = split[i];
    Tensor& part = ctx.output(i);
    expect_output_dims(ctx, part, dims);
    float* out = part.data<float>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < split[i]; ++c) out[r * split[i] + c] = yv[r * p.N + first + c];
    first += split[i];
  }
}

}  // namespace

KILN_REGISTER_OP(fused_matmul, {"ai.kiln", "FusedMatMul", {1}, 0, infer_fused_matmul, compute_fused_matmul, false,
                                false, false, prepare_fused_matmul}.with_macs(macs::matmul));

}  // namespace kiln::ops
