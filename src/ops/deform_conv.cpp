// DeformConv (opsets 19, 22): a 2-D convolution whose kernel taps are moved by learned, per-output-position
// offsets (and optionally weighted by a mask). A moved tap samples the input bilinearly; samples outside the
// image read zeros. Channels split into `group` convolution groups and, independently, into `offset_group`
// groups that share one set of offsets and mask.
//
// Shapes: X [N, C, H, W], W [M, C/group, kH, kW], offset [N, offset_group*kH*kW*2, oH, oW] (per tap: dy, dx),
// B [M], mask [N, offset_group*kH*kW, oH, oW]; Y [N, M, oH, oW] with oH, oW from the usual window arithmetic.

#include <cmath>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/window.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

std::vector<int64_t> deform_kernel_from(const NodeContext& ctx, const Shape& w, const RankOf& of) {
  std::vector<int64_t> k = kernel_shape_attr(ctx, of);
  if (k.empty() && w.rank_known && w.rank() == 4 && w.dims[2].is_known() && w.dims[3].is_known())
    k = {w.dims[2].value(), w.dims[3].value()};
  return k;
}

void check_ranks(const NodeContext& ctx, const Shape& x, const Shape& w) {
  if (x.rank_known && x.rank() != 4) ctx.unsupported("only 2-D DeformConv (X of rank 4) is supported; X is {}", x.str());
  if (w.rank_known && w.rank() != 4) ctx.fail("W must be [M, C/group, kH, kW], but it is {}", w.str());
  if (ctx.attr_int("group", 1) <= 0 || ctx.attr_int("offset_group", 1) <= 0)
    ctx.fail("group and offset_group must be positive");
}

// At load: the window attributes against X's rank, or W's (an initializer) when X's is not known yet.
void validate_deform_conv(const InferContext& ctx) {
  const Shape &x = ctx.input_shape(0), &w = ctx.input_shape(1);
  check_ranks(ctx, x, w);
  if (!x.rank_known && !w.rank_known) return;
  const RankOf of = x.rank_known ? rank_of("X", x) : rank_of("W", w);
  read_window_attrs(ctx, of, deform_kernel_from(ctx, w, of), false);
}

void infer_deform_conv(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.fail("X must be a float type, not {}", dtype_name(t));
  for (size_t i = 1; i < 5; ++i)
    if (ctx.has_input(i) && ctx.input_type(i) != t)
      ctx.fail("input {} is {} but X is {}", i, dtype_name(ctx.input_type(i)), dtype_name(t));
  const Shape &x = ctx.input_shape(0), &w = ctx.input_shape(1);
  check_ranks(ctx, x, w);
  if (!x.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const RankOf of = rank_of("X", x);
  const WindowAttrs a = read_window_attrs(ctx, of, deform_kernel_from(ctx, w, of), false);
  std::vector<Dim> out{x.dims[0], w.rank_known ? w.dims[0] : Dim()};
  for (const Dim& d : window_output_dims(ctx, a, x)) out.push_back(d);
  ctx.set_output(0, t, Shape(out));
}

/// Every size of one DeformConv call, checked against all inputs.
struct DeformProblem {
  int64_t batch, channels, height, width, out_channels, group, offset_group;
  WindowGeometry geo;
};

DeformProblem deform_problem(const KernelContext& ctx) {
  const Tensor &x = ctx.input(0), &w = ctx.input(1), &off = ctx.input(2);
  if (x.rank() != 4) ctx.unsupported("only 2-D DeformConv (X of rank 4) is supported; X is {}", dims_str(x.dims()));
  if (w.rank() != 4) ctx.bad_input("W must be [M, C/group, kH, kW], but it is {}", dims_str(w.dims()));
  DeformProblem p{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), ctx.attr_int("group", 1),
                  ctx.attr_int("offset_group", 1), {}};
  if (p.group <= 0 || p.offset_group <= 0) ctx.fail("group and offset_group must be positive");
  const RankOf of = rank_of("X", x.dims());
  std::vector<int64_t> kernel = kernel_shape_attr(ctx, of);
  if (kernel.empty()) kernel = {w.dim(2), w.dim(3)};
  if (kernel != std::vector<int64_t>{w.dim(2), w.dim(3)})
    ctx.bad_input("kernel_shape {} differs from W's kernel dims {}", dims_str(kernel), dims_str(w.dims()));
  if (p.channels != checked_mul(w.dim(1), p.group) || p.out_channels % p.group != 0)
    ctx.bad_input("X {} and W {} do not fit group {}: C must be W[1] * group and M a multiple of group",
                  dims_str(x.dims()), dims_str(w.dims()), p.group);
  if (p.channels % p.offset_group != 0)
    ctx.bad_input("channels {} are not a multiple of offset_group {}", p.channels, p.offset_group);
  p.geo = resolve_window(ctx, read_window_attrs(ctx, of, kernel, false), {p.height, p.width});
  const int64_t taps = kernel[0] * kernel[1];
  const std::vector<int64_t> want_off{p.batch, checked_mul(p.offset_group * taps, 2), p.geo.out[0], p.geo.out[1]};
  if (off.dims() != want_off) ctx.bad_input("offset must be {}, but it is {}", dims_str(want_off), dims_str(off.dims()));
  if (ctx.has_input(3) && ctx.input(3).dims() != std::vector<int64_t>{p.out_channels})
    ctx.bad_input("B must be [{}], but it is {}", p.out_channels, dims_str(ctx.input(3).dims()));
  const std::vector<int64_t> want_mask{p.batch, p.offset_group * taps, p.geo.out[0], p.geo.out[1]};
  if (ctx.has_input(4) && ctx.input(4).dims() != want_mask)
    ctx.bad_input("mask must be {}, but it is {}", dims_str(want_mask), dims_str(ctx.input(4).dims()));
  return p;
}

