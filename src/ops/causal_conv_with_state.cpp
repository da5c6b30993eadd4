// CausalConvWithState (opset 27): a causal depthwise 1-D convolution that carries its last k-1 input
// positions between calls (Mamba, Gated DeltaNet). It fuses the exported Concat(past, x) -> Conv(group = C)
// -> Slice pattern:
//   padded  = concat(past_state or zeros [B, C, k-1], input [B, C, L])   along the length axis
//   output  = act(conv_valid(padded, weight [C, 1, k]) + bias)            [B, C, L]
//   present = the last k-1 positions of padded                            [B, C, k-1]
// with act one of none / silu / swish (silu and swish are the same function).
//
// Numerics follow the reference: the convolution sum is taken in wide precision and stored in the input type,
// the bias is added in that type, and the activation runs in float on the stored value. For float32 this
// changes nothing measurable; for float16/bfloat16 it reproduces the reference's rounding steps.

#include <cmath>
#include <string>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum CausalConvInput { kX, kWeight, kBias, kPast };
enum Output { kY, kPresent };

bool is_allowed_type(DType t) { return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16; }

/// True for the fused SiLU; fails on anything but none / silu / swish.
bool uses_silu(const NodeContext& ctx) {
  const std::string act = ctx.attr_string("activation", "none");
  if (act == "silu" || act == "swish") return true;
  if (act != "none") ctx.fail("activation must be 'none', 'silu' or 'swish', not '{}'", act);
  return false;
}

void infer_causal_conv(InferContext& ctx) {
  const DType t = ctx.input_type(kX);
  if (!is_allowed_type(t)) ctx.fail("input must be float, float16 or bfloat16, not {}", dtype_name(t));
  for (int i : {kWeight, kBias, kPast})
    if (ctx.has_input(i) && ctx.input_type(i) != t)
      ctx.fail("input {} is {} but input 0 is {}: all inputs must share one type", i, dtype_name(ctx.input_type(i)),
               dtype_name(t));
  uses_silu(ctx);

  const Shape& x = ctx.input_shape(kX);
  const Shape& w = ctx.input_shape(kWeight);
  if (x.rank_known && x.rank() != 3)
    ctx.bad_input("input must be 3-D (batch_size, channels, length), but it is {}", x.str());
  if (w.rank_known && w.rank() != 3) ctx.bad_input("weight must be 3-D (channels, 1, k), but it is {}", w.str());
  const Dim batch = dim_at(x, 0), channels = dim_at(x, 1);
  expect_dim(ctx, dim_at(w, 0), channels, "weight", 0, "input's channels");
  expect_dim(ctx, dim_at(w, 1), Dim(1), "weight", 1, "the depthwise layout's (channels, 1, k) middle dim");
  const Dim k = dim_at(w, 2);
  if (k.is_known() && k.value() < 1) ctx.bad_input("weight's kernel size k (dim 2) must be at least 1, but it is 0");
  Dim carry = k.is_known() ? Dim(k.value() - 1) : Dim();  // k - 1 positions

  if (ctx.has_input(kBias)) {
    const Shape& b = ctx.input_shape(kBias);
    if (b.rank_known && b.rank() != 1) ctx.bad_input("bias must be 1-D (channels), but it is {}", b.str());
    expect_dim(ctx, dim_at(b, 0), channels, "bias", 0, "input's channels");
  }
  Dim present_batch = batch, present_channels = channels;
  if (ctx.has_input(kPast)) {
    const Shape& p = ctx.input_shape(kPast);
    if (p.rank_known && p.rank() != 3)
      ctx.bad_input("past_state must be 3-D (batch_size, channels, k - 1), but it is {}", p.str());
    expect_dim(ctx, dim_at(p, 0), batch, "past_state", 0, "input's batch_size");
    expect_dim(ctx, dim_at(p, 1), channels, "past_state", 1, "input's channels");
    expect_dim(ctx, dim_at(p, 2), carry, "past_state", 2, "weight's kernel size k minus 1");
    // Where the input leaves a dim unknown, past_state may still name it.
    if (!batch.is_known() && !batch.is_symbol()) present_batch = dim_at(p, 0);
    if (!channels.is_known() && !channels.is_symbol()) present_channels = dim_at(p, 1);
    if (!carry.is_known()) carry = dim_at(p, 2);
  }
  if (!present_channels.is_known() && dim_at(w, 0).is_known()) present_channels = dim_at(w, 0);
  ctx.set_output(kY, t, Shape({present_batch, present_channels, dim_at(x, 2)}));
  if (ctx.num_outputs() > kPresent) ctx.set_output(kPresent, t, Shape({present_batch, present_channels, carry}));
}

