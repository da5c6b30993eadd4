// ai.kiln.ConvNhwc (version 1): ai.kiln.FusedConv on channels-last tensors,
//   Y = activation(Conv(X, W, B) + Z)   with X [N, H, W, C], Z and Y [N, OH, OW, M],
// W and B as Conv stores them ([M, C / group, kH, kW], [M]), Conv's attributes plus `activation` and
// `activation_params` (ops/fused_activation.h). 2-D only, float32. The to_channels_last pass makes it: inside a
// mobile net's run of 1x1 and depthwise convolutions the activations stay channels-last, so a 1x1 convolution
// is a GEMM over rows of pixels and a depthwise one reads each pixel's channels as vectors (conv_nhwc_prepared).
// The reference transposes X and Z to NCHW, runs Conv's reference, adds Z, applies the scalar activation and
// transposes back: the same code the graph ran before the pass.
// Optional input 4, S [N, 1, 1, C]: X is multiplied by S (each image's channels by its own factors) before the
// convolution: a squeeze-excitation gate, which the fuse_channel_scale pass moves into the 1x1 projection after
// it (conv_nhwc_prepared scales rows of X a band at a time instead of writing X * S to memory).

#include <span>
#include <vector>

#include "kernels/activation.h"
#include "ops/conv_ops.h"
#include "ops/conv_shape.h"
#include "ops/fused_activation.h"
#include "ops/op.h"
#include "ops/op_macs.h"
#include "ops/reference_compose.h"

namespace kiln::ops {
namespace {

// NHWC <-> NCHW orders of a rank-4 shape or dims.
constexpr int64_t kToNchw[] = {0, 3, 1, 2};
constexpr int64_t kToNhwc[] = {0, 2, 3, 1};

template <typename T>
std::vector<T> permuted(const std::vector<T>& v, const int64_t (&perm)[4]) {
  return {v[perm[0]], v[perm[1]], v[perm[2]], v[perm[3]]};
}

Shape permuted_shape(const Shape& s, const int64_t (&perm)[4]) {
  if (!s.rank_known || s.rank() != 4) return s;
  return Shape(permuted(s.dims, perm));
}

void check_rank4(const NodeContext& ctx, const char* what, const Shape& s) {
  if (s.rank_known && s.rank() != 4) ctx.fail("{} must be 4-D (N, H, W, C), got {}", what, s.str());
}

void infer_conv_nhwc(InferContext& ctx) {
  if (ctx.num_inputs() < 2 || ctx.num_inputs() > 5) ctx.fail("takes 2 to 5 inputs (X, W, B, Z, S), got {}", ctx.num_inputs());
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const DType t = ctx.input_type(i);
    if (t != DType::kFloat32 && t != DType::kUndefined)
      ctx.unsupported("ConvNhwc takes float32 only, but input {} is {}", i, dtype_name(t));
  }
  read_fused_activation(ctx);
  check_rank4(ctx, "X", ctx.input_shape(0));
  const Shape& ws = ctx.input_shape(1);
  if (ws.rank_known && ws.rank() != 4) ctx.fail("W must be 4-D (2-D convolution), got {}", ws.str());
  const Shape y = permuted_shape(conv_output_shape(ctx, permuted_shape(ctx.input_shape(0), kToNchw), ws), kToNhwc);
  if (ctx.has_input(2)) {
    const Shape& b = ctx.input_shape(2);
    if (b.rank_known && b.rank() != 1) ctx.fail("bias must be 1-D, got {}", b.str());
  }
  if (ctx.has_input(3)) {
    const Shape& z = ctx.input_shape(3);
    check_rank4(ctx, "residual Z", z);
    if (z.rank_known && y.rank_known)
      for (size_t i = 0; i < 4; ++i)
        if (z.dims[i].is_known() && y.dims[i].is_known() && z.dims[i].value() != y.dims[i].value())
          ctx.fail("residual Z {} must have exactly the shape of Y {}", z.str(), y.str());
  }
  if (ctx.has_input(4)) {
    const Shape& sc = ctx.input_shape(4);
    const Shape& x = ctx.input_shape(0);
    check_rank4(ctx, "scale S", sc);
    if (sc.rank_known && sc.rank() == 4) {
      for (size_t i : {size_t{1}, size_t{2}})
        if (sc.dims[i].is_known() && sc.dims[i].value() != 1) ctx.fail("scale S {} must be [N, 1, 1, C]", sc.str());
      if (x.rank_known && x.rank() == 4)
        for (size_t i : {size_t{0}, size_t{3}})
          if (sc.dims[i].is_known() && x.dims[i].is_known() && sc.dims[i].value() != x.dims[i].value())
            ctx.fail("scale S {} must be [N, 1, 1, C] for X {}", sc.str(), x.str());
    }
  }
  ctx.set_output(0, DType::kFloat32, y);
}

// x with its dims reordered by `perm`, through the reference Transpose.
Tensor transposed(const NodeContext& ctx, const Tensor& x, const int64_t (&perm)[4]) {
  Tensor out[1] = {Tensor(x.dtype(), permuted(x.dims(), perm))};
  run_reference_op(ctx, "Transpose", 21, {ints_attr("perm", {perm[0], perm[1], perm[2], perm[3]})}, {&x}, out);
  return std::move(out[0]);
}

void compute_conv_nhwc(KernelContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype() != DType::kFloat32)
      ctx.bad_input("ConvNhwc takes float32 only, but input {} is {}", i, dtype_name(ctx.input(i).dtype()));
  const Tensor& x = ctx.input(0);
  if (x.rank() != 4) ctx.bad_input("X {} must be 4-D (N, H, W, C)", dims_str(x.dims()));
  const kernels::ActivationParams act = read_fused_activation(ctx);
  std::vector<ir::Attribute> conv_attrs;
  for (const ir::Attribute& a : ctx.node().attributes)
    if (a.name != "activation" && a.name != "activation_params") conv_attrs.push_back(a);

