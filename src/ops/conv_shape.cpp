#include "ops/conv_shape.h"

#include "base/checked.h"

namespace kiln::ops {

namespace {

// The kernel: kernel_shape when given (its length checked against the rank before any element is read, and
// its values against w's kernel dims where known), else w's kernel dims when all known, else empty.
std::vector<int64_t> kernel_from(const NodeContext& ctx, const Shape& w, const RankOf& of) {
  const size_t spatial = of.rank - 2;
  std::vector<int64_t> k = kernel_shape_attr(ctx, of);
  if (!k.empty()) {
    if (w.rank_known && w.rank() == of.rank)
      for (size_t i = 0; i < spatial; ++i)
        if (w.dims[2 + i].is_known() && w.dims[2 + i].value() != k[i])
          ctx.fail("kernel_shape {} does not match the weight shape {}", dims_str(k), w.str());
    return k;
  }
  if (!w.rank_known || w.rank() != of.rank) return {};
  for (size_t i = 0; i < spatial; ++i) {
    if (!w.dims[2 + i].is_known()) return {};
    k.push_back(w.dims[2 + i].value());
  }
  return k;
}

}  // namespace

std::optional<WindowAttrs> conv_window_attrs(const NodeContext& ctx, const Shape& xs, const Shape& ws) {
  if (!xs.rank_known && !ws.rank_known) return std::nullopt;
  if (xs.rank_known && ws.rank_known && xs.rank() != ws.rank())
    ctx.fail("x {} and w {} must have the same rank", xs.str(), ws.str());
  const RankOf of = xs.rank_known ? rank_of("X", xs) : rank_of("W", ws);
  if (of.rank < 3)
    ctx.fail("input must have rank >= 3 (N, C, spatial...), got shapes x {} and w {}", xs.str(), ws.str());
  return read_window_attrs(ctx, of, kernel_from(ctx, ws, of), false);
}

void validate_conv_attrs(const InferContext& ctx, size_t x_index, size_t w_index) {
  const int64_t group = ctx.attr_int("group", 1);
  if (group < 1) ctx.fail("group must be >= 1, got {}", group);
  conv_window_attrs(ctx, ctx.input_shape(x_index), ctx.input_shape(w_index));
}

Shape infer_conv_shape(const InferContext& ctx, size_t x_index, size_t w_index) {
  return conv_output_shape(ctx, ctx.input_shape(x_index), ctx.input_shape(w_index));
}

Shape conv_output_shape(const NodeContext& ctx, const Shape& xs, const Shape& ws) {
  const int64_t group = ctx.attr_int("group", 1);
  if (group < 1) ctx.fail("group must be >= 1, got {}", group);
  std::optional<WindowAttrs> a = conv_window_attrs(ctx, xs, ws);
  if (!a) return Shape::unknown_rank();
  const size_t rank = xs.rank_known ? xs.rank() : ws.rank();
  Dim n, m;
  if (xs.rank_known) n = xs.dims[0];
  if (ws.rank_known) {
    m = ws.dims[0];
    if (xs.rank_known && xs.dims[1].is_known() && ws.dims[1].is_known() &&
        xs.dims[1].value() != ws.dims[1].value() * group)
      ctx.fail("x {} has {} channels but w {} with group {} expects {}", xs.str(), xs.dims[1].value(), ws.str(), group,
               ws.dims[1].value() * group);
    if (m.is_known() && m.value() % group != 0)
      ctx.fail("w {} has {} output channels, not divisible by group {}", ws.str(), m.value(), group);
  }
  std::vector<Dim> dims{n, m};
  if (xs.rank_known) {
    for (Dim& d : window_output_dims(ctx, *a, xs)) dims.push_back(d);
  } else {
    dims.resize(rank);
  }
  return Shape(std::move(dims));
}

ConvProblem conv_problem(const KernelContext& ctx, const Tensor& x, const Tensor& w) {
  const int64_t group = ctx.attr_int("group", 1);
  if (x.rank() < 3 || x.rank() != w.rank())
    ctx.bad_input("x {} and w {} must have the same rank >= 3", dims_str(x.dims()), dims_str(w.dims()));
  if (group < 1) ctx.fail("group must be >= 1, got {}", group);
  const int64_t C = x.dim(1), M = w.dim(0);
  if (C != checked_mul(w.dim(1), group))
    ctx.bad_input("x {} has {} channels but w {} with group {} expects {}", dims_str(x.dims()), C, dims_str(w.dims()),
                  group, w.dim(1) * group);
  if (M % group != 0) ctx.bad_input("w {} has {} output channels, not divisible by group {}", dims_str(w.dims()), M, group);
  const RankOf of = rank_of("X", x.dims());
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  std::vector<int64_t> k_attr = kernel_shape_attr(ctx, of);
  if (!k_attr.empty() && k_attr != kernel)
    ctx.bad_input("kernel_shape {} does not match the weight shape {}", dims_str(k_attr), dims_str(w.dims()));
  WindowAttrs a = read_window_attrs(ctx, of, kernel, false);
  ConvProblem p;
  p.batch = x.dim(0);
  p.in_channels = C;
  p.out_channels = M;
  p.group = group;
  p.geo = resolve_window(ctx, a, std::vector<int64_t>(x.dims().begin() + 2, x.dims().end()));
  return p;
}

void check_per_channel(const NodeContext& ctx, const char* what, const std::vector<int64_t>& dims, int64_t M,
                       bool allow_scalar) {
  const int64_t n = checked_numel(dims);
  if (allow_scalar && n == 1 && dims.size() <= 1) return;
  if (dims.size() != 1 || dims[0] != M)
    ctx.bad_input("{} has shape {} but the convolution has {} output channels (expected [{}]{})", what,
                  dims_str(dims), M, M, allow_scalar ? " or a scalar" : "");
}

}  // namespace kiln::ops
