// The sequence ops (opset 11): SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceErase, SequenceAt,
// SequenceLength. A sequence is an immutable Tensor container (Tensor::make_sequence): every op builds a new
// one, sharing the tensors it keeps. Inference describes the tensors inside by the shape they all share; the
// kernels see the actual tensors and check positions and element types.

#include "ops/sequence_util.h"

namespace kiln::ops {
namespace {

using sequence::agree;
using sequence::cover;
using sequence::owned;
using sequence::sequence_info;
using sequence::sequence_input;

// ---- SequenceEmpty ----

DType empty_dtype(const NodeContext& ctx) {
  const DType t = static_cast<DType>(ctx.attr_int("dtype", static_cast<int64_t>(DType::kFloat32)));
  if (!dtype_is_supported(t))
    ctx.unsupported("dtype {} is not an element type kiln holds", static_cast<int>(t));
  return t;
}

void infer_sequence_empty(InferContext& ctx) {
  ctx.set_output_info(0, ValueInfo::sequence(empty_dtype(ctx), Shape::unknown_rank()));
}

void compute_sequence_empty(KernelContext& ctx) { ctx.set_output(0, Tensor::make_sequence(empty_dtype(ctx), {})); }

// ---- SequenceConstruct ----

void infer_sequence_construct(InferContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.fail("needs at least one input tensor");
  DType t = DType::kUndefined;
  Shape s = ctx.input_shape(0);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const ValueInfo& in = ctx.input(i);
    if (in.is_container()) ctx.fail("input {} is a {}; SequenceConstruct takes tensors", i, in.type_str());
    if (t != DType::kUndefined && in.dtype != DType::kUndefined && in.dtype != t)
      ctx.fail("input {} is {} but input 0 is {}: a sequence holds one element type", i, dtype_name(in.dtype),
               dtype_name(t));
    if (t == DType::kUndefined) t = in.dtype;
    s = cover(s, in.shape);
  }
  ctx.set_output_info(0, ValueInfo::sequence(t, s));
}

void compute_sequence_construct(KernelContext& ctx) {
  std::vector<Tensor> elements;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& x = ctx.input(i);
    if (!x.is_tensor()) ctx.fail("input {} is a {}; SequenceConstruct takes tensors", i, tensor_kind_name(x.kind()));
    if (x.dtype() != ctx.input(0).dtype())
      ctx.fail("input {} is {} but input 0 is {}: a sequence holds one element type", i, dtype_name(x.dtype()),
               dtype_name(ctx.input(0).dtype()));
    elements.push_back(owned(x));
  }
  ctx.set_output(0, Tensor::make_sequence(ctx.input(0).dtype(), std::move(elements)));
}

// ---- SequenceInsert ----

void infer_sequence_insert(InferContext& ctx) {
  const ValueInfo& seq = sequence_info(ctx, 0);
  const ValueInfo& x = ctx.input(1);
  if (x.is_container()) ctx.fail("input 1 is a {}; SequenceInsert inserts a tensor", x.type_str());
  const DType t = agree(ctx, seq.dtype, x.dtype, "SequenceInsert");
  // An empty sequence made here says nothing about shapes; otherwise the new tensor joins the shared shape.
  const bool starts_empty = seq.value && seq.value->is_sequence() && seq.value->elements().empty();
  ctx.set_output_info(0, ValueInfo::sequence(t, starts_empty ? x.shape : cover(seq.shape, x.shape)));
}

void compute_sequence_insert(KernelContext& ctx) {
  const Tensor& seq = sequence_input(ctx, 0);
  const Tensor& x = ctx.input(1);
  if (!x.is_tensor()) ctx.fail("input 1 is a {}; SequenceInsert inserts a tensor", tensor_kind_name(x.kind()));
  agree(ctx, seq.dtype(), x.dtype(), "SequenceInsert");
  std::vector<Tensor> elements = seq.elements();
  const auto n = static_cast<int64_t>(elements.size());
  const int64_t at = ctx.has_input(2) ? sequence::position(ctx, ctx.input(2), n, true) : n;
  elements.insert(elements.begin() + at, owned(x));
  ctx.set_output(0, Tensor::make_sequence(x.dtype(), std::move(elements)));
}

// ---- SequenceErase ----

void infer_sequence_erase(InferContext& ctx) {
  const ValueInfo& seq = sequence_info(ctx, 0);
  ctx.set_output_info(0, ValueInfo::sequence(seq.dtype, seq.shape));
}

void compute_sequence_erase(KernelContext& ctx) {
  const Tensor& seq = sequence_input(ctx, 0);
  std::vector<Tensor> elements = seq.elements();
  const auto n = static_cast<int64_t>(elements.size());
  if (n == 0) ctx.bad_input("cannot erase from an empty sequence");
  const int64_t at = ctx.has_input(1) ? sequence::position(ctx, ctx.input(1), n, false) : n - 1;
  elements.erase(elements.begin() + at);
  ctx.set_output(0, Tensor::make_sequence(seq.dtype(), std::move(elements)));
}

// ---- SequenceAt ----

void infer_sequence_at(InferContext& ctx) {
  const ValueInfo& seq = sequence_info(ctx, 0);
  ctx.set_output(0, seq.dtype, seq.shape);
}

void compute_sequence_at(KernelContext& ctx) {
  const Tensor& seq = sequence_input(ctx, 0);
  const auto n = static_cast<int64_t>(seq.elements().size());
  const int64_t at = sequence::position(ctx, ctx.input(1), n, false);
  sequence::emit(ctx, 0, seq.elements()[static_cast<size_t>(at)]);
}

// ---- SequenceLength ----

void infer_sequence_length(InferContext& ctx) {
  sequence_info(ctx, 0);
  ctx.set_output(0, DType::kInt64, Shape::from({}));
}

void compute_sequence_length(KernelContext& ctx) {
  const Tensor& seq = sequence_input(ctx, 0);
  ctx.output(0).data<int64_t>()[0] = static_cast<int64_t>(seq.elements().size());
}

}  // namespace

KILN_REGISTER_OP(sequence_empty, {.domain = "", .name = "SequenceEmpty", .versions = {11},
                                  .infer = infer_sequence_empty, .compute = compute_sequence_empty,
                                  .accepts_containers = true});
KILN_REGISTER_OP(sequence_construct, {.domain = "", .name = "SequenceConstruct", .versions = {11},
                                      .infer = infer_sequence_construct, .compute = compute_sequence_construct,
                                      .accepts_containers = true});
KILN_REGISTER_OP(sequence_insert, {.domain = "", .name = "SequenceInsert", .versions = {11},
                                   .infer = infer_sequence_insert, .compute = compute_sequence_insert,
                                   .accepts_containers = true});
KILN_REGISTER_OP(sequence_erase, {.domain = "", .name = "SequenceErase", .versions = {11},
                                  .infer = infer_sequence_erase, .compute = compute_sequence_erase,
                                  .accepts_containers = true});
KILN_REGISTER_OP(sequence_at, {.domain = "", .name = "SequenceAt", .versions = {11}, .infer = infer_sequence_at,
                               .compute = compute_sequence_at, .accepts_containers = true});
KILN_REGISTER_OP(sequence_length, {.domain = "", .name = "SequenceLength", .versions = {11},
                                   .infer = infer_sequence_length, .compute = compute_sequence_length,
                                   .accepts_containers = true});

}  // namespace kiln::ops
