// Ops that pass their input through at inference: Identity, and Dropout in inference mode (output = input,
// optional mask output all true). Dropout's training mode (random masks) has no place in an inference
// engine and is refused with the way out.
#include "ir/dispatch.h"
#include "ops/elementwise.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

void infer_identity(InferContext& ctx) {
  if (ctx.input(0).is_container()) {  // Identity-14 passes sequences, Identity-16 optionals
    ctx.set_output_info(0, ctx.input(0));
    return;
  }
  DType t = ctx.input_type(0);
  if (t != DType::kUndefined && !dtype_is_supported(t))
    ctx.unsupported("input has element type {}, which kiln does not hold", dtype_name(t));
  ctx.set_output(0, t, ctx.input_shape(0));
}

void compute_identity(KernelContext& ctx) {
  if (!ctx.input(0).is_tensor()) {
    ctx.set_output(0, ctx.input(0));  // containers are immutable: sharing is a copy
    return;
  }
  copy_elements(ctx.input(0), ctx.output(0));
}

// ---- Dropout ----

// Opset 12 made training mode an input (default false). Before that, Dropout-7/10 were inference-only
// copies; Dropout-1/6 had an `is_test` attribute, and like onnxruntime kiln runs those as inference too.
// Training mode with ratio 0 drops nothing and scales by 1, so it is the same copy and is allowed.
// Called at inference with the values known so far (nullptr when not known) and again by the kernel.
void refuse_training(const NodeContext& ctx, bool has_ratio, const Tensor* ratio, const Tensor* training_mode) {
  if (!training_mode || training_mode->numel() < 1 || training_mode->int_at(0) == 0) return;
  if (has_ratio && !ratio) return;  // ratio not known yet: the kernel decides
  if (ratio && ratio->numel() == 1 && ratio->double_at(0) == 0) return;
  ctx.unsupported(
      "training_mode is true with a nonzero ratio: kiln runs Dropout only in inference mode (output = "
      "input); feed training_mode = false or remove the input");
}

void infer_dropout(InferContext& ctx) {
  DType t = check_input_type(ctx, 0, kFloatTypes);
  if (ctx.opset() >= 12) {
    if (ctx.has_input(1)) check_input_type(ctx, 1, kFloatTypes);
    if (ctx.has_input(2)) check_input_type(ctx, 2, kBoolType);
    refuse_training(ctx, ctx.has_input(1), ctx.input_value(1), ctx.input_value(2));
  }
  ctx.set_output(0, t, ctx.input_shape(0));
  // Dropout-10 made the mask bool; before, it had the data's type.
  if (ctx.num_outputs() > 1) ctx.set_output(1, ctx.opset() >= 10 ? DType::kBool : t, ctx.input_shape(0));
}

void compute_dropout(KernelContext& ctx) {
  if (ctx.opset() >= 12 && ctx.has_input(2))
    refuse_training(ctx, ctx.has_input(1), ctx.has_input(1) ? &ctx.input(1) : nullptr, &ctx.input(2));
  copy_elements(ctx.input(0), ctx.output(0));
  if (ctx.num_outputs() < 2 || ctx.node().outputs[1] < 0) return;  // mask not requested
  Tensor& mask = ctx.output(1);
  visit_numeric_or_bool(mask.dtype(), [&]<typename T>() {
    T* p = mask.data<T>();
    for (int64_t i = 0; i < mask.numel(); ++i) p[i] = T(Acc<T>(1));  // every element kept
  }, "Dropout mask");
}

}  // namespace

KILN_REGISTER_OP(identity, {.domain = "", .name = "Identity", .versions = {1, 13, 14, 16, 19, 21, 23, 24, 25},
                            .infer = infer_identity, .compute = compute_identity, .accepts_containers = true});
KILN_REGISTER_OP(dropout, {"", "Dropout", {1, 6, 7, 10, 12, 13, 22}, 0, infer_dropout, compute_dropout});

}  // namespace kiln::ops
