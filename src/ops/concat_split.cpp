// Concat and Split: join tensors along an axis, and cut one apart.

#include "base/checked.h"
#include "ops/movement_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// ---- Concat ----

int64_t concat_axis(const NodeContext& ctx, int64_t rank) {
  // Concat-1 defaulted the axis to 1; from opset 4 it is required.
  int64_t axis = ctx.opset() < 4 ? ctx.attr_int("axis", 1) : ctx.attr_int("axis");
  if (rank == 0) ctx.fail("cannot concatenate scalars (rank 0); Unsqueeze them first");
  return normalize_axis(ctx, axis, rank);
}

void compute_concat(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const int64_t axis = concat_axis(ctx, static_cast<int64_t>(y.rank()));
  const auto a = static_cast<size_t>(axis);
  const int64_t outer = product(y.dims(), 0, a), inner = product(y.dims(), a + 1, y.rank());
  const int64_t out_block = y.dim(a) * inner;
  int64_t offset = 0;  // where this input's block starts inside each output row
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& x = ctx.input(i);
    if (x.dtype() != y.dtype() || x.rank() != y.rank())
      ctx.bad_input("input {} is {} {} but the output is {} {}", i, dtype_name(x.dtype()), dims_str(x.dims()),
                    dtype_name(y.dtype()), dims_str(y.dims()));
    const int64_t block = x.dim(a) * inner;
    if (offset + block > out_block) ctx.bad_input("input {} ({}) overruns the output", i, dims_str(x.dims()));
    for (int64_t o = 0; o < outer; ++o) copy_elements(x, o * block, y, o * out_block + offset, block);
    offset += block;
  }
}

void infer_concat(InferContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.fail("needs at least one input");
  DType t = DType::kUndefined;  // the first known input type
  for (size_t i = 0; i < ctx.num_inputs() && t == DType::kUndefined; ++i) t = ctx.input_type(i);
  std::optional<size_t> rank;
  bool all_ranks_known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const ValueInfo& in = ctx.input(i);
    if (types_differ(in.dtype, t)) ctx.fail("input {} is {} but another is {}", i, dtype_name(in.dtype), dtype_name(t));
    if (!in.shape.rank_known) {
      all_ranks_known = false;
    } else if (!rank) {
      rank = in.shape.rank();
    } else if (*rank != in.shape.rank()) {
      ctx.fail("input {} has rank {} but input 0 has rank {}", i, in.shape.rank(), *rank);
    }
  }
  if (!rank) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const auto axis = static_cast<size_t>(concat_axis(ctx, static_cast<int64_t>(*rank)));
  std::vector<Dim> out(*rank);
  std::vector<Dim> along;  // the concatenated dims (known zeros left out)
  bool along_known = all_ranks_known;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape& s = ctx.input_shape(i);
    if (!s.rank_known) continue;
    for (size_t k = 0; k < *rank; ++k) {
      const Dim& d = s.dims[k];
      if (k == axis) {
        if (!(d.is_known() && d.value() == 0)) along.push_back(d);
      } else if (d.is_known()) {
        if (out[k].is_known() && out[k].value() != d.value())
          ctx.bad_input("inputs disagree on dim {}: {} and {} (input {} is {})", k, out[k].value(), d.value(), i,
                        s.str());
        out[k] = d;
      } else if (!out[k].is_known() && !out[k].is_symbol()) {
        out[k] = d;  // a symbol, unless a number is known from another input
      }
    }
  }
  if (!along_known) {
    out[axis] = Dim();
  } else if (along.size() == 1) {
    out[axis] = along[0];  // every other input is empty along the axis
  } else {
    int64_t sum = 0;
    for (const Dim& d : along) {
      if (!d.is_known()) {
        sum = -1;
        break;
      }
      sum = checked_add(sum, d.value(), "Concat output dim");
    }
    out[axis] = sum >= 0 ? Dim(sum) : Dim();
  }
  ctx.set_output(0, t, Shape(out));

  // Shape arithmetic: concatenating 1-D shape pieces keeps their symbols.
  if (*rank == 1 && out[0].is_known()) {
    std::vector<SymbolicInt> elems;
    bool all = true;
    for (size_t i = 0; i < ctx.num_inputs() && all; ++i) {
      std::optional<std::vector<SymbolicInt>> e = input_elements(ctx, i);
      if (e) elems.insert(elems.end(), e->begin(), e->end());
      all = e.has_value();
    }
    if (all && static_cast<int64_t>(elems.size()) == out[0].value()) {
      set_output_elements(ctx, 0, t, {out[0].value()}, elems);
      return;
    }
  }
  fold_if_known(ctx, compute_concat);
}

// ---- Split ----

// The explicit split sizes: attribute before opset 13 (or Split-1's optional second input), input from 13.
// nullopt when none is given. An empty list counts as none (as ONNX Runtime reads it).
std::optional<std::vector<int64_t>> explicit_sizes(const NodeContext& ctx, const Tensor* split_input) {
  std::optional<std::vector<int64_t>> sizes;
  if (ctx.opset() < 13 && ctx.has_attr("split")) sizes = ctx.attr_ints("split");
  else if ((ctx.opset() >= 13 || ctx.opset() < 2) && split_input) sizes = read_int_list(ctx, *split_input, "split");
  if (sizes && sizes->empty()) sizes.reset();
  return sizes;
}

