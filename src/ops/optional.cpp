// The optional ops (opset 15; 18 widened two of them): Optional wraps a tensor or sequence, or makes an
// empty optional of a declared type; OptionalHasElement tells whether one holds a value; OptionalGetElement
// takes the value out. From opset 18 the last two also accept a plain tensor or sequence (always "present")
// and OptionalHasElement an absent input (never present); kiln accepts those forms at every opset, as
// onnxruntime does, since a Loop-carried optional becomes the plain sequence the body returns.

#include "ops/sequence_util.h"

namespace kiln::ops {
namespace {

// ---- Optional ----

// The type an input-less Optional declares in its `type` attribute (a TypeProto of a tensor or sequence).
ir::FlatType declared_type(const NodeContext& ctx) {
  const ir::Attribute* a = ctx.node().attr("type");
  if (!a || a->type != ir::AttrType::kTypeProto || !a->tp)
    ctx.fail("without an input, Optional needs its 'type' attribute to say what the empty optional would hold");
  const ir::FlatType t = ir::flatten_type(*a->tp);
  if (!t.runnable || t.kind == TensorKind::kOptional)
    ctx.unsupported("an optional of {} is not something kiln holds (it holds tensors and sequences of tensors)",
                    t.runnable ? ir::type_str(t) : t.what);
  return t;
}

void infer_optional(InferContext& ctx) {
  if (ctx.has_input(0)) {
    const ValueInfo& x = ctx.input(0);
    if (x.kind == TensorKind::kOptional) ctx.fail("input 0 is already an optional; Optional wraps a tensor or sequence");
    ctx.set_output_info(0, ValueInfo::optional(x.kind, x.dtype, x.shape));
    return;
  }
  const ir::FlatType t = declared_type(ctx);
  ctx.set_output_info(0, ValueInfo::optional(t.kind, t.dtype, t.shape));
}

void compute_optional(KernelContext& ctx) {
  if (ctx.has_input(0)) {
    const Tensor& x = ctx.input(0);
    if (x.is_optional()) ctx.fail("input 0 is already an optional; Optional wraps a tensor or sequence");
    ctx.set_output(0, Tensor::make_optional(sequence::owned(x)));
    return;
  }
  const ir::FlatType t = declared_type(ctx);
  ctx.set_output(0, Tensor::make_empty_optional(t.dtype, t.kind));
}

// ---- OptionalHasElement ----

void infer_optional_has_element(InferContext& ctx) {
  if (!ctx.has_input(0)) {  // an absent input is an empty optional: the answer is known now
    ctx.set_output_value(0, Tensor::scalar<bool>(false));
    return;
  }
  ctx.set_output(0, DType::kBool, Shape::from({}));
}

void compute_optional_has_element(KernelContext& ctx) {
  const bool present = ctx.has_input(0) && (!ctx.input(0).is_optional() || ctx.input(0).has_element());
  ctx.output(0).data<bool>()[0] = present;
}

// ---- OptionalGetElement ----

void infer_optional_get_element(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  if (x.kind != TensorKind::kOptional) {  // a tensor or sequence passes through
    ctx.set_output_info(0, x);
    return;
  }
  ValueInfo out(x.dtype, x.shape);
  out.kind = x.holds;
  ctx.set_output_info(0, out);
}

void compute_optional_get_element(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!x.is_optional()) {
    sequence::emit(ctx, 0, x);
    return;
  }
  if (!x.has_element())
    ctx.bad_input("the optional is empty; check it with OptionalHasElement before taking its element");
  sequence::emit(ctx, 0, x.elements().front());
}

}  // namespace

KILN_REGISTER_OP(optional, {.domain = "", .name = "Optional", .versions = {15, 28}, .infer = infer_optional,
                            .compute = compute_optional, .accepts_containers = true});
KILN_REGISTER_OP(optional_has_element, {.domain = "", .name = "OptionalHasElement", .versions = {15, 18, 28},
                                        .infer = infer_optional_has_element,
                                        .compute = compute_optional_has_element, .accepts_containers = true});
KILN_REGISTER_OP(optional_get_element, {.domain = "", .name = "OptionalGetElement", .versions = {15, 18, 28},
                                        .infer = infer_optional_get_element,
                                        .compute = compute_optional_get_element, .accepts_containers = true});

}  // namespace kiln::ops
