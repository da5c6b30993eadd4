// Transpose: permutes the axes (default: reverses them). Symbols move with their axes.

#include <algorithm>

#include "ops/axis_attr.h"
#include "ops/movement_prepared.h"
#include "ops/op.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// perm must list each of 0..n-1 once, where n is its own length (and the input's rank, checked by the caller).
void check_is_permutation(const NodeContext& ctx, const std::vector<int64_t>& perm) {
  const size_t rank = perm.size();
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)])
      ctx.fail("perm [{}] is not a permutation of 0..{}", fmt::join(perm, ","), static_cast<int64_t>(rank) - 1);
    seen[static_cast<size_t>(p)] = true;
  }
}

std::vector<int64_t> permutation(const NodeContext& ctx, const RankOf& of) {
  const size_t rank = of.rank;
  std::vector<int64_t> perm(rank);
  for (size_t k = 0; k < rank; ++k) perm[k] = static_cast<int64_t>(rank - 1 - k);
  if (!ctx.has_attr("perm")) return perm;
  perm = ctx.attr_ints("perm");
  check_axis_attr(ctx, "perm", perm.size(), AxisSpan::kAxes, of);
  check_is_permutation(ctx, perm);
  return perm;
}

// At load: perm against the input's rank when known; else at least a permutation of its own length.
void validate_transpose(const InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (in.rank_known) permutation(ctx, rank_of("the input", in));
  else if (ctx.has_attr("perm")) check_is_permutation(ctx, ctx.attr_ints("perm"));
}

void compute_transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  transpose_copy(x, x.dims(), permutation(ctx, rank_of("the input", x.dims())), ctx.output(0));
}

void infer_transpose(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (!in.rank_known) {
    // perm, when given, still tells the rank.
    if (ctx.has_attr("perm"))
      ctx.set_output(0, ctx.input_type(0), Shape(std::vector<Dim>(ctx.attr_ints("perm").size())));
    else
      ctx.set_output(0, ctx.input_type(0), Shape::unknown_rank());
    return;
  }
  std::vector<int64_t> perm = permutation(ctx, rank_of("the input", in));
  std::vector<Dim> out;
  for (int64_t p : perm) out.push_back(in.dims[static_cast<size_t>(p)]);
  ctx.set_output(0, ctx.input_type(0), Shape(std::move(out)));
  fold_if_known(ctx, compute_transpose);
}

}  // namespace

KILN_REGISTER_OP(transpose, {.domain = "", .name = "Transpose", .versions = {1, 13, 21}, .infer = infer_transpose,
                             .compute = compute_transpose, .prepare = prepare_transpose}
                                .with_validate(validate_transpose));

}  // namespace kiln::ops