// Sizes of the parts along a known dim when no sizes are given: equal parts, the last one smaller when the
// dim does not divide (Split-18's num_outputs rule, also accepted for the older forms).
std::vector<int64_t> even_sizes(const NodeContext& ctx, int64_t dim, int64_t parts) {
  int64_t chunk = (dim + parts - 1) / parts;
  int64_t last = dim - chunk * (parts - 1);
  if (last < 0)
    ctx.bad_input("cannot split a dim of {} into {} parts of {} (the last part would be {})", dim, parts, chunk,
                  last);
  std::vector<int64_t> sizes(static_cast<size_t>(parts), chunk);
  sizes.back() = last;
  return sizes;
}

int64_t split_parts(const NodeContext& ctx, size_t num_outputs) {
  if (num_outputs == 0) ctx.fail("needs at least one output");
  if (ctx.opset() >= 18 && ctx.has_attr("num_outputs")) {
    int64_t n = ctx.attr_int("num_outputs");
    if (n != static_cast<int64_t>(num_outputs))
      ctx.fail("num_outputs is {} but the node lists {} outputs", n, num_outputs);
  }
  return static_cast<int64_t>(num_outputs);
}

void check_sizes(const NodeContext& ctx, const std::vector<int64_t>& sizes, int64_t parts, int64_t dim) {
  if (static_cast<int64_t>(sizes.size()) != parts)
    ctx.fail("split lists {} sizes but the node has {} outputs", sizes.size(), parts);
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0) ctx.bad_input("split sizes must not be negative, got [{}]", fmt::join(sizes, ","));
    sum = checked_add(sum, s, "split total");
  }
  if (dim >= 0 && sum != dim)
    ctx.bad_input("split sizes [{}] add up to {} but the axis has {}", fmt::join(sizes, ","), sum, dim);
}

void compute_split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.fail("cannot split a scalar");
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(x.rank())));
  const int64_t parts = split_parts(ctx, ctx.num_outputs());
  const Tensor* split_input = ctx.has_input(1) ? &ctx.input(1) : nullptr;
  std::optional<std::vector<int64_t>> sizes = explicit_sizes(ctx, split_input);
  if (!sizes) sizes = even_sizes(ctx, x.dim(axis), parts);
  check_sizes(ctx, *sizes, parts, x.dim(axis));
  const int64_t outer = product(x.dims(), 0, axis), inner = product(x.dims(), axis + 1, x.rank());
  const int64_t in_block = x.dim(axis) * inner;
  int64_t offset = 0;
  for (size_t i = 0; i < static_cast<size_t>(parts); ++i) {
    Tensor& y = ctx.output(i);
    const int64_t block = (*sizes)[i] * inner;
    KILN_ASSERT(y.numel() == outer * block);
    for (int64_t o = 0; o < outer; ++o) copy_elements(x, o * in_block + offset, y, o * block, block);
    offset += block;
  }
}

void infer_split(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const DType t = ctx.input_type(0);
  const int64_t parts = split_parts(ctx, ctx.num_outputs());
  if (!in.rank_known) {
    for (size_t i = 0; i < ctx.num_outputs(); ++i) ctx.set_output(i, t, Shape::unknown_rank());
    return;
  }
  if (in.rank() == 0) ctx.fail("cannot split a scalar");
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(in.rank())));
  const Dim& dim = in.dims[axis];
  std::optional<std::vector<int64_t>> sizes;
  bool sizes_unknown = false;
  if (ctx.opset() < 13 && ctx.has_attr("split")) {
    sizes = ctx.attr_ints("split");
  } else if ((ctx.opset() >= 13 || ctx.opset() < 2) && ctx.has_input(1)) {
    require_index_type(ctx, ctx.input_type(1), "split");
    sizes = input_ints(ctx, 1);
    sizes_unknown = !sizes;
  }
  if (sizes && sizes->empty()) sizes.reset();  // an empty list means none, as in the kernel
  if (sizes) check_sizes(ctx, *sizes, parts, dim.value());
  else if (!sizes_unknown && dim.is_known()) sizes = even_sizes(ctx, dim.value(), parts);
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    std::vector<Dim> out = in.dims;
    if (sizes) out[axis] = Dim((*sizes)[i]);
    else if (parts != 1) out[axis] = Dim();  // one part keeps the (symbolic) dim
    ctx.set_output(i, t, Shape(std::move(out)));
  }
  fold_if_known(ctx, compute_split);
}

}  // namespace

KILN_REGISTER_OP(concat, {.domain = "", .name = "Concat", .versions = {1, 4, 11, 13}, .infer = infer_concat,
                          .compute = compute_concat, .prepare = prepare_concat});
KILN_REGISTER_OP(split, {.domain = "", .name = "Split", .versions = {1, 2, 11, 13, 18}, .infer = infer_split,
                         .compute = compute_split, .prepare = prepare_split});

}  // namespace kiln::ops
