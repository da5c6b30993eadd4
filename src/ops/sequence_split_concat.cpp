// Between tensors and sequences: SplitToSequence cuts a tensor into a sequence along an axis, and
// ConcatFromSequence joins a sequence's tensors along an axis (or stacks them on a new one).

#include "base/checked.h"
#include "ops/sequence_util.h"
#include "ops/shape_util.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// ---- SplitToSequence ----

// The lengths of the pieces along an axis of size `dim`: ones when `split` is absent, chunks of a scalar
// split (the last may be shorter), or the lengths a 1-D split lists (which must add up to the dim).
std::vector<int64_t> piece_lengths(const KernelContext& ctx, const Tensor* split, int64_t dim) {
  if (!split) return std::vector<int64_t>(static_cast<size_t>(dim), 1);
  if (split->dtype() != DType::kInt64 && split->dtype() != DType::kInt32)
    ctx.fail("split must be int32 or int64, not {}", dtype_name(split->dtype()));
  if (split->rank() == 0) {
    const int64_t k = split->int_at(0);
    if (k <= 0) ctx.bad_input("a scalar split is the length of each piece and must be positive, not {}", k);
    std::vector<int64_t> lengths(static_cast<size_t>(dim / k), k);
    if (dim % k) lengths.push_back(dim % k);
    return lengths;
  }
  if (split->rank() != 1) ctx.bad_input("split must be a scalar or 1-D, but its shape is {}", dims_str(split->dims()));
  std::vector<int64_t> lengths = split->to_int64_vector();
  int64_t sum = 0;
  for (int64_t l : lengths) {
    if (l < 0) ctx.bad_input("split lengths must not be negative, but split is {}", dims_str(lengths));
    sum = checked_add(sum, l, "split total");
  }
  if (sum != dim)
    ctx.bad_input("split lengths {} add up to {}, but the axis has {} elements", dims_str(lengths), sum, dim);
  return lengths;
}

void infer_split_to_sequence(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  if (x.is_container()) ctx.fail("input 0 is a {}; SplitToSequence splits a tensor", x.type_str());
  if (ctx.has_input(1) && ctx.input(1).is_container())
    ctx.fail("input 1 is a {}; split must be a tensor", ctx.input(1).type_str());
  if (ctx.has_input(1) && ctx.input_type(1) != DType::kUndefined && ctx.input_type(1) != DType::kInt64 &&
      ctx.input_type(1) != DType::kInt32)
    ctx.fail("split must be int32 or int64, not {}", dtype_name(ctx.input_type(1)));
  Shape elem = x.shape;
  if (elem.rank_known) {
    if (elem.rank() == 0) ctx.fail("cannot split a scalar (rank 0)");
    const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(elem.rank())));
    if (ctx.has_input(1)) {
      elem.dims[axis] = Dim();  // each piece's length comes from the split's values
    } else if (ctx.attr_int("keepdims", 1) != 0) {
      elem.dims[axis] = Dim(1);
    } else {
      elem.dims.erase(elem.dims.begin() + static_cast<long>(axis));
    }
  }
  ctx.set_output_info(0, ValueInfo::sequence(x.dtype, elem));
}

void compute_split_to_sequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && !ctx.input(i).is_tensor())
      ctx.fail("input {} is a {}; SplitToSequence takes tensors", i, tensor_kind_name(ctx.input(i).kind()));
  if (x.rank() == 0) ctx.bad_input("cannot split a scalar (rank 0)");
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(x.rank())));
  const Tensor* split = ctx.has_input(1) ? &ctx.input(1) : nullptr;
  // keepdims applies only without a split: pieces of length 1 may then drop the axis.
  const bool squeeze = !split && ctx.attr_int("keepdims", 1) == 0;
  const int64_t dim = x.dim(axis);
  const int64_t outer = product(x.dims(), 0, axis), inner = product(x.dims(), axis + 1, x.rank());
  std::vector<Tensor> pieces;
  int64_t start = 0;
  for (int64_t len : piece_lengths(ctx, split, dim)) {
    std::vector<int64_t> dims = x.dims();
    dims[axis] = len;
    Tensor piece(x.dtype(), dims);
    for (int64_t o = 0; o < outer; ++o)
      copy_elements(x, (o * dim + start) * inner, piece, o * len * inner, len * inner);
    if (squeeze) dims.erase(dims.begin() + static_cast<long>(axis));
    pieces.push_back(squeeze ? piece.reshaped(dims) : std::move(piece));
    start += len;
  }
  ctx.set_output(0, Tensor::make_sequence(x.dtype(), std::move(pieces)));
}

