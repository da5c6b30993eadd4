// ai.kiln.InvertedResidualNhwc (version 1): a mobile net's inverted-residual block on channels-last tensors, the
// chain of ai.kiln.ConvNhwc nodes that the fuse_inverted_residual pass replaces:
//   E = ConvNhwc(X, We, Be)             1x1 expand, attributes expand_activation(_params)
//   D = ConvNhwc(E, Wd, Bd)             depthwise, Conv's attributes (strides, pads, dilations, group, ...) and
//                                       depthwise_activation(_params)
//   Y = ConvNhwc(D, Wp, Bp, Z)          1x1 project (optional), project_activation(_params)
// Inputs X, We, Be?, Wd, Bd?, Wp?, Bp?, Z?; without Wp, Y is D (a block whose squeeze-excitation sits between
// the depthwise and the projection: MobileNet-v3, EfficientNet). X [N, H, W, C], Y [N, OH, OW, M].
// Why: the fast form (inverted_residual_nhwc_prepared.cpp) never writes E (6x X's channels) nor, with the
// projection, D to memory. The reference runs ConvNhwc's reference three times: the code the graph ran before
// the pass.

#include <span>
#include <string>
#include <vector>

#include "ops/conv_ops.h"
#include "ops/conv_shape.h"
#include "ops/fused_activation.h"
#include "ops/op.h"
#include "ops/reference_compose.h"

namespace kiln::ops {
namespace {

enum Input : size_t { kX = 0, kWe, kBe, kWd, kBd, kWp, kBp, kZ, kInputs };

// The attribute prefixes of the expand and project steps; every other attribute is the depthwise one's.
constexpr std::string_view kExpand = "expand_", kDepthwise = "depthwise_", kProject = "project_";

// The ConvNhwc attributes of one step: the node's attributes with `prefix`, the prefix removed (for the depthwise,
// also every attribute without a step prefix).
std::vector<ir::Attribute> step_attrs(const ir::Node& n, std::string_view prefix) {
  std::vector<ir::Attribute> out;
  for (const ir::Attribute& a : n.attributes) {
    const std::string_view name = a.name;
    if (name.starts_with(prefix)) {
      out.push_back(a);
      out.back().name = std::string(name.substr(prefix.size()));
    } else if (prefix == kDepthwise && !name.starts_with(kExpand) && !name.starts_with(kProject)) {
      out.push_back(a);
    }
  }
  return out;
}

void check_rank4(const NodeContext& ctx, const char* what, const Shape& s) {
  if (s.rank_known && s.rank() != 4) ctx.fail("{} must be 4-D, got {}", what, s.str());
}

void infer_inverted_residual_nhwc(InferContext& ctx) {
  if (ctx.num_inputs() < 4 || ctx.num_inputs() > kInputs)
    ctx.fail("takes 4 to 8 inputs (X, We, Be, Wd, Bd, Wp, Bp, Z), got {}", ctx.num_inputs());
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const DType t = ctx.input_type(i);
    if (t != DType::kFloat32 && t != DType::kUndefined)
      ctx.unsupported("InvertedResidualNhwc takes float32 only, but input {} is {}", i, dtype_name(t));
  }
  if (!ctx.has_input(kWe) || !ctx.has_input(kWd)) ctx.fail("the expand and depthwise weights are required");
  if (!ctx.has_input(kWp) && (ctx.has_input(kBp) || ctx.has_input(kZ)))
    ctx.fail("a projection bias or residual needs the projection weights");
  read_fused_activation(ctx, kExpand), read_fused_activation(ctx, kDepthwise), read_fused_activation(ctx, kProject);
  const Shape& x = ctx.input_shape(kX);
  const Shape& we = ctx.input_shape(kWe);
  const Shape& wd = ctx.input_shape(kWd);
  check_rank4(ctx, "X (N, H, W, C)", x);
  check_rank4(ctx, "We", we);
  check_rank4(ctx, "Wd", wd);
  // The depthwise step's input in NCHW order: [N, E, H, W].
  Shape e_nchw = Shape::unknown_rank();
  if (x.rank_known && we.rank_known) e_nchw = Shape({x.dims[0], we.dims[0], x.dims[1], x.dims[2]});
  Shape y = conv_output_shape(ctx, e_nchw, wd);
  if (y.rank_known && y.rank() == 4) y = Shape({y.dims[0], y.dims[2], y.dims[3], y.dims[1]});
  if (ctx.has_input(kWp)) {
    const Shape& wp = ctx.input_shape(kWp);
    check_rank4(ctx, "Wp", wp);
    if (y.rank_known && y.rank() == 4) y.dims[3] = wp.rank_known ? wp.dims[0] : Dim();
    if (ctx.has_input(kZ)) {
      const Shape& z = ctx.input_shape(kZ);
      check_rank4(ctx, "residual Z", z);
      if (z.rank_known && y.rank_known && y.rank() == 4)
        for (size_t i = 0; i < 4; ++i)
          if (z.dims[i].is_known() && y.dims[i].is_known() && z.dims[i].value() != y.dims[i].value())
            ctx.fail("residual Z {} must have exactly the shape of Y {}", z.str(), y.str());
    }
  }
  ctx.set_output(0, DType::kFloat32, y);
}

const Tensor* optional_input(const KernelContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; }

void compute_inverted_residual_nhwc(KernelContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype() != DType::kFloat32)
      ctx.bad_input("InvertedResidualNhwc takes float32 only, but input {} is {}", i, dtype_name(ctx.input(i).dtype()));
  const Tensor& x = ctx.input(kX);
  const Tensor& we = ctx.input(kWe);
  if (x.rank() != 4 || we.rank() != 4) ctx.bad_input("X {} and We {} must be 4-D", dims_str(x.dims()), dims_str(we.dims()));
  Tensor& y = ctx.output(0);
  if (y.rank() != 4) ctx.bad_input("Y {} must be 4-D", dims_str(y.dims()));
  const ir::Node& n = ctx.node();
  Tensor e[1] = {Tensor(DType::kFloat32, {x.dim(0), x.dim(1), x.dim(2), we.dim(0)})};
  run_kiln_reference_op(ctx, "ConvNhwc", step_attrs(n, kExpand), {&x, &we, optional_input(ctx, kBe)}, e);
  if (!ctx.has_input(kWp)) {
    run_kiln_reference_op(ctx, "ConvNhwc", step_attrs(n, kDepthwise), {&e[0], &ctx.input(kWd), optional_input(ctx, kBd)},
                          std::span<Tensor>(&y, 1));
    return;
  }
  Tensor d[1] = {Tensor(DType::kFloat32, {y.dim(0), y.dim(1), y.dim(2), we.dim(0)})};
  run_kiln_reference_op(ctx, "ConvNhwc", step_attrs(n, kDepthwise), {&e[0], &ctx.input(kWd), optional_input(ctx, kBd)},
                        d);
  run_kiln_reference_op(ctx, "ConvNhwc", step_attrs(n, kProject),
                        {&d[0], &ctx.input(kWp), optional_input(ctx, kBp), optional_input(ctx, kZ)},
                        std::span<Tensor>(&y, 1));
}

