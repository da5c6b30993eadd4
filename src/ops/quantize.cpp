// QuantizeLinear, DequantizeLinear (per-tensor, per-axis and blocked scales) and DynamicQuantizeLinear.
// Quantization rounds half to even and saturates to the output type, as ONNX specifies.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

bool is_quantized_type(DType t) {
  return t == DType::kUInt8 || t == DType::kInt8 || t == DType::kUInt16 || t == DType::kInt16;
}

// Maps each element of x to its scale (and zero point) element.
struct ScaleMap {
  int64_t inner = 1, axis_dim = 1, scale_axis_dim = 1, block = 0;
  bool per_tensor = true;
  int64_t index(int64_t i) const {
    if (per_tensor) return 0;
    const int64_t a = (i / inner) % axis_dim;
    if (block == 0) return a;  // 1-D scale along the axis
    const int64_t r = i % inner, o = i / inner / axis_dim;
    return (o * scale_axis_dim + a / block) * inner + r;  // scale has x's rank, axis divided into blocks
  }
};

ScaleMap scale_map(const NodeContext& ctx, const std::vector<int64_t>& x, const std::vector<int64_t>& scale) {
  ScaleMap m;
  const int64_t block = ctx.opset() >= 21 ? ctx.attr_int("block_size", 0) : 0;
  if (block < 0) ctx.fail("block_size must be >= 0, got {}", block);
  const int64_t n = checked_numel(scale);
  if (block == 0 && scale.size() <= 1 && n == 1) return m;  // per tensor
  if (x.empty()) ctx.bad_input("scale {} is not a scalar but the input is a scalar", dims_str(scale));
  const int64_t rank = static_cast<int64_t>(x.size());
  const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 1), rank));
  m.per_tensor = false;
  m.inner = product(x, axis + 1, x.size());
  m.axis_dim = x[axis];
  if (block == 0) {
    if (scale.size() != 1 || scale[0] != x[axis])
      ctx.bad_input("scale {} must be a scalar or 1-D with {} entries (dim {} of input {})", dims_str(scale), x[axis],
                    axis, dims_str(x));
    m.scale_axis_dim = x[axis];
    return m;
  }
  // Blocked: scale has x's shape except ceil(dim / block_size) along axis.
  bool ok = scale.size() == x.size();
  for (size_t d = 0; ok && d < x.size(); ++d)
    ok = d == axis ? scale[d] == (x[d] + block - 1) / block : scale[d] == x[d];
  if (!ok)
    ctx.bad_input("blocked scale {} does not match input {} with block_size {} on axis {}", dims_str(scale),
                  dims_str(x), block, axis);
  m.scale_axis_dim = scale[axis];
  m.block = block;
  return m;
}

template <typename Q> Q saturate_round(float v) {
  const float r = std::nearbyint(v);
  if (std::isnan(r)) return Q(0);
  return static_cast<Q>(std::clamp(r, static_cast<float>(std::numeric_limits<Q>::lowest()),
                                   static_cast<float>(std::numeric_limits<Q>::max())));
}

// ---- QuantizeLinear ----

DType quantize_output_type(const InferContext& ctx) {
  if (ctx.has_input(2)) return ctx.input_type(2);
  const int64_t od = ctx.opset() >= 21 ? ctx.attr_int("output_dtype", 0) : 0;
  return od == 0 ? DType::kUInt8 : static_cast<DType>(od);
}

void infer_quantize(InferContext& ctx) {
  const DType x = ctx.input_type(0);
  if (!dtype_is_float(x) && x != DType::kInt32) ctx.unsupported("QuantizeLinear does not take {} input", dtype_name(x));
  const DType out = quantize_output_type(ctx);
  if (!is_quantized_type(out))
    ctx.unsupported("QuantizeLinear to {}; kiln quantizes to uint8, int8, uint16 and int16", dtype_name(out));
  ctx.set_output(0, out, ctx.input_shape(0));
}

