// QuantizeLinear, DequantizeLinear (per-tensor, per-axis and blocked scales) and DynamicQuantizeLinear.
// Quantization rounds half to even and saturates to the output type, as ONNX specifies: 8- and 16-bit
// integers, int4/uint4/int2/uint2, the float8 types ('saturate' picks clamping or inf/NaN for overflow) and
// float4e2m1 (ir/narrow_types.h). Scales may be float8e8m0 (opset 24+).

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ir/narrow_types.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

// The types QuantizeLinear writes and DequantizeLinear reads (besides int32, which it also reads).
bool is_quantized_type(DType t) {
  switch (t) {
    case DType::kUInt8: case DType::kInt8: case DType::kUInt16: case DType::kInt16:
    case DType::kUInt4: case DType::kInt4: case DType::kUInt2: case DType::kInt2:
    case DType::kFloat8E4M3FN: case DType::kFloat8E4M3FNUZ: case DType::kFloat8E5M2: case DType::kFloat8E5M2FNUZ:
    case DType::kFloat4E2M1: return true;
    default: return false;
  }
}

// Refuses a quantized type kiln cannot hold (float6e2m3, float6e3m2) as unsupported, any other type as invalid.
void check_quantized_type(const NodeContext& ctx, DType t, const char* what) {
  if (t == DType::kUndefined || is_quantized_type(t)) return;
  if (t == DType::kFloat6E2M3 || t == DType::kFloat6E3M2)
    ctx.unsupported("{} is {}, which kiln does not hold", what, dtype_name(t));
  ctx.fail("{} is {}, which is not a quantized type", what, dtype_name(t));
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

// round(v) + zero_point, clamped to [lo, hi]; NaN gives 0.
int64_t quantize_integer(double v, double zero_point, double lo, double hi) {
  const double r = std::nearbyint(v) + zero_point;
  if (std::isnan(r)) return 0;
  return static_cast<int64_t>(std::clamp(r, lo, hi));
}

// The inclusive range of an integer quantized type.
std::pair<double, double> integer_range(DType t) {
  switch (t) {
    case DType::kUInt8: return {0, 255};
    case DType::kInt8: return {-128, 127};
    case DType::kUInt16: return {0, 65535};
    case DType::kInt16: return {-32768, 32767};
    case DType::kUInt4: return {0, 15};
    case DType::kInt4: return {-8, 7};
    case DType::kUInt2: return {0, 3};
    case DType::kInt2: return {-2, 1};
    default: fail(ErrorCode::kInternal, "{} is not an integer quantized type", dtype_name(t));
  }
}

// The zero point must have the scale's shape; a scalar and a [1] tensor both mean per-tensor (ONNX's own
// float8 and 4-bit test cases pair a [1] zero point with a scalar scale).
bool same_granularity(const Tensor& zero_point, const Tensor& scale) {
  if (zero_point.dims() == scale.dims()) return true;
  return zero_point.numel() == 1 && scale.numel() == 1 && zero_point.rank() <= 1 && scale.rank() <= 1;
}

// Scale (or zero point) elements as double: every type they come in (float8e8m0 scales included).
std::vector<double> values_of(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = t.double_at(static_cast<int64_t>(i));
  return v;
}

// ---- QuantizeLinear ----

DType quantize_output_type(const InferContext& ctx) {
  const int64_t od = ctx.opset() >= 21 ? ctx.attr_int("output_dtype", 0) : 0;
  if (od < 0 || od > INT32_MAX || (od != 0 && !dtype_is_known(static_cast<int32_t>(od))))
    ctx.fail("output_dtype = {} is not an ONNX element type", od);
  const DType from_attr = static_cast<DType>(od);
  if (ctx.has_input(2)) {
    const DType zp = ctx.input_type(2);
    if (od != 0 && zp != DType::kUndefined && zp != from_attr)
      ctx.fail("output_dtype is {} but y_zero_point is {}; they must agree", dtype_name(from_attr), dtype_name(zp));
    if (zp != DType::kUndefined) return zp;
  }
  return od == 0 ? DType::kUInt8 : from_attr;
}

// The type the division x / y_scale is rounded to: 'precision' (opset 23+) when given, else what NumPy's
// promotion of x and y_scale gives in ONNX's reference (half / half stays half, int32 / float is double).
DType division_type(const NodeContext& ctx, DType x, DType scale) {
  const int64_t p = ctx.opset() >= 23 ? ctx.attr_int("precision", 0) : 0;
  if (p != 0) {
    const auto t = static_cast<DType>(p);
    if (t != DType::kFloat32 && t != DType::kFloat16 && t != DType::kBFloat16 && t != DType::kFloat64)
      ctx.fail("precision = {} is not a float type", p);
    return t;
  }
  if (x == DType::kFloat64 || scale == DType::kFloat64 || x == DType::kInt32) return DType::kFloat64;
  if (x == scale && (x == DType::kFloat16 || x == DType::kBFloat16)) return x;
  return DType::kFloat32;
}

double round_to(DType t, double v) {
  switch (t) {
    case DType::kFloat32: return static_cast<float>(v);
    case DType::kFloat16: return static_cast<float>(Float16(static_cast<float>(v)));
    case DType::kBFloat16: return static_cast<float>(BFloat16(static_cast<float>(v)));
    default: return v;
  }
}

void infer_quantize(InferContext& ctx) {
  const DType x = ctx.input_type(0);
  if (!dtype_is_float(x) && x != DType::kInt32 && x != DType::kUndefined)
    ctx.unsupported("QuantizeLinear does not take {} input", dtype_name(x));
  const DType out = quantize_output_type(ctx);
  check_quantized_type(ctx, out, "the output type");
  division_type(ctx, x, ctx.input_type(1));  // refuses a bad 'precision' before anything runs
  ctx.set_output(0, out, ctx.input_shape(0));
}

void compute_quantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  ScaleMap m = scale_map(ctx, x.dims(), scale.dims());
  if (zp && !same_granularity(*zp, scale))
    ctx.bad_input("y_zero_point {} must have the shape of y_scale {}", dims_str(zp->dims()), dims_str(scale.dims()));
  Tensor& y = ctx.output(0);
  const DType out = y.dtype();
  const std::vector<double> sc = values_of(scale);
  const std::vector<double> zs = zp ? values_of(*zp) : std::vector<double>(sc.size(), 0.0);
  const DType precision = division_type(ctx, x.dtype(), scale.dtype());
  // Calls store(i, scale index, x[i] / scale rounded to the division's precision) for every element.
  auto for_each_quotient = [&](auto&& store) {
    visit_numeric(x.dtype(), [&]<typename T>() {
      const T* xs = x.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        const int64_t s = m.index(i);
        store(i, static_cast<size_t>(s), round_to(precision, to_double(xs[i]) / sc[static_cast<size_t>(s)]));
      }
    }, "QuantizeLinear");
  };
  auto* bytes = static_cast<uint8_t*>(y.raw_data());
  if (dtype_is_narrow_float(out)) {
    // ONNX's reference leaves the zero point out for float8 (it must be 0; adding +0 would turn -0 into +0)
    // and adds it for float4e2m1; 'saturate' has no effect on float4e2m1, which always saturates.
    const bool saturate = ctx.opset() < 19 || ctx.attr_int("saturate", 1) != 0;
    const bool always_add_zero_point = out == DType::kFloat4E2M1 && zp;
    for_each_quotient([&](int64_t i, size_t s, double q) {
      if (always_add_zero_point || zs[s] != 0) q += zs[s];
      bytes[i] = narrow_float_from(out, q, saturate);
    });
  } else if (dtype_is_narrow_integer(out)) {
    // Plain variables, not a structured binding: clang 14 (the fuzz build) cannot capture bindings in lambdas.
    const std::pair<double, double> range = integer_range(out);
    const double lo = range.first, hi = range.second;
    for_each_quotient([&](int64_t i, size_t s, double q) {
      bytes[i] = narrow_int_from(out, quantize_integer(q, zs[s], lo, hi));
    });
  } else {
    const std::pair<double, double> range = integer_range(out);
    const double lo = range.first, hi = range.second;
    visit_integer(out, [&]<typename Q>() {
      Q* ys = y.data<Q>();
      for_each_quotient([&](int64_t i, size_t s, double q) { ys[i] = static_cast<Q>(quantize_integer(q, zs[s], lo, hi)); });
    }, "QuantizeLinear");
  }
}