// ---- ConcatFromSequence ----

void infer_concat_from_sequence(InferContext& ctx) {
  const ValueInfo& seq = sequence::sequence_info(ctx, 0);
  ctx.attr_int("axis");  // required
  const bool new_axis = ctx.attr_int("new_axis", 0) != 0;
  Shape out = Shape::unknown_rank();
  if (seq.shape.rank_known) out = Shape(std::vector<Dim>(seq.shape.rank() + (new_axis ? 1 : 0)));
  ctx.set_output(0, seq.dtype, out);  // the sizes depend on how many tensors the sequence holds
}

void compute_concat_from_sequence(KernelContext& ctx) {
  const Tensor& seq = sequence::sequence_input(ctx, 0);
  const std::vector<Tensor>& parts = seq.elements();
  const bool new_axis = ctx.attr_int("new_axis", 0) != 0;
  if (parts.empty())
    ctx.bad_input("the sequence is empty: there is nothing to concatenate, and no shape for the result");
  const std::vector<int64_t>& first = parts.front().dims();
  const auto rank = static_cast<int64_t>(first.size());
  if (rank == 0 && !new_axis) ctx.bad_input("cannot concatenate scalars (rank 0); set new_axis=1 to stack them");
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis"), rank + (new_axis ? 1 : 0)));
  // With new_axis every tensor becomes a slab of length 1 along the new axis: the same loop stacks them.
  std::vector<int64_t> out_dims = first;
  if (new_axis) out_dims.insert(out_dims.begin() + static_cast<long>(axis), 0);
  else out_dims[axis] = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const std::vector<int64_t>& d = parts[k].dims();
    bool ok = d.size() == first.size();
    for (size_t i = 0; ok && i < d.size(); ++i) ok = d[i] == first[i] || (!new_axis && i == axis);
    if (!ok)
      ctx.bad_input("tensor {} of the sequence has dims {}, which cannot be {} with tensor 0's {}", k, dims_str(d),
                    new_axis ? "stacked" : fmt::format("concatenated along axis {}", axis), dims_str(first));
    out_dims[axis] = checked_add(out_dims[axis], new_axis ? int64_t{1} : d[axis], "concatenated length");
  }
  Tensor& y = ctx.allocate_output(0, seq.dtype(), out_dims);
  const int64_t outer = product(out_dims, 0, axis), inner = product(out_dims, axis + 1, out_dims.size());
  const int64_t out_row = out_dims[axis] * inner;
  int64_t offset = 0;
  for (const Tensor& p : parts) {
    const int64_t block = (new_axis ? 1 : p.dim(axis)) * inner;
    for (int64_t o = 0; o < outer; ++o) copy_elements(p, o * block, y, o * out_row + offset, block);
    offset += block;
  }
}

}  // namespace

KILN_REGISTER_OP(split_to_sequence, {.domain = "", .name = "SplitToSequence", .versions = {11, 24},
                                     .infer = infer_split_to_sequence, .compute = compute_split_to_sequence,
                                     .accepts_containers = true});
KILN_REGISTER_OP(concat_from_sequence, {.domain = "", .name = "ConcatFromSequence", .versions = {11},
                                        .infer = infer_concat_from_sequence, .compute = compute_concat_from_sequence,
                                        .accepts_containers = true});

}  // namespace kiln::ops
