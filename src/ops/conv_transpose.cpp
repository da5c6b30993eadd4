// ConvTranspose: x [N, C, in...], w [C, M/group, kernel...] → y [N, M, out...], computed as GEMM + col2im
// (the adjoint of Conv's im2col). Output size from output_shape, auto_pad SAME_* (out = in * stride) or
// stride * (in - 1) + output_padding + dilated kernel - pads.

#include <optional>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/conv_core.h"
#include "ops/conv_transpose_shape.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/window.h"
#include "ops/op_macs.h"

namespace kiln::ops {

TransposeAttrs read_transpose_attrs(const NodeContext& ctx, const RankOf& of, std::vector<int64_t> kernel) {
  const size_t spatial = of.rank - 2;
  TransposeAttrs a;
  a.w = read_window_attrs(ctx, of, std::move(kernel), false);
  a.has_pads = ctx.has_attr("pads");
  a.output_padding = ctx.attr_ints("output_padding", std::vector<int64_t>(spatial, 0));
  if (a.output_padding.empty()) a.output_padding.assign(spatial, 0);  // an empty list means the default
  check_axis_attr(ctx, "output_padding", a.output_padding.size(), AxisSpan::kSpatial, of);
  a.output_shape = ctx.attr_ints("output_shape", {});
  // The spec's examples also give the whole output shape (N, C included); only the spatial dims count.
  if (a.output_shape.size() == of.rank) a.output_shape.erase(a.output_shape.begin(), a.output_shape.begin() + 2);
  if (!a.output_shape.empty()) check_axis_attr(ctx, "output_shape", a.output_shape.size(), AxisSpan::kSpatial, of);
  for (size_t i = 0; i < spatial; ++i) {
    if (a.output_padding[i] < 0 || a.output_padding[i] >= std::max(a.w.strides[i], a.w.dilations[i]))
      ctx.fail("output_padding {} must be >= 0 and smaller than the stride or dilation", dims_str(a.output_padding));
    if (!a.output_shape.empty() && a.output_shape[i] < 0) ctx.fail("output_shape {} is negative", dims_str(a.output_shape));
  }
  return a;
}

WindowAxis resolve_transpose_axis(const TransposeAttrs& a, size_t i, int64_t in) {
  const size_t n = a.w.strides.size();
  const int64_t s = a.w.strides[i];
  const int64_t eff_k = checked_add(checked_mul(a.w.kernel[i] - 1, a.w.dilations[i], "dilated kernel"), 1);
  const int64_t full = checked_add(checked_add(checked_mul(s, std::max<int64_t>(in - 1, 0)), a.output_padding[i]), eff_k);
  const bool same = a.w.auto_pad == AutoPad::kSameUpper || a.w.auto_pad == AutoPad::kSameLower;
  if (same || (!a.output_shape.empty() && !a.has_pads)) {
    const int64_t out = a.output_shape.empty() ? checked_mul(in, s) : a.output_shape[i];
    // total is negative when output_shape asks for more than the window covers; halve it rounding down, as
    // the ONNX reference does, so the extra rows go to the end.
    const int64_t total = full - out;
    const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
    const int64_t begin = a.w.auto_pad == AutoPad::kSameUpper ? half : total - half;
    return {out, begin, total - begin};
  }
  int64_t pb = 0, pe = 0;
  if (a.w.auto_pad == AutoPad::kNotSet) {
    pb = a.w.pads[i];
    pe = a.w.pads[n + i];
  }
  const int64_t out = a.output_shape.empty() ? full - pb - pe : a.output_shape[i];
  return {out, pb, pe};
}

namespace {

std::vector<int64_t> kernel_of(const NodeContext& ctx, const Shape& w, const RankOf& of) {
  const size_t spatial = of.rank - 2;
  std::vector<int64_t> k = kernel_shape_attr(ctx, of);
  if (!k.empty()) return k;
  if (!w.rank_known || w.rank() != of.rank) return {};
  for (size_t i = 0; i < spatial; ++i) {
    if (!w.dims[2 + i].is_known()) return {};
    k.push_back(w.dims[2 + i].value());
  }
  return k;
}

// The attributes checked against x's rank, or w's when x's is unknown (a weight initializer is enough, so the
// session refuses a bad list when it loads the model); nullopt when neither rank is known.
std::optional<TransposeAttrs> transpose_attrs(const NodeContext& ctx, const Shape& xs, const Shape& ws) {
  if (!xs.rank_known && !ws.rank_known) return std::nullopt;
  if (xs.rank_known && ws.rank_known && ws.rank() != xs.rank())
    ctx.fail("x {} and w {} must have the same rank", xs.str(), ws.str());
  const RankOf of = xs.rank_known ? rank_of("X", xs) : rank_of("W", ws);
  if (of.rank < 3) ctx.fail("{} must have rank >= 3 (N, C, spatial...)", of.what);
  return read_transpose_attrs(ctx, of, kernel_of(ctx, ws, of));
}

void validate_conv_transpose(const InferContext& ctx) {
  if (ctx.attr_int("group", 1) < 1) ctx.fail("group must be >= 1, got {}", ctx.attr_int("group", 1));
  transpose_attrs(ctx, ctx.input_shape(0), ctx.input_shape(1));
}

void infer_conv_transpose(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.unsupported("ConvTranspose takes float types, got {}", dtype_name(t));
  if (ctx.input_type(1) != t) ctx.fail("x is {} but w is {}", dtype_name(t), dtype_name(ctx.input_type(1)));
  const Shape& xs = ctx.input_shape(0);
  const Shape& ws = ctx.input_shape(1);
  const int64_t group = ctx.attr_int("group", 1);
  if (group < 1) ctx.fail("group must be >= 1, got {}", group);
  if (!xs.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const size_t spatial = xs.rank() - 2;
  const TransposeAttrs a = *transpose_attrs(ctx, xs, ws);
  Dim m;
  if (ws.rank_known) {
    if (xs.dims[1].is_known() && ws.dims[0].is_known() && xs.dims[1].value() != ws.dims[0].value())
      ctx.fail("x {} has {} channels but w {} expects {}", xs.str(), xs.dims[1].value(), ws.str(), ws.dims[0].value());
    if (ws.dims[0].is_known() && ws.dims[0].value() % group != 0)
      ctx.fail("w {} has {} input channels, not divisible by group {}", ws.str(), ws.dims[0].value(), group);
    if (ws.dims[1].is_known()) m = Dim(checked_mul(ws.dims[1].value(), group));
  }
  std::vector<Dim> dims{xs.dims[0], m};
  for (size_t i = 0; i < spatial; ++i) {
    if (a.w.kernel.size() == spatial && xs.dims[2 + i].is_known()) {
      WindowAxis r = resolve_transpose_axis(a, i, xs.dims[2 + i].value());
      if (r.out < 0) ctx.fail("spatial dim {} of the output would be negative ({})", i, r.out);
      dims.emplace_back(r.out);
    } else if (a.w.kernel.size() == spatial && !a.output_shape.empty()) {
      dims.emplace_back(a.output_shape[i]);
    } else {
      dims.emplace_back();
    }
  }
  ctx.set_output(0, t, Shape(std::move(dims)));
}

}  // namespace

void compute_conv_transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const int64_t group = ctx.attr_int("group", 1);
  if (x.rank() < 3 || w.rank() != x.rank())
    ctx.bad_input("x {} and w {} must have the same rank >= 3", dims_str(x.dims()), dims_str(w.dims()));
  if (x.dim(1) != w.dim(0) || w.dim(0) % group != 0)
    ctx.bad_input("x {} has {} channels; w {} must have as many input channels, divisible by group {}",
                  dims_str(x.dims()), x.dim(1), dims_str(w.dims()), group);
  const size_t spatial = x.rank() - 2;
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  const RankOf of = rank_of("X", x.dims());
  if (std::vector<int64_t> k = kernel_shape_attr(ctx, of); !k.empty() && k != kernel)
    ctx.bad_input("kernel_shape {} does not match the weight shape {}", dims_str(k), dims_str(w.dims()));
  TransposeAttrs a = read_transpose_attrs(ctx, of, kernel);
  ConvProblem p;
  p.batch = x.dim(0);
  p.in_channels = x.dim(1);
  p.out_channels = checked_mul(w.dim(1), group);
  p.group = group;
  if (b && (b->rank() != 1 || b->dim(0) != p.out_channels))
    ctx.bad_input("bias {} does not match the {} output channels", dims_str(b->dims()), p.out_channels);
  WindowGeometry& g = p.geo;
  g.kernel = kernel;
  g.strides = a.w.strides;
  g.dilations = a.w.dilations;
  for (size_t i = 0; i < spatial; ++i) {
    WindowAxis r = resolve_transpose_axis(a, i, x.dim(2 + i));
    if (r.out < 0) ctx.bad_input("spatial dim {} of the output would be negative ({})", i, r.out);
    g.in.push_back(r.out);  // the forward view: y is the "input" of the conv that maps back to x
    g.out.push_back(x.dim(2 + i));
    g.pad_begin.push_back(r.pad_begin);
    g.pad_end.push_back(r.pad_end);
  }
  Tensor& y = ctx.output(0);
  std::vector<int64_t> want{p.batch, p.out_channels};
  want.insert(want.end(), g.in.begin(), g.in.end());
  expect_output_dims(ctx, y, want);
  visit_float(x.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      conv_transpose_forward<T>(p, x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, y.data<T>());
    } else {
      std::vector<float> xf = to_float_vector<T>(x), wf = to_float_vector<T>(w), bf, yf(static_cast<size_t>(y.numel()));
      if (b) bf = to_float_vector<T>(*b);
      conv_transpose_forward<float>(p, xf.data(), wf.data(), b ? bf.data() : nullptr, yf.data());
      for (size_t i = 0; i < yf.size(); ++i) y.data<T>()[i] = T(yf[i]);
    }
  }, "ConvTranspose");
}

KILN_REGISTER_OP(conv_transpose, {"", "ConvTranspose", {1, 11, 22}, 0, infer_conv_transpose, compute_conv_transpose,
                                  false, false, false, prepare_conv_transpose}
                                  .with_validate(validate_conv_transpose).with_macs(macs::conv_transpose));

}  // namespace kiln::ops
