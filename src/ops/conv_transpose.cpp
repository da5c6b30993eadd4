// ConvTranspose: x [N, C, in...], w [C, M/group, kernel...] → y [N, M, out...], computed as GEMM + col2im
// (the adjoint of Conv's im2col). Output size from output_shape, auto_pad SAME_* (out = in * stride) or
// stride * (in - 1) + output_padding + dilated kernel - pads.

#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/conv_core.h"
#include "ops/conv_transpose_shape.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/window.h"

namespace kiln::ops {

TransposeAttrs read_transpose_attrs(const NodeContext& ctx, size_t spatial, std::vector<int64_t> kernel) {
  TransposeAttrs a;
  a.w = read_window_attrs(ctx, spatial, std::move(kernel), false);
  a.has_pads = ctx.has_attr("pads");
  a.output_padding = ctx.attr_ints("output_padding", std::vector<int64_t>(spatial, 0));
  if (a.output_padding.size() != spatial)
    ctx.fail("output_padding has {} values but the input has {} spatial dims", a.output_padding.size(), spatial);
  a.output_shape = ctx.attr_ints("output_shape", {});
  if (a.output_shape.size() == spatial + 2) a.output_shape.erase(a.output_shape.begin(), a.output_shape.begin() + 2);
  if (!a.output_shape.empty() && a.output_shape.size() != spatial)
    ctx.fail("output_shape has {} values but the input has {} spatial dims", a.output_shape.size(), spatial);
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

std::vector<int64_t> kernel_of(const NodeContext& ctx, const Shape& w, size_t spatial) {
  std::vector<int64_t> k = ctx.attr_ints("kernel_shape", {});
  if (!k.empty()) return k;
  if (!w.rank_known || w.rank() != spatial + 2) return {};
  for (size_t i = 0; i < spatial; ++i) {
    if (!w.dims[2 + i].is_known()) return {};
    k.push_back(w.dims[2 + i].value());
  }
  return k;
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
  if (xs.rank() < 3) ctx.fail("x must have rank >= 3 (N, C, spatial...), got {}", xs.str());
  if (ws.rank_known && ws.rank() != xs.rank()) ctx.fail("x {} and w {} must have the same rank", xs.str(), ws.str());
  const size_t spatial = xs.rank() - 2;
  TransposeAttrs a = read_transpose_attrs(ctx, spatial, kernel_of(ctx, ws, spatial));
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
  TransposeAttrs a = read_transpose_attrs(ctx, spatial, kernel);
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
                                  false, false, false, prepare_conv_transpose});

}  // namespace kiln::ops
