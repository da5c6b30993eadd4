// Expand (broadcast to a shape) and Tile (repeat along each axis). Outputs can be far larger than inputs,
// so their sizes go through checked arithmetic before anything is allocated.

#include "base/checked.h"
#include "ops/axis_attr.h"
#include "ops/movement_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// ---- Expand ----

void compute_expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (x.rank() > y.rank()) ctx.bad_input("cannot expand {} to the lower rank {}", dims_str(x.dims()), dims_str(y.dims()));
  const size_t lead = y.rank() - x.rank();
  for (size_t k = 0; k < x.rank(); ++k)
    if (x.dim(k) != 1 && x.dim(k) != y.dim(lead + k))
      ctx.bad_input("cannot expand {} to {}: dim {} is {}", dims_str(x.dims()), dims_str(y.dims()), k, x.dim(k));
  if (y.numel() == 0) return;  // (a huge dim beside a 0 must not size the tables)
  std::vector<int64_t> strides = broadcast_strides(x.dims(), y.dims());
  std::vector<std::vector<int64_t>> tables(y.rank());
  for (size_t k = 0; k < y.rank(); ++k) {
    tables[k].resize(static_cast<size_t>(y.dim(k)));
    for (int64_t o = 0; o < y.dim(k); ++o) tables[k][static_cast<size_t>(o)] = o * strides[k];
  }
  gather_by_axis_tables(x, y, tables);
}

void infer_expand(InferContext& ctx) {
  require_type(ctx, ctx.input_type(1), DType::kInt64, "the shape input");
  const Shape& in = ctx.input_shape(0);
  Shape target = Shape::unknown_rank();
  if (std::optional<std::vector<SymbolicInt>> elems = input_elements(ctx, 1)) {
    std::vector<Dim> dims;
    for (size_t k = 0; k < elems->size(); ++k) {
      const SymbolicInt& e = (*elems)[k];
      if (e.number && *e.number < 0) ctx.bad_input("shape[{}] is {}; dims must not be negative", k, *e.number);
      dims.push_back(dim_from_sym(e));
    }
    target = Shape(std::move(dims));
  } else {
    target = unknown_dims_for_list(ctx.input_shape(1));
  }
  const Shape both[] = {in, target};
  Shape out = broadcast_shapes(ctx, both);
  known_numel(out);  // checked arithmetic: a count that overflows fails here
  ctx.set_output(0, ctx.input_type(0), out);
  fold_if_known(ctx, compute_expand);
}

// ---- Tile ----

// Repeats per axis at run time: Tile-6 takes a list, Tile-1 a (tiles, axis) pair of scalars.
std::vector<int64_t> kernel_repeats(const KernelContext& ctx, size_t rank) {
  std::vector<int64_t> reps(rank, 1);
  if (ctx.opset() < 6) {
    if (ctx.input(1).numel() != 1 || ctx.input(2).numel() != 1)
      ctx.bad_input("Tile-1's tiles and axis must hold one value each, not {} and {}", ctx.input(1).numel(),
                    ctx.input(2).numel());
    const int64_t tiles = ctx.input(1).int_at(0);
    const int64_t axis = normalize_axis(ctx, ctx.input(2).int_at(0), static_cast<int64_t>(rank));
    reps[static_cast<size_t>(axis)] = tiles;
  } else {
    reps = read_int_list(ctx, ctx.input(1), "repeats");
  }
  return reps;
}

void check_repeats(const NodeContext& ctx, const std::vector<int64_t>& reps, const RankOf& of) {
  check_axis_input(ctx, "repeats", reps.size(), AxisSpan::kAxes, of);
  for (size_t k = 0; k < reps.size(); ++k)
    if (reps[k] < 0) ctx.bad_input("repeats[{}] is {}; repeats must not be negative", k, reps[k]);
}

void compute_tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> reps = kernel_repeats(ctx, x.rank());
  check_repeats(ctx, reps, rank_of("the input", x.dims()));
  for (size_t k = 0; k < x.rank(); ++k)
    if (y.dim(k) != checked_mul(x.dim(k), reps[k], "Tile output dim")) ctx.bad_input("output dim {} does not match the repeats", k);
  if (y.numel() == 0) return;
  std::vector<int64_t> strides = strides_of(x.dims());
  std::vector<std::vector<int64_t>> tables(x.rank());
  for (size_t k = 0; k < x.rank(); ++k) {
    tables[k].resize(static_cast<size_t>(y.dim(k)));
    for (int64_t o = 0; o < y.dim(k); ++o) tables[k][static_cast<size_t>(o)] = (o % x.dim(k)) * strides[k];
  }
  gather_by_axis_tables(x, y, tables);
}

void infer_tile(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const DType t = ctx.input_type(0);
  if (!in.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  std::optional<std::vector<int64_t>> reps;
  if (ctx.opset() < 6) {
    std::optional<std::vector<int64_t>> tiles = input_ints(ctx, 1), axis = input_ints(ctx, 2);
    if (tiles && axis && tiles->size() == 1 && axis->size() == 1) {
      reps.emplace(in.rank(), 1);
      (*reps)[static_cast<size_t>(normalize_axis(ctx, (*axis)[0], static_cast<int64_t>(in.rank())))] = (*tiles)[0];
    }
  } else {
    require_index_type(ctx, ctx.input_type(1), "repeats");
    reps = input_ints(ctx, 1);
  }
  std::vector<Dim> out(in.rank());
  if (reps) {
    check_repeats(ctx, *reps, rank_of("the input", in));
    for (size_t k = 0; k < in.rank(); ++k) {
      const Dim& d = in.dims[k];
      const int64_t r = (*reps)[k];
      if (r == 1) out[k] = d;  // a symbol survives one copy
      else if (r == 0) out[k] = Dim(0);
      else if (d.is_known()) out[k] = Dim(checked_mul(d.value(), r, "Tile output dim"));
    }
    known_numel(Shape(out));
  }
  ctx.set_output(0, t, Shape(std::move(out)));
  fold_if_known(ctx, compute_tile);
}

// At load: repeats' length (from its shape or value) against the input's rank, when both are known.
void validate_tile(const InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const Shape& reps = ctx.input_shape(1);
  if (ctx.opset() < 6 || !in.rank_known || !reps.rank_known || reps.rank() != 1 || !reps.dims[0].is_known()) return;
  check_axis_input(ctx, "repeats", static_cast<size_t>(reps.dims[0].value()), AxisSpan::kAxes,
                   rank_of("the input", in));
}

}  // namespace

KILN_REGISTER_OP(expand, {.domain = "", .name = "Expand", .versions = {8, 13}, .infer = infer_expand,
                          .compute = compute_expand, .prepare = prepare_expand});
KILN_REGISTER_OP(tile, {.domain = "", .name = "Tile", .versions = {1, 6, 13}, .infer = infer_tile,
                        .compute = compute_tile, .prepare = prepare_tile}
                           .with_validate(validate_tile));

}  // namespace kiln::ops