// ---- DequantizeLinear ----

void infer_dequantize(InferContext& ctx) {
  const DType x = ctx.input_type(0);
  if (x != DType::kUndefined && x != DType::kInt32) check_quantized_type(ctx, x, "x");
  if (ctx.has_input(2) && ctx.input_type(2) != x)
    ctx.fail("x_zero_point is {} but x is {}", dtype_name(ctx.input_type(2)), dtype_name(x));
  const DType s = ctx.input_type(1);
  if ((!dtype_is_float(s) || s == DType::kFloat64) && s != DType::kFloat8E8M0 && s != DType::kUndefined)
    ctx.fail("x_scale must be float, float16, bfloat16 or float8e8m0, got {}", dtype_name(s));
  const int64_t od = ctx.opset() >= 23 ? ctx.attr_int("output_dtype", 0) : 0;
  DType out = s;
  if (od != 0) {
    out = static_cast<DType>(od);
    if (out != DType::kFloat32 && out != DType::kFloat16 && out != DType::kBFloat16)
      ctx.fail("output_dtype = {} must be float, float16 or bfloat16", od);
  } else if (s == DType::kFloat8E8M0) {
    ctx.fail("x_scale is float8e8m0, so the output type must be given by output_dtype");
  }
  ctx.set_output(0, out, ctx.input_shape(0));
}

void compute_dequantize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  ScaleMap m = scale_map(ctx, x.dims(), scale.dims());
  if (zp && !same_granularity(*zp, scale))
    ctx.bad_input("x_zero_point {} must have the shape of x_scale {}", dims_str(zp->dims()), dims_str(scale.dims()));
  Tensor& y = ctx.output(0);
  const std::vector<double> sc = values_of(scale);
  const std::vector<double> zs = zp ? values_of(*zp) : std::vector<double>(sc.size(), 0.0);
  // (x - zero point) in float, times the scale in float (ONNX's reference computes in float32), then the
  // output type. x - zero point is exact in double for every x type.
  visit_float(y.dtype(), [&]<typename S>() {
    S* ys = y.data<S>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const auto s = static_cast<size_t>(m.index(i));
      const auto dx = static_cast<float>(x.double_at(i) - zs[s]);
      ys[i] = S(dx * static_cast<float>(sc[s]));
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

KILN_REGISTER_OP(quantize_linear, {"", "QuantizeLinear", {10, 13, 19, 21, 23, 24, 25, 28}, 0, infer_quantize,
                                   compute_quantize});
KILN_REGISTER_OP(dequantize_linear, {"", "DequantizeLinear", {10, 13, 19, 21, 23, 24, 25, 28}, 0, infer_dequantize,
                                     compute_dequantize});
KILN_REGISTER_OP(dynamic_quantize_linear, {"", "DynamicQuantizeLinear", {11}, 0, infer_dynamic_quantize,
                                           compute_dynamic_quantize});

}  // namespace kiln::ops