/// Bilinear sample of one channel plane at (y, x); corners outside the plane read 0.
template <typename T> double sample(const T* plane, int64_t h, int64_t w, double y, double x) {
  if (!(y > -1 && y < static_cast<double>(h) && x > -1 && x < static_cast<double>(w))) return 0;  // NaN too
  const double y0 = std::floor(y), x0 = std::floor(x);
  const double ly = y - y0, lx = x - x0;
  const auto iy = static_cast<int64_t>(y0), ix = static_cast<int64_t>(x0);
  double v = 0;
  for (int64_t dy = 0; dy < 2; ++dy)
    for (int64_t dx = 0; dx < 2; ++dx) {
      const int64_t yy = iy + dy, xx = ix + dx;
      if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
      const double weight = (dy ? ly : 1 - ly) * (dx ? lx : 1 - lx);
      v += weight * to_double(plane[yy * w + xx]);
    }
  return v;
}

template <typename T> void run_deform_conv(KernelContext& ctx, const DeformProblem& p) {
  const T* x = ctx.input(0).data<T>();
  const T* w = ctx.input(1).data<T>();
  const T* off = ctx.input(2).data<T>();
  const T* bias = ctx.has_input(3) ? ctx.input(3).data<T>() : nullptr;
  const T* mask = ctx.has_input(4) ? ctx.input(4).data<T>() : nullptr;
  T* y = ctx.output(0).data<T>();
  const int64_t kh = p.geo.kernel[0], kw = p.geo.kernel[1], taps = kh * kw;
  const int64_t oh = p.geo.out[0], ow = p.geo.out[1], plane = oh * ow;
  const int64_t in_per_group = p.channels / p.group, out_per_group = p.out_channels / p.group;
  const int64_t in_per_offset_group = p.channels / p.offset_group;
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t g = m / out_per_group;
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = bias ? to_double(bias[m]) : 0.0;
          for (int64_t cg = 0; cg < in_per_group; ++cg) {
            const int64_t c = g * in_per_group + cg;
            const int64_t og = c / in_per_offset_group;
            const T* img = x + (n * p.channels + c) * p.height * p.width;
            for (int64_t t = 0; t < taps; ++t) {
              const int64_t a = t / kw, b = t % kw;
              // offset channel layout: [offset_group][kH][kW][dy, dx]
              const int64_t oc = (og * taps + t) * 2;
              const double dy = to_double(off[((n * p.offset_group * taps * 2 + oc) * oh + i) * ow + j]);
              const double dx = to_double(off[((n * p.offset_group * taps * 2 + oc + 1) * oh + i) * ow + j]);
              const double sy = static_cast<double>(i * p.geo.strides[0] - p.geo.pad_begin[0] + a * p.geo.dilations[0]) + dy;
              const double sx = static_cast<double>(j * p.geo.strides[1] - p.geo.pad_begin[1] + b * p.geo.dilations[1]) + dx;
              double v = sample(img, p.height, p.width, sy, sx);
              if (mask) v *= to_double(mask[((n * p.offset_group + og) * taps + t) * plane + i * ow + j]);
              acc += to_double(w[((m * in_per_group + cg) * kh + a) * kw + b]) * v;
            }
          }
          y[((n * p.out_channels + m) * oh + i) * ow + j] = from_double<T>(acc);
        }
    }
}

void compute_deform_conv(KernelContext& ctx) {
  const DeformProblem p = deform_problem(ctx);
  visit_float(ctx.input(0).dtype(), [&]<typename T>() { run_deform_conv<T>(ctx, p); }, "DeformConv");
}

}  // namespace

KILN_REGISTER_OP(deform_conv, {"", "DeformConv", {19, 22}, 0, infer_deform_conv, compute_deform_conv}
                               .with_validate(validate_deform_conv).with_macs(macs::conv<1>));

}  // namespace kiln::ops