// Multiply-adds: the expansion over X's pixels, the depthwise taps and the projection over Y's pixels.
int64_t inverted_residual_macs(const KernelContext& ctx) {
  if (!ctx.has_input(kX) || !ctx.has_input(kWe) || !ctx.has_input(kWd)) return 0;
  const Tensor& we = ctx.input(kWe);
  const Tensor& wd = ctx.input(kWd);
  const Tensor* wp = ctx.has_input(kWp) ? &ctx.input(kWp) : nullptr;
  if (we.rank() != 4 || wd.rank() != 4 || (wp && wp->rank() != 4)) return 0;
  const int64_t out_channels = wp ? wp->dim(0) : we.dim(0);
  if (out_channels <= 0) return 0;
  const double pixels_out = static_cast<double>(ctx.output_numel(0)) / static_cast<double>(out_channels);
  double macs = static_cast<double>(ctx.input(kX).numel()) * static_cast<double>(we.dim(0)) +
                pixels_out * static_cast<double>(wd.numel());
  if (wp) macs += pixels_out * static_cast<double>(wp->numel());
  return macs >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(macs);
}

}  // namespace

KILN_REGISTER_OP(inverted_residual_nhwc,
                 {"ai.kiln", "InvertedResidualNhwc", {1}, 0, infer_inverted_residual_nhwc,
                  compute_inverted_residual_nhwc, false, false, false, prepare_inverted_residual_nhwc}
                     .with_macs(inverted_residual_macs));

}  // namespace kiln::ops
