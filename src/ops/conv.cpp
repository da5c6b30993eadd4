// Conv (1-D, 2-D, 3-D and beyond): the reference kernel takes float through im2col + the reference GEMM (direct
// loop for depthwise 2-D), double the same in double, float16/bfloat16 computed in float. The fast float32 path
// is prepare_conv (conv_prepared.cpp).

#include <vector>

#include "ir/dispatch.h"
#include "ops/conv_core.h"
#include "ops/conv_ops.h"
#include "ops/conv_shape.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/op_macs.h"

namespace kiln::ops {

void infer_conv(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.unsupported("Conv takes float, double, float16 or bfloat16 input, got {}", dtype_name(t));
  if (ctx.input_type(1) != t)
    ctx.fail("x is {} but w is {}; both must have the same type", dtype_name(t), dtype_name(ctx.input_type(1)));
  if (ctx.has_input(2) && ctx.input_type(2) != t)
    ctx.fail("bias is {} but x is {}", dtype_name(ctx.input_type(2)), dtype_name(t));
  Shape y = infer_conv_shape(ctx, 0, 1);
  if (ctx.has_input(2)) {
    const Shape& b = ctx.input_shape(2);
    if (b.rank_known && b.rank() != 1) ctx.fail("bias must be 1-D, got {}", b.str());
    if (b.rank_known && y.rank_known && b.dims[0].is_known() && y.dims[1].is_known() &&
        b.dims[0].value() != y.dims[1].value())
      ctx.fail("bias {} does not match the {} output channels of w {}", b.str(), y.dims[1].value(),
               ctx.input_shape(1).str());
  }
  ctx.set_output(0, t, std::move(y));
}

void compute_conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  ConvProblem p = conv_problem(ctx, x, w);
  if (b) check_per_channel(ctx, "bias", b->dims(), p.out_channels, false);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> want{p.batch, p.out_channels};
  want.insert(want.end(), p.geo.out.begin(), p.geo.out.end());
  expect_output_dims(ctx, y, want);
  visit_float(x.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      conv_forward<T>(p, x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, y.data<T>());
    } else {  // float16 / bfloat16: compute in float, round once at the end
      std::vector<float> xf = to_float_vector<T>(x), wf = to_float_vector<T>(w), bf, yf(static_cast<size_t>(y.numel()));
      if (b) bf = to_float_vector<T>(*b);
      conv_forward<float>(p, xf.data(), wf.data(), b ? bf.data() : nullptr, yf.data());
      T* out = y.data<T>();
      for (size_t i = 0; i < yf.size(); ++i) out[i] = T(yf[i]);
    }
  }, "Conv");
}

KILN_REGISTER_OP(conv, {"", "Conv", {1, 11, 22}, 0, infer_conv, compute_conv, false, false, false, prepare_conv}
                            .with_validate(validate_conv<0, 1>).with_macs(macs::conv<1>));

}  // namespace kiln::ops
