#include "ops/sequence_util.h"

#include "ops/elementwise.h"

namespace kiln::ops::sequence {

const ValueInfo& sequence_info(const InferContext& ctx, size_t i) {
  const ValueInfo& v = ctx.input(i);
  const bool unknown = v.kind == TensorKind::kTensor && v.dtype == DType::kUndefined;
  if (v.kind != TensorKind::kSequence && !unknown)
    ctx.fail("input {} must be a sequence, but it is a {}", i, v.type_str());
  return v;
}

const Tensor& sequence_input(const KernelContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  if (!t.is_sequence()) ctx.fail("input {} must be a sequence, but it is a {}", i, tensor_kind_name(t.kind()));
  return t;
}

DType agree(const NodeContext& ctx, DType a, DType b, const char* what) {
  if (a == DType::kUndefined) return b;
  if (b == DType::kUndefined || a == b) return a;
  ctx.fail("{}: the sequence holds {} tensors but the tensor is {}; a sequence holds one element type", what,
           dtype_name(a), dtype_name(b));
}

Shape cover(const Shape& a, const Shape& b) {
  if (!a.rank_known || !b.rank_known || a.rank() != b.rank()) return Shape::unknown_rank();
  Shape s = a;
  for (size_t d = 0; d < s.rank(); ++d)
    if (!(a.dims[d] == b.dims[d])) s.dims[d] = Dim();
  return s;
}

int64_t position(const KernelContext& ctx, const Tensor& pos, int64_t length, bool one_past_end) {
  if (!pos.is_tensor() || (pos.dtype() != DType::kInt64 && pos.dtype() != DType::kInt32))
    ctx.fail("position must be an int32 or int64 tensor, not a {} of {}", tensor_kind_name(pos.kind()),
             dtype_name(pos.dtype()));
  if (pos.numel() != 1) ctx.bad_input("position must hold one element, but its shape is {}", dims_str(pos.dims()));
  const int64_t p = pos.int_at(0);
  const int64_t hi = one_past_end ? length : length - 1;
  if (p < -length || p > hi)
    ctx.bad_input("position {} is out of range for a sequence of {} tensor{}: it must be in [{}, {}]", p, length,
                  length == 1 ? "" : "s", -length, hi);
  return p < 0 ? p + length : p;
}

Tensor owned(const Tensor& t) { return t.owns_memory() ? t : t.clone(); }

void emit(KernelContext& ctx, size_t i, const Tensor& t) {
  if (!ctx.output_allocated(i)) {
    ctx.set_output(i, owned(t));
    return;
  }
  Tensor& out = ctx.output(i);
  if (!t.is_tensor() || t.dtype() != out.dtype() || t.dims() != out.dims())
    ctx.bad_input("the result is a {} of {} {}, but inference promised {} {}", tensor_kind_name(t.kind()),
                  dtype_name(t.dtype()), dims_str(t.dims()), dtype_name(out.dtype()), dims_str(out.dims()));
  copy_elements(t, out);
}

}  // namespace kiln::ops::sequence