void compute_quantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  ScaleMap m = scale_map(ctx, x.dims(), scale.dims());
  if (zp && zp->dims() != scale.dims())
    ctx.bad_input("y_zero_point {} must have the shape of y_scale {}", dims_str(zp->dims()), dims_str(scale.dims()));
  Tensor& y = ctx.output(0);
  std::vector<float> sc(static_cast<size_t>(scale.numel()));
  for (size_t i = 0; i < sc.size(); ++i) sc[i] = static_cast<float>(scale.double_at(static_cast<int64_t>(i)));
  visit_integer(y.dtype(), [&]<typename Q>() {
    if constexpr (sizeof(Q) <= 2) {
      Q* ys = y.data<Q>();
      const Q* zs = zp ? zp->data<Q>() : nullptr;
      visit_numeric(x.dtype(), [&]<typename T>() {
        const T* xs = x.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) {
          const int64_t s = m.index(i);
          const float q = std::nearbyint(static_cast<float>(xs[i]) / sc[static_cast<size_t>(s)]);
          ys[i] = saturate_round<Q>(q + (zs ? static_cast<float>(zs[s]) : 0.0f));
        }
      }, "QuantizeLinear");
    } else {
      ctx.unsupported("QuantizeLinear to {}", dtype_name(y.dtype()));
    }
  }, "QuantizeLinear");
}

// ---- DequantizeLinear ----

void infer_dequantize(InferContext& ctx) {
  const DType x = ctx.input_type(0);
  if (!is_quantized_type(x) && x != DType::kInt32)
    ctx.unsupported("DequantizeLinear from {}; kiln takes uint8, int8, uint16, int16 and int32", dtype_name(x));
  if (ctx.has_input(2) && ctx.input_type(2) != x)
    ctx.fail("x_zero_point is {} but x is {}", dtype_name(ctx.input_type(2)), dtype_name(x));
  const DType s = ctx.input_type(1);
  if (!dtype_is_float(s) || s == DType::kFloat64) ctx.fail("x_scale must be float, float16 or bfloat16, got {}", dtype_name(s));
  ctx.set_output(0, s, ctx.input_shape(0));
}

void compute_dequantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  ScaleMap m = scale_map(ctx, x.dims(), scale.dims());
  if (zp && zp->dims() != scale.dims())
    ctx.bad_input("x_zero_point {} must have the shape of x_scale {}", dims_str(zp->dims()), dims_str(scale.dims()));
  Tensor& y = ctx.output(0);
  visit_float(y.dtype(), [&]<typename S>() {
    const S* ss = scale.data<S>();
    S* ys = y.data<S>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t s = m.index(i);
      const int64_t z = zp ? zp->int_at(s) : 0;
      ys[i] = S(static_cast<float>(x.int_at(i) - z) * static_cast<float>(ss[s]));
    }
  }, "DequantizeLinear");
}

// ---- DynamicQuantizeLinear ----

void infer_dynamic_quantize(InferContext& ctx) {
  if (ctx.input_type(0) != DType::kFloat32)
    ctx.unsupported("DynamicQuantizeLinear takes float input, got {}", dtype_name(ctx.input_type(0)));
  ctx.set_output(0, DType::kUInt8, ctx.input_shape(0));
  ctx.set_output(1, DType::kFloat32, Shape(std::vector<Dim>{}));
  ctx.set_output(2, DType::kUInt8, Shape(std::vector<Dim>{}));
}

void compute_dynamic_quantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const float* xs = x.data<float>();
  // The range always includes 0 so that 0 is exactly representable.
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) lo = std::min(lo, xs[i]), hi = std::max(hi, xs[i]);
  const float scale = (hi - lo) / 255.0f;
  const uint8_t zero = scale == 0 ? uint8_t{0} : saturate_round<uint8_t>(0.0f - lo / scale);
  uint8_t* ys = ctx.output(0).data<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i)
    ys[i] = scale == 0 ? zero : saturate_round<uint8_t>(std::nearbyint(xs[i] / scale) + static_cast<float>(zero));
  ctx.output(1).data<float>()[0] = scale;
  if (ctx.num_outputs() > 2) ctx.output(2).data<uint8_t>()[0] = zero;
}

}  // namespace

KILN_REGISTER_OP(quantize_linear, {"", "QuantizeLinear", {10, 13, 19, 21}, 0, infer_quantize, compute_quantize});
KILN_REGISTER_OP(dequantize_linear, {"", "DequantizeLinear", {10, 13, 19, 21}, 0, infer_dequantize,
                                     compute_dequantize});
KILN_REGISTER_OP(dynamic_quantize_linear, {"", "DynamicQuantizeLinear", {11}, 0, infer_dynamic_quantize,
                                           compute_dynamic_quantize});

}  // namespace kiln::ops
