// ai.kiln.FusedConv (version 1): Y = activation(Conv(X, W, B) + Z), produced by the fusion passes from
// Conv + Add + activation chains so Y is written once. Inputs X, W, B (optional), Z (optional, exactly Y's
// shape); all of Conv's attributes plus `activation` and `activation_params` (ops/fused_activation.h).
// float32 only (the passes fuse float32 convolutions). The reference is composed from the ONNX ops' own
// references: Conv's reference kernel, then the residual add, then the scalar activation; the fast path is
// Conv's prepared kernel, which takes the same epilogue.

#include "kernels/activation.h"
#include "ops/conv_ops.h"
#include "ops/fused_activation.h"
#include "ops/op.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

void infer_fused_conv(InferContext& ctx) {
  if (ctx.num_inputs() < 2 || ctx.num_inputs() > 4) ctx.fail("takes 2 to 4 inputs (X, W, B, Z), got {}", ctx.num_inputs());
  const DType t = ctx.input_type(0);
  if (t != DType::kFloat32 && t != DType::kUndefined)
    ctx.unsupported("FusedConv takes float32 input, got {}", dtype_name(t));
  read_fused_activation(ctx);  // refuses an unknown activation at plan time
  infer_conv(ctx);
  if (!ctx.has_input(3)) return;
  const ValueInfo& y = ctx.output(0);
  const ValueInfo& z = ctx.input(3);
  if (z.dtype != y.dtype && z.dtype != DType::kUndefined)
    ctx.fail("residual Z is {} but Y is {}", dtype_name(z.dtype), dtype_name(y.dtype));
  if (!z.shape.rank_known || !y.shape.rank_known) return;
  bool same = z.shape.rank() == y.shape.rank();
  for (size_t i = 0; same && i < z.shape.rank(); ++i) {
    const Dim &a = z.shape.dims[i], &b = y.shape.dims[i];
    if (a.is_known() && b.is_known() && a.value() != b.value()) same = false;
  }
  if (!same) ctx.fail("residual Z {} must have exactly the shape of Y {}", z.shape.str(), y.shape.str());
}

void compute_fused_conv(KernelContext& ctx) {
  if (ctx.input(0).dtype() != DType::kFloat32)
    ctx.unsupported("FusedConv takes float32 input, got {}", dtype_name(ctx.input(0).dtype()));
  const kernels::ActivationParams act = read_fused_activation(ctx);
  compute_conv(ctx);
  Tensor& y = ctx.output(0);
  float* out = y.data<float>();
  if (ctx.has_input(3)) {
    const Tensor& z = ctx.input(3);
    if (z.dtype() != DType::kFloat32 || z.dims() != y.dims())
      ctx.bad_input("residual Z {} must be float32 with exactly the shape of Y {}", dims_str(z.dims()),
                    dims_str(y.dims()));
    const float* r = z.data<float>();
    for (int64_t i = 0; i < y.numel(); ++i) out[i] += r[i];
  }
  kernels::apply_activation_f32_ref(act, out, out, y.numel());
}

}  // namespace

KILN_REGISTER_OP(fused_conv, {"ai.kiln", "FusedConv", {1}, 0, infer_fused_conv, compute_fused_conv, false, false, false,
                              prepare_conv}.with_macs(macs::conv<1>));

}  // namespace kiln::ops
