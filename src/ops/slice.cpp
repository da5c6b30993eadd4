// Slice: numpy-style basic slicing with per-axis start, end and step (negative steps walk backwards).
// Before opset 10 starts/ends/axes are attributes; from 10 they are inputs, with steps.

#include <algorithm>
#include <limits>

#include "ops/movement_prepared.h"
#include "ops/op.h"
#include "ops/slice.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

struct SliceArgs {
  std::vector<int64_t> starts, ends, axes, steps;  // axes normalized
};

// Validates the lists and normalizes axes against `rank`.
SliceArgs make_args(const NodeContext& ctx, std::vector<int64_t> starts, std::vector<int64_t> ends,
                    std::optional<std::vector<int64_t>> axes, std::optional<std::vector<int64_t>> steps,
                    int64_t rank) {
  SliceArgs a;
  if (starts.size() != ends.size())
    ctx.fail("starts has {} entries but ends has {}", starts.size(), ends.size());
  if (!axes) {
    axes.emplace(starts.size());
    for (size_t k = 0; k < axes->size(); ++k) (*axes)[k] = static_cast<int64_t>(k);
  }
  if (!steps) steps.emplace(starts.size(), 1);
  if (axes->size() != starts.size() || steps->size() != starts.size())
    ctx.fail("starts, ends, axes and steps must have the same length ({}, {}, {}, {})", starts.size(), ends.size(),
             axes->size(), steps->size());
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t& axis : *axes) {
    axis = normalize_axis(ctx, axis, rank);
    if (seen[static_cast<size_t>(axis)]) ctx.fail("axis {} is sliced twice", axis);
    seen[static_cast<size_t>(axis)] = true;
  }
  for (int64_t s : *steps)
    if (s == 0) ctx.bad_input("slice step must not be 0");
  a.starts = std::move(starts);
  a.ends = std::move(ends);
  a.axes = std::move(*axes);
  a.steps = std::move(*steps);
  return a;
}

// Reads the arguments at run time (all values known).
SliceArgs kernel_args(const KernelContext& ctx, int64_t rank) {
  if (ctx.opset() < 10) {
    std::optional<std::vector<int64_t>> axes;
    if (ctx.has_attr("axes")) axes = ctx.attr_ints("axes");
    return make_args(ctx, ctx.attr_ints("starts"), ctx.attr_ints("ends"), axes, std::nullopt, rank);
  }
  std::optional<std::vector<int64_t>> axes, steps;
  if (ctx.has_input(3)) axes = read_int_list(ctx, ctx.input(3), "axes");
  if (ctx.has_input(4)) steps = read_int_list(ctx, ctx.input(4), "steps");
  return make_args(ctx, read_int_list(ctx, ctx.input(1), "starts"), read_int_list(ctx, ctx.input(2), "ends"), axes,
                   steps, rank);
}

void compute_slice(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const auto rank = static_cast<int64_t>(x.rank());
  SliceArgs a = kernel_args(ctx, rank);
  std::vector<int64_t> first(x.rank(), 0), step(x.rank(), 1);
  for (size_t k = 0; k < a.axes.size(); ++k) {
    const auto axis = static_cast<size_t>(a.axes[k]);
    SliceRange r = clamp_slice_axis(x.dim(axis), a.starts[k], a.ends[k], a.steps[k]);
    if (r.count != y.dim(axis)) ctx.bad_input("output dim {} is {} but the slice gives {}", axis, y.dim(axis), r.count);
    first[axis] = r.first;
    step[axis] = a.steps[k];
  }
  if (y.numel() == 0) return;
  std::vector<int64_t> strides = strides_of(x.dims());
  std::vector<std::vector<int64_t>> tables(x.rank());
  for (size_t k = 0; k < x.rank(); ++k) {
    tables[k].resize(static_cast<size_t>(y.dim(k)));
    for (int64_t o = 0; o < y.dim(k); ++o) tables[k][static_cast<size_t>(o)] = (first[k] + o * step[k]) * strides[k];
  }
  gather_by_axis_tables(x, y, tables);
}

// True when a slice of an unknown-size dim surely takes all of it, in order or reversed.
bool takes_whole_axis(int64_t start, int64_t end, int64_t step) {
  constexpr int64_t kBig = std::numeric_limits<int32_t>::max();  // exporters write INT64_MAX or INT32_MAX
  if (step == 1) return start == 0 && end >= kBig;
  if (step == -1) return (start == -1 || start >= kBig) && end <= -kBig;
  return false;
}