  Tensor& y = ctx.output(0);
  if (y.rank() != 4) ctx.bad_input("Y {} must be 4-D", dims_str(y.dims()));
  Tensor scaled;
  if (ctx.has_input(4)) {
    const Tensor& sc = ctx.input(4);
    const std::vector<int64_t> want{x.dim(0), 1, 1, x.dim(3)};
    if (sc.dims() != want) ctx.bad_input("scale S {} must be {}", dims_str(sc.dims()), dims_str(want));
    scaled = Tensor(DType::kFloat32, x.dims());
    const int64_t pixels = x.dim(1) * x.dim(2), C = x.dim(3);
    for (int64_t n = 0; n < x.dim(0); ++n)
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t c = 0; c < C; ++c) {
          const int64_t i = (n * pixels + p) * C + c;
          scaled.data<float>()[i] = x.data<float>()[i] * sc.data<float>()[n * C + c];
        }
  }
  const Tensor xn = transposed(ctx, ctx.has_input(4) ? scaled : x, kToNchw);
  Tensor yn[1] = {Tensor(DType::kFloat32, permuted(y.dims(), kToNchw))};
  run_reference_op(ctx, "Conv", 22, std::move(conv_attrs),
                   {&xn, &ctx.input(1), ctx.has_input(2) ? &ctx.input(2) : nullptr}, yn);
  float* out = yn[0].data<float>();
  if (ctx.has_input(3)) {
    const Tensor& z = ctx.input(3);
    if (z.dims() != y.dims())
      ctx.bad_input("residual Z {} must have exactly the shape of Y {}", dims_str(z.dims()), dims_str(y.dims()));
    const Tensor zn = transposed(ctx, z, kToNchw);
    for (int64_t i = 0; i < yn[0].numel(); ++i) out[i] += zn.data<float>()[i];
  }
  kernels::apply_activation_f32_ref(act, out, out, yn[0].numel());
  run_reference_op(ctx, "Transpose", 21, {ints_attr("perm", {0, 2, 3, 1})}, {&yn[0]}, std::span<Tensor>(&y, 1));
}

}  // namespace

KILN_REGISTER_OP(conv_nhwc, {"ai.kiln", "ConvNhwc", {1}, 0, infer_conv_nhwc, compute_conv_nhwc, false, false, false,
                             prepare_conv_nhwc}.with_macs(macs::conv<1>));

}  // namespace kiln::ops
