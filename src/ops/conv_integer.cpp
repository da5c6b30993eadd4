// ConvInteger (int32 convolution of 8-bit tensors minus their zero points) and QLinearConv (the same plus an
// int32 bias, requantized with x_scale * w_scale / y_scale). Both center the operands in int32 and reuse the
// shared convolution core; padding is the zero point, i.e. 0 once centered.

#include <cmath>
#include <limits>
#include <vector>

#include "ir/dispatch.h"
#include "ops/conv_core.h"
#include "ops/conv_shape.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

// x - x_zero_point (one zero point for the tensor).
std::vector<int32_t> centered_input(const NodeContext& ctx, const Tensor& x, const Tensor* zp) {
  if (zp && zp->numel() != 1)
    ctx.bad_input("x_zero_point {} must have one element (per-tensor)", dims_str(zp->dims()));
  if (zp && zp->dtype() != x.dtype()) ctx.bad_input("x_zero_point is {} but x is {}", dtype_name(zp->dtype()), dtype_name(x.dtype()));
  const int64_t z = zp ? zp->int_at(0) : 0;
  std::vector<int32_t> v(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) v[static_cast<size_t>(i)] = static_cast<int32_t>(x.int_at(i) - z);
  return v;
}

// w - w_zero_point, the zero point per tensor or per output channel.
std::vector<int32_t> centered_weights(const NodeContext& ctx, const Tensor& w, const Tensor* zp) {
  const int64_t M = w.dim(0), per = M > 0 ? w.numel() / M : 0;
  if (zp) {
    check_per_channel(ctx, "w_zero_point", zp->dims(), M, true);
    if (zp->dtype() != w.dtype()) ctx.bad_input("w_zero_point is {} but w is {}", dtype_name(zp->dtype()), dtype_name(w.dtype()));
  }
  std::vector<int32_t> v(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int64_t z = !zp ? 0 : zp->numel() == 1 ? zp->int_at(0) : zp->int_at(i / per);
    v[static_cast<size_t>(i)] = static_cast<int32_t>(w.int_at(i) - z);
  }
  return v;
}

// ---- ConvInteger ----

void infer_conv_integer(InferContext& ctx) {
  if (!is_8bit(ctx.input_type(0)) || !is_8bit(ctx.input_type(1)))
    ctx.unsupported("ConvInteger takes int8/uint8 tensors, got {} and {}", dtype_name(ctx.input_type(0)),
                    dtype_name(ctx.input_type(1)));
  ctx.set_output(0, DType::kInt32, infer_conv_shape(ctx, 0, 1));
}

void compute_conv_integer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  ConvProblem p = conv_problem(ctx, x, w);
  std::vector<int32_t> xc = centered_input(ctx, x, ctx.has_input(2) ? &ctx.input(2) : nullptr);
  std::vector<int32_t> wc = centered_weights(ctx, w, ctx.has_input(3) ? &ctx.input(3) : nullptr);
  std::vector<int64_t> want{p.batch, p.out_channels};
  want.insert(want.end(), p.geo.out.begin(), p.geo.out.end());
  expect_output_dims(ctx, ctx.output(0), want);
  conv_forward<int32_t>(p, xc.data(), wc.data(), nullptr, ctx.output(0).data<int32_t>());
}

// ---- QLinearConv ----

void infer_qlinear_conv(InferContext& ctx) {
  const DType x = ctx.input_type(0), w = ctx.input_type(3), y = ctx.input_type(7);
  if (!is_8bit(x) || !is_8bit(w) || !is_8bit(y))
    ctx.unsupported("QLinearConv takes int8/uint8 tensors, got x {}, w {}, y_zero_point {}", dtype_name(x),
                    dtype_name(w), dtype_name(y));
  if (ctx.has_input(8) && ctx.input_type(8) != DType::kInt32)
    ctx.fail("bias must be int32, got {}", dtype_name(ctx.input_type(8)));
  ctx.set_output(0, y, infer_conv_shape(ctx, 0, 3));
}

void compute_qlinear_conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& x_scale = ctx.input(1);
  const Tensor& w = ctx.input(3);
  const Tensor& w_scale = ctx.input(4);
  const Tensor& y_scale = ctx.input(6);
  const Tensor& y_zp = ctx.input(7);
  const Tensor* bias = ctx.has_input(8) ? &ctx.input(8) : nullptr;
  ConvProblem p = conv_problem(ctx, x, w);
  if (x_scale.numel() != 1 || y_scale.numel() != 1 || y_zp.numel() != 1)
    ctx.bad_input("x_scale {}, y_scale {} and y_zero_point {} must have one element", dims_str(x_scale.dims()),
                  dims_str(y_scale.dims()), dims_str(y_zp.dims()));
  check_per_channel(ctx, "w_scale", w_scale.dims(), p.out_channels, true);
  if (bias) {
    check_per_channel(ctx, "bias", bias->dims(), p.out_channels, false);
    if (bias->dtype() != DType::kInt32) ctx.bad_input("bias must be int32, got {}", dtype_name(bias->dtype()));
  }
  std::vector<int32_t> xc = centered_input(ctx, x, &ctx.input(2));
  std::vector<int32_t> wc = centered_weights(ctx, w, &ctx.input(5));
  Tensor& y = ctx.output(0);
  std::vector<int64_t> want{p.batch, p.out_channels};
  want.insert(want.end(), p.geo.out.begin(), p.geo.out.end());
  expect_output_dims(ctx, y, want);
  std::vector<int32_t> acc(static_cast<size_t>(y.numel()));
  conv_forward<int32_t>(p, xc.data(), wc.data(), bias ? bias->data<int32_t>() : nullptr, acc.data());
  const float xs = static_cast<float>(x_scale.double_at(0)), ys = static_cast<float>(y_scale.double_at(0));
  const int64_t zp = y_zp.int_at(0), M = p.out_channels, plane = p.geo.out_size();
  visit_integer(y.dtype(), [&]<typename Q>() {
    Q* out = y.data<Q>();
    for (int64_t i = 0; i < y.numel(); ++i) {
      const int64_t m = plane > 0 ? (i / plane) % M : 0;
      const float ws = static_cast<float>(w_scale.double_at(w_scale.numel() == 1 ? 0 : m));
      const float mult = xs * ws / ys;
      const double v = std::nearbyint(static_cast<double>(acc[static_cast<size_t>(i)]) * static_cast<double>(mult)) +
                       static_cast<double>(zp);
      out[i] = saturate_to_int<Q>(v, true);
    }
  }, "QLinearConv");
}

}  // namespace

KILN_REGISTER_OP(conv_integer, {"", "ConvInteger", {10}, 0, infer_conv_integer, compute_conv_integer}
                                    .with_validate(validate_conv<0, 1>).with_macs(macs::conv<1>));
KILN_REGISTER_OP(qlinear_conv, {"", "QLinearConv", {10}, 0, infer_qlinear_conv, compute_qlinear_conv}
                                    .with_validate(validate_conv<0, 3>).with_macs(macs::conv<3>));

}  // namespace kiln::ops