void infer_slice(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const DType t = ctx.input_type(0);
  if (!in.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const auto rank = static_cast<int64_t>(in.rank());
  std::optional<SliceArgs> args;
  if (ctx.opset() < 10) {
    std::optional<std::vector<int64_t>> axes;
    if (ctx.has_attr("axes")) axes = ctx.attr_ints("axes");
    args = make_args(ctx, ctx.attr_ints("starts"), ctx.attr_ints("ends"), axes, std::nullopt, rank);
  } else {
    static constexpr const char* kNames[] = {"data", "starts", "ends", "axes", "steps"};
    for (size_t i = 1; i <= 4; ++i)
      if (ctx.has_input(i)) require_index_type(ctx, ctx.input_type(i), kNames[i]);
    std::optional<std::vector<int64_t>> starts = input_ints(ctx, 1), ends = input_ints(ctx, 2);
    std::optional<std::vector<int64_t>> axes = input_ints(ctx, 3), steps = input_ints(ctx, 4);
    bool axes_ok = !ctx.has_input(3) || axes, steps_ok = !ctx.has_input(4) || steps;
    if (starts && ends && axes_ok && steps_ok) {
      args = make_args(ctx, *starts, *ends, axes, steps, rank);
    } else {
      // Values unknown: the rank stays; the sliced axes (all, unless axes is known) become unknown.
      std::vector<Dim> out = in.dims;
      if (axes && axes_ok) {
        for (int64_t a : *axes) out[static_cast<size_t>(normalize_axis(ctx, a, rank))] = Dim();
      } else {
        out.assign(in.rank(), Dim());
      }
      ctx.set_output(0, t, Shape(std::move(out)));
      return;
    }
  }
  std::vector<Dim> out = in.dims;
  for (size_t k = 0; k < args->axes.size(); ++k) {
    const auto axis = static_cast<size_t>(args->axes[k]);
    const Dim& d = in.dims[axis];
    if (d.is_known()) out[axis] = Dim(clamp_slice_axis(d.value(), args->starts[k], args->ends[k], args->steps[k]).count);
    else if (!takes_whole_axis(args->starts[k], args->ends[k], args->steps[k])) out[axis] = Dim();
  }
  ctx.set_output(0, t, Shape(out));

  // Shape arithmetic: slicing a 1-D shape value (e.g. Shape(x)[2:]) keeps its symbols.
  std::optional<std::vector<SymbolicInt>> elems = input_elements(ctx, 0);
  if (elems && rank == 1 && out[0].is_known() && !ctx.input_value(0)) {
    std::vector<SymbolicInt> picked;
    if (!args->axes.empty()) {
      SliceRange r = clamp_slice_axis(static_cast<int64_t>(elems->size()), args->starts[0], args->ends[0], args->steps[0]);
      for (int64_t o = 0; o < r.count; ++o) picked.push_back((*elems)[static_cast<size_t>(r.first + o * args->steps[0])]);
    } else {
      picked = *elems;
    }
    set_output_elements(ctx, 0, t, {static_cast<int64_t>(picked.size())}, picked);
    return;
  }
  fold_if_known(ctx, compute_slice);
}

}  // namespace

SliceRange clamp_slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (dim == 0) return {};
  if (start < 0) start += dim;  // no overflow: start < 0 <= dim
  if (end < 0) end += dim;
  SliceRange r;
  if (step > 0) {
    int64_t s = std::clamp<int64_t>(start, 0, dim), e = std::clamp<int64_t>(end, 0, dim);
    r.first = s;
    r.count = e > s ? (e - s - 1) / step + 1 : 0;
  } else {
    int64_t s = std::clamp<int64_t>(start, 0, dim - 1), e = std::clamp<int64_t>(end, -1, dim - 1);
    r.first = s;
    if (s <= e) r.count = 0;
    else if (step == std::numeric_limits<int64_t>::min()) r.count = 1;  // -step would overflow
    else r.count = (s - e - 1) / -step + 1;
  }
  return r;
}

KILN_REGISTER_OP(slice, {.domain = "", .name = "Slice", .versions = {1, 10, 11, 13}, .infer = infer_slice,
                         .compute = compute_slice, .prepare = prepare_slice});

}  // namespace kiln::ops
