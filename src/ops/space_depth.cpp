// DepthToSpace and SpaceToDepth: move blocksize x blocksize tiles between the channel axis and the spatial
// axes of an NCHW tensor. Each is a reshape to 6-D, a transpose, and a reshape back.

#include "base/checked.h"
#include "ops/movement_prepared.h"
#include "ops/op.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

int64_t block_size(const NodeContext& ctx) {
  int64_t b = ctx.attr_int("blocksize");
  if (b < 1) ctx.fail("blocksize must be >= 1, got {}", b);
  return b;
}

// DepthToSpace-11 added CRD (SpaceToDepth only in opset 28, so its attribute is honoured whenever present);
// the default order is DCR.
bool is_crd(const NodeContext& ctx, bool depth_to_space) {
  std::string mode = ctx.opset() >= 11 || !depth_to_space ? ctx.attr_string("mode", "DCR") : "DCR";
  if (mode != "DCR" && mode != "CRD") ctx.fail("mode '{}' must be DCR or CRD", mode);
  return mode == "CRD";
}

void require_4d(const NodeContext& ctx, const Shape& s) {
  if (s.rank_known && s.rank() != 4) ctx.fail("input must be 4-D (N, C, H, W), but it is {}", s.str());
}

// A dim multiplied by b: known dims multiply (checked); a symbol times 1 stays itself; else unknown.
Dim times(const Dim& d, int64_t b) {
  if (b == 1) return d;
  return d.is_known() ? Dim(checked_mul(d.value(), b, "output dim")) : Dim();
}

// A dim divided by `by` (which must divide it); `what` names it in the error.
Dim divided(const NodeContext& ctx, const Dim& d, int64_t by, const char* what) {
  if (by == 1) return d;
  if (!d.is_known()) return Dim();
  if (d.value() % by != 0) ctx.bad_input("{} ({}) must be divisible by {}", what, d.value(), by);
  return Dim(d.value() / by);
}

// At load: blocksize, mode and the input's rank when known.
template <bool kDepthToSpace> void validate_block(const InferContext& ctx) {
  require_4d(ctx, ctx.input_shape(0));
  block_size(ctx);
  is_crd(ctx, kDepthToSpace);
}

// ---- DepthToSpace ----

void compute_depth_to_space(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  require_4d(ctx, Shape::from(x.dims()));
  const int64_t b = block_size(ctx);
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t b2 = checked_mul(b, b, "blocksize squared");
  if (c % b2 != 0) ctx.bad_input("channels ({}) must be divisible by blocksize^2 ({})", c, b2);
  const int64_t cb = c / b2;
  Tensor y6 = ctx.output(0).reshaped({n, cb, h, b, w, b});
  if (is_crd(ctx, true)) transpose_copy(x, {n, cb, b, b, h, w}, {0, 1, 4, 2, 5, 3}, y6);
  else transpose_copy(x, {n, b, b, cb, h, w}, {0, 3, 4, 1, 5, 2}, y6);
}

void infer_depth_to_space(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  require_4d(ctx, in);
  const int64_t b = block_size(ctx);
  is_crd(ctx, true);
  if (!in.rank_known) {
    ctx.set_output(0, ctx.input_type(0), Shape(std::vector<Dim>(4)));
    return;
  }
  const int64_t b2 = checked_mul(b, b, "blocksize squared");
  ctx.set_output(0, ctx.input_type(0),
                 Shape({in.dims[0], divided(ctx, in.dims[1], b2, "channels"), times(in.dims[2], b), times(in.dims[3], b)}));
  fold_if_known(ctx, compute_depth_to_space);
}

// ---- SpaceToDepth ----

void compute_space_to_depth(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  require_4d(ctx, Shape::from(x.dims()));
  const int64_t b = block_size(ctx);
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  if (h % b != 0 || w % b != 0) ctx.bad_input("height ({}) and width ({}) must be divisible by blocksize {}", h, w, b);
  const std::vector<int64_t> blocks = {n, c, h / b, b, w / b, b};
  if (is_crd(ctx, false)) {
    Tensor y6 = ctx.output(0).reshaped({n, c, b, b, h / b, w / b});
    transpose_copy(x, blocks, {0, 1, 3, 5, 2, 4}, y6);
  } else {
    Tensor y6 = ctx.output(0).reshaped({n, b, b, c, h / b, w / b});
    transpose_copy(x, blocks, {0, 3, 5, 1, 2, 4}, y6);
  }
}

void infer_space_to_depth(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  require_4d(ctx, in);
  const int64_t b = block_size(ctx);
  is_crd(ctx, false);
  if (!in.rank_known) {
    ctx.set_output(0, ctx.input_type(0), Shape(std::vector<Dim>(4)));
    return;
  }
  const int64_t b2 = checked_mul(b, b, "blocksize squared");
  ctx.set_output(0, ctx.input_type(0),
                 Shape({in.dims[0], times(in.dims[1], b2), divided(ctx, in.dims[2], b, "height"),
                        divided(ctx, in.dims[3], b, "width")}));
  fold_if_known(ctx, compute_space_to_depth);
}

}  // namespace

KILN_REGISTER_OP(depth_to_space, {.domain = "", .name = "DepthToSpace", .versions = {1, 11, 13},
                                  .infer = infer_depth_to_space, .compute = compute_depth_to_space,
                                  .prepare = prepare_depth_to_space}
                                     .with_validate(validate_block<true>));
KILN_REGISTER_OP(space_to_depth, {.domain = "", .name = "SpaceToDepth", .versions = {1, 13},
                                  .infer = infer_space_to_depth, .compute = compute_space_to_depth,
                                  .prepare = prepare_space_to_depth}
                                     .with_validate(validate_block<false>));

}  // namespace kiln::ops