/// present_state is required by the spec, but a node whose consumer pruned it (empty name) is still run.
bool wants_present(const KernelContext& ctx) {
  return ctx.node().outputs.size() > kPresent && ctx.node().outputs[kPresent] >= 0;
}

template <typename T> double round_to(double v) { return to_double(from_double<T>(v)); }

template <typename T> void run_causal_conv(KernelContext& ctx, bool silu) {
  const Tensor& x = ctx.input(kX);
  const int64_t batch = x.dims()[0], channels = x.dims()[1], length = x.dims()[2];
  const int64_t k = ctx.input(kWeight).dims()[2];
  const int64_t carry = k - 1;
  const T* in = x.data<T>();
  const T* weight = ctx.input(kWeight).data<T>();
  const T* bias = ctx.has_input(kBias) ? ctx.input(kBias).data<T>() : nullptr;
  const T* past = ctx.has_input(kPast) ? ctx.input(kPast).data<T>() : nullptr;
  T* y = ctx.output(kY).data<T>();
  T* present = wants_present(ctx) ? ctx.output(kPresent).data<T>() : nullptr;
  // Nothing to write: return before looping over a batch that empty tensors let be arbitrarily large.
  if (x.numel() == 0 && (present == nullptr || ctx.output(kPresent).numel() == 0)) return;

  std::vector<double> padded(static_cast<size_t>(checked_add(carry, length, "padded length")));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t row = b * channels + c;
      for (int64_t i = 0; i < carry; ++i) padded[size_t(i)] = past ? to_double(past[row * carry + i]) : 0.0;
      for (int64_t i = 0; i < length; ++i) padded[size_t(carry + i)] = to_double(in[row * length + i]);
      const T* wc = weight + c * k;
      for (int64_t i = 0; i < length; ++i) {
        double sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += to_double(wc[j]) * padded[size_t(i + j)];
        double v = round_to<T>(sum);
        if (bias) v = round_to<T>(v + to_double(bias[c]));
        if (silu) v = v / (1.0 + std::exp(-v));
        y[row * length + i] = from_double<T>(v);
      }
      // The carry is the tail of the padded sequence: it reaches back into past_state (or the zero padding)
      // when the input is shorter than k - 1.
      if (present)
        for (int64_t i = 0; i < carry; ++i) present[row * carry + i] = from_double<T>(padded[size_t(length + i)]);
    }
}

void compute_causal_conv(KernelContext& ctx) {
  const bool silu = uses_silu(ctx);
  // Inference ran with these exact shapes and checked them; this guards the kernel's indexing on its own.
  const Tensor& x = ctx.input(kX);
  const Tensor& w = ctx.input(kWeight);
  if (x.rank() != 3 || w.rank() != 3 || w.dims()[0] != x.dims()[1] || w.dims()[1] != 1 || w.dims()[2] < 1)
    ctx.bad_input("input {} and weight {} must be (batch_size, channels, length) and (channels, 1, k >= 1)",
                  dims_str(x.dims()), dims_str(w.dims()));
  const int64_t carry = w.dims()[2] - 1;
  const std::vector<int64_t> state_dims{x.dims()[0], x.dims()[1], carry};
  if (ctx.has_input(kBias) && ctx.input(kBias).dims() != std::vector<int64_t>{x.dims()[1]})
    ctx.bad_input("bias must be ({}), but it is {}", x.dims()[1], dims_str(ctx.input(kBias).dims()));
  if (ctx.has_input(kPast) && ctx.input(kPast).dims() != state_dims)
    ctx.bad_input("past_state must be {}, but it is {}", dims_str(state_dims), dims_str(ctx.input(kPast).dims()));
  if (ctx.output(kY).dims() != x.dims() || (wants_present(ctx) && ctx.output(kPresent).dims() != state_dims))
    ctx.fail("inference sized the outputs differently from the kernel's {} and {}", dims_str(x.dims()),
             dims_str(state_dims));
  visit_float(x.dtype(), [&]<typename T>() { run_causal_conv<T>(ctx, silu); }, "CausalConvWithState");
}

}  // namespace

KILN_REGISTER_OP(causal_conv_with_state,
                 {"", "CausalConvWithState", {27}, 0, infer_causal_conv, compute_causal_conv});

}  // namespace kiln::ops
