// Resize (opset 10, 11, 13, 18, 19) and Upsample (7, 9; removed in 10): attributes, output sizes and
// symbolic inference. The resampling itself is in resize_kernel.cpp.
//
// Inputs by version:  Upsample-7: X, scales attribute.   Upsample-9, Resize-10: X, scales.
//                     Resize-11+: X, roi, scales, sizes (from 13 roi and scales are optional too).
// Output length per axis: floor(in * scale) with scales (float arithmetic, as the ONNX shape inference and
// onnxruntime do), or `sizes` (from 18 optionally adjusted by keep_aspect_ratio_policy). Exported PyTorch
// models compute scales or sizes with Shape chains; when inference cannot see their values the resized
// dims are unknown, while dims a known scale of 1 leaves alone keep their symbols.

#include <cmath>
#include <optional>

#include "ir/dispatch.h"
#include "ops/axis_attr.h"
#include "ops/op.h"
#include "ops/resize.h"
#include "ops/resize_prepared.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using resize::CoordMode;
using resize::Mode;
using resize::NearestMode;

bool is_upsample(const NodeContext& ctx) { return ctx.node().op_type == "Upsample"; }

/// Opset-10 forms (Upsample and Resize-10): asymmetric coordinates, no roi/sizes inputs.
bool legacy_form(const NodeContext& ctx) { return is_upsample(ctx) || ctx.opset() < 11; }

/// What the node asks for, before X's concrete dims are applied.
struct Request {
  bool values_known = true;  // false when the scales/sizes input value is not visible (inference only)
  bool use_sizes = false;
  std::vector<size_t> axes;  // the input axes the lists refer to
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  std::vector<double> roi;  // empty, or [starts..., ends...] over `axes`
};

/// Reads input i's value (a Tensor) or nullptr; InferContext may not know it, KernelContext always does.
const Tensor* value_of(const InferContext& ctx, size_t i) { return ctx.input_value(i); }
const Tensor* value_of(const KernelContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; }

/// True when input i is absent or known to be empty (by value or by a concrete shape with 0 elements).
template <typename Ctx> bool known_empty(const Ctx& ctx, size_t i) {
  if (!ctx.has_input(i)) return true;
  if (const Tensor* v = value_of(ctx, i)) return v->numel() == 0;
  if constexpr (std::is_same_v<Ctx, InferContext>) {
    const Shape& s = ctx.input_shape(i);
    if (s.rank_known)
      for (const Dim& d : s.dims)
        if (d.is_known() && d.value() == 0) return true;
  }
  return false;
}

template <typename Ctx> Request read_request(const Ctx& ctx, const RankOf& of) {
  const auto rank = static_cast<int64_t>(of.rank);
  Request r;
  // Axes the scales/sizes/roi lists refer to: the `axes` attribute (opset 18) or every axis.
  const bool listed = !legacy_form(ctx) && ctx.opset() >= 18 && ctx.has_attr("axes");
  if (listed) {
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t a : ctx.attr_ints("axes")) {
      size_t k = static_cast<size_t>(normalize_axis(ctx, a, rank));
      if (seen[k]) ctx.fail("axis {} is listed twice in axes", a);
      seen[k] = true;
      r.axes.push_back(k);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) r.axes.push_back(static_cast<size_t>(i));
  }
  const size_t n = r.axes.size();
  // scales and sizes hold one value per axis of X, or per listed axis when the axes attribute narrows them.
  auto check_length = [&](const char* name, size_t length, bool is_attr) {
    if (!listed) {
      if (is_attr) check_axis_attr(ctx, name, length, AxisSpan::kAxes, of);
      else check_axis_input(ctx, name, length, AxisSpan::kAxes, of);
    } else if (length != n) {
      ctx.fail("{} '{}' has {} values, but the axes attribute lists {} axes, so it needs {}",
               is_attr ? "attribute" : "input", name, length, n, n);
    }
  };
  auto read_scales = [&](const Tensor& t) {
    if (t.dtype() != DType::kFloat32) ctx.fail("scales must be float, not {}", dtype_name(t.dtype()));
    check_length("scales", static_cast<size_t>(t.numel()), false);
    for (int64_t i = 0; i < t.numel(); ++i) r.scales.push_back(t.data<float>()[i]);
  };
  if (is_upsample(ctx) && ctx.opset() < 9) {
    std::vector<float> s = ctx.attr_floats("scales");
    check_length("scales", s.size(), true);
    r.scales.assign(s.begin(), s.end());
  } else if (legacy_form(ctx)) {
    if (!ctx.has_input(1)) ctx.fail("input 1 (scales) is required");
    if (const Tensor* t = value_of(ctx, 1)) read_scales(*t);
    else r.values_known = false;
  } else {
    const bool scales_empty = known_empty(ctx, 2), sizes_empty = known_empty(ctx, 3);
    if (!scales_empty && !sizes_empty) {
      const Tensor* sc = value_of(ctx, 2);
      const Tensor* sz = value_of(ctx, 3);
      if (sc && sz) ctx.fail("only one of scales and sizes may be given, but both hold values");
      r.values_known = false;  // one of them is empty at run time; inference cannot tell which
      return r;
    }
    if (scales_empty && sizes_empty) ctx.fail("one of scales (input 2) and sizes (input 3) must be given");
    if (!scales_empty) {
      if (const Tensor* t = value_of(ctx, 2)) read_scales(*t);
      else r.values_known = false;
    } else {
      r.use_sizes = true;
      if (const Tensor* t = value_of(ctx, 3)) {
        if (t->dtype() != DType::kInt64) ctx.fail("sizes must be int64, not {}", dtype_name(t->dtype()));
        check_length("sizes", static_cast<size_t>(t->numel()), false);
        r.sizes = t->to_int64_vector();
        for (int64_t v : r.sizes)
          if (v < 0) ctx.bad_input("sizes must not be negative, got {}", v);
      } else {
        r.values_known = false;
      }
    }
    if (ctx.has_input(1))
      if (const Tensor* roi = value_of(ctx, 1); roi && roi->numel() > 0) {
        if (!dtype_is_float(roi->dtype())) ctx.fail("roi must be a float tensor, not {}", dtype_name(roi->dtype()));
        for (int64_t i = 0; i < roi->numel(); ++i) r.roi.push_back(roi->double_at(i));
      }
  }
  for (double s : r.scales)
    if (!(s > 0) || !std::isfinite(s)) ctx.bad_input("scales must be positive and finite, got {}", s);
  return r;
}

std::string keep_aspect_policy(const NodeContext& ctx) {
  if (legacy_form(ctx) || ctx.opset() < 18) return "stretch";
  std::string p = ctx.attr_string("keep_aspect_ratio_policy", "stretch");
  if (p != "stretch" && p != "not_larger" && p != "not_smaller")
    ctx.fail("keep_aspect_ratio_policy must be stretch, not_larger or not_smaller, got '{}'", p);
  return p;
}

/// With keep_aspect_ratio_policy, the one scale all listed axes share; nullopt when an input dim is unknown.
std::optional<double> shared_scale(const Request& r, const std::vector<Dim>& in, const std::string& policy) {
  double best = policy == "not_larger" ? INFINITY : -INFINITY;
  for (size_t k = 0; k < r.axes.size(); ++k) {
    const Dim& d = in[r.axes[k]];
    if (!d.is_known() || d.value() == 0) return std::nullopt;
    const double s = static_cast<double>(r.sizes[k]) / static_cast<double>(d.value());
    best = policy == "not_larger" ? std::min(best, s) : std::max(best, s);
  }
  return best;
}

/// floor(in * scale) in float arithmetic, as the ONNX shape inference and onnxruntime compute it.
int64_t scaled_length(const NodeContext& ctx, int64_t in, double scale) {
  const float v = std::floor(static_cast<float>(in) * static_cast<float>(scale));
  if (!(v < 4.0e18f)) ctx.bad_input("scale {} makes a dim of {} too large", scale, in);
  return static_cast<int64_t>(v);
}

/// round-half-up(scale * in), the keep_aspect_ratio_policy length.
int64_t rounded_length(const NodeContext& ctx, int64_t in, double scale) {
  const double v = std::floor(scale * static_cast<double>(in) + 0.5);
  if (!(v >= 0 && v < 4.0e18)) ctx.bad_input("sizes give an invalid length {} for a dim of {}", v, in);
  return static_cast<int64_t>(v);
}

void infer_resize(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const DType t = ctx.input_type(0);
  if (!x.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const Request r = read_request(ctx, rank_of("X", x));
  std::vector<Dim> out = x.dims;
  if (!r.values_known) {
    for (size_t a : r.axes) out[a] = Dim();
  } else if (!r.use_sizes) {
    for (size_t k = 0; k < r.axes.size(); ++k) {
      const Dim& d = x.dims[r.axes[k]];
      if (d.is_known()) out[r.axes[k]] = Dim(scaled_length(ctx, d.value(), r.scales[k]));
      else if (r.scales[k] != 1) out[r.axes[k]] = Dim();
    }
  } else {
    const std::string policy = keep_aspect_policy(ctx);
    if (policy == "stretch") {
      for (size_t k = 0; k < r.axes.size(); ++k) out[r.axes[k]] = Dim(r.sizes[k]);
    } else if (std::optional<double> s = shared_scale(r, x.dims, policy)) {
      for (size_t a : r.axes) out[a] = Dim(rounded_length(ctx, x.dims[a].value(), *s));
    } else {
      for (size_t a : r.axes) out[a] = Dim();
    }
  }
  ctx.set_output(0, t, Shape(out));
}

resize::Params read_params(const KernelContext& ctx, const Request& r, const std::vector<int64_t>& in) {
  resize::Params p;
  const std::string mode = ctx.attr_string("mode", "nearest");
  if (mode == "nearest") p.mode = Mode::kNearest;
  else if (mode == "linear") p.mode = Mode::kLinear;
  else if (mode == "cubic" && !legacy_form(ctx)) p.mode = Mode::kCubic;
  else ctx.fail("mode must be nearest, linear{}, got '{}'", legacy_form(ctx) ? "" : " or cubic", mode);
  if (legacy_form(ctx)) {
    p.coord = CoordMode::kAsymmetric;
    p.nearest = NearestMode::kSimple;
  } else {
    const std::string c = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
    if (c == "half_pixel") p.coord = CoordMode::kHalfPixel;
    else if (c == "half_pixel_symmetric" && ctx.opset() >= 19) p.coord = CoordMode::kHalfPixelSymmetric;
    else if (c == "pytorch_half_pixel") p.coord = CoordMode::kPytorchHalfPixel;
    else if (c == "align_corners") p.coord = CoordMode::kAlignCorners;
    else if (c == "asymmetric") p.coord = CoordMode::kAsymmetric;
    else if (c == "tf_crop_and_resize") p.coord = CoordMode::kTfCropAndResize;
    else if (c == "tf_half_pixel_for_nn" && ctx.opset() < 13)
      ctx.unsupported("coordinate_transformation_mode tf_half_pixel_for_nn (Resize-11 only) is not supported");
    else ctx.fail("unknown coordinate_transformation_mode '{}' at opset {}", c, ctx.opset());
    const std::string nm = ctx.attr_string("nearest_mode", "round_prefer_floor");
    if (nm == "round_prefer_floor") p.nearest = NearestMode::kRoundPreferFloor;
    else if (nm == "round_prefer_ceil") p.nearest = NearestMode::kRoundPreferCeil;
    else if (nm == "floor") p.nearest = NearestMode::kFloor;
    else if (nm == "ceil") p.nearest = NearestMode::kCeil;
    else ctx.fail("unknown nearest_mode '{}'", nm);
    p.cubic_a = ctx.attr_float("cubic_coeff_a", -0.75f);
    p.exclude_outside = ctx.attr_int("exclude_outside", 0) != 0;
    p.extrapolation_value = ctx.attr_float("extrapolation_value", 0.0f);
    p.antialias = ctx.opset() >= 18 && ctx.attr_int("antialias", 0) != 0;
  }
  p.axes.resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    p.axes[i].in = p.axes[i].out = in[i];
    p.axes[i].out_width = static_cast<double>(in[i]);
  }
  std::optional<double> shared;
  if (r.use_sizes) {
    const std::string policy = keep_aspect_policy(ctx);
    if (policy != "stretch") {
      std::vector<Dim> dims(in.begin(), in.end());
      shared = shared_scale(r, dims, policy);
      if (!shared) ctx.bad_input("keep_aspect_ratio_policy cannot scale a dim of length 0");
    }
  }
  for (size_t k = 0; k < r.axes.size(); ++k) {
    resize::Axis& a = p.axes[r.axes[k]];
    const double len = static_cast<double>(a.in);
    if (!r.use_sizes) {
      a.scale = r.scales[k];
      a.out = scaled_length(ctx, a.in, a.scale);
      a.out_width = a.scale * len;
    } else if (shared) {
      a.scale = *shared;
      a.out = rounded_length(ctx, a.in, a.scale);
      a.out_width = a.scale * len;
    } else {
      a.out = r.sizes[k];
      a.scale = static_cast<double>(a.out) / len;
      a.out_width = static_cast<double>(a.out);
    }
  }
  if (p.coord == CoordMode::kTfCropAndResize) {
    if (r.roi.size() != 2 * r.axes.size())
      ctx.fail("tf_crop_and_resize needs roi with {} values (starts then ends), got {}", 2 * r.axes.size(), r.roi.size());
    for (size_t k = 0; k < r.axes.size(); ++k) {
      p.axes[r.axes[k]].roi_start = r.roi[k];
      p.axes[r.axes[k]].roi_end = r.roi[r.axes.size() + k];
    }
  }
  return p;
}

void compute_resize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Request r = read_request(ctx, rank_of("X", x.dims()));
  const resize::Params p = read_params(ctx, r, x.dims());
  Tensor& y = ctx.output(0);
  for (size_t i = 0; i < p.axes.size(); ++i)
    if (y.dim(i) != p.axes[i].out) ctx.fail("internal: output dim {} is {} but the resize plan gives {}", i, y.dim(i), p.axes[i].out);
  resize::run(ctx, p, x, y);
}

// At load: scales and sizes known by then (initializers, Constant nodes) against X's rank when it is known.
void validate_resize(const InferContext& ctx) {
  keep_aspect_policy(ctx);
  const Shape& x = ctx.input_shape(0);
  if (x.rank_known) read_request(ctx, rank_of("X", x));
}

}  // namespace

resize::Params resize::params_for_run(const KernelContext& ctx, const Tensor& x) {
  return read_params(ctx, read_request(ctx, rank_of("X", x.dims())), x.dims());
}

KILN_REGISTER_OP(resize, {.domain = "", .name = "Resize", .versions = {10, 11, 13, 18, 19}, .infer = infer_resize,
                          .compute = compute_resize, .prepare = prepare_resize}
                             .with_validate(validate_resize));
KILN_REGISTER_OP(upsample, {.domain = "", .name = "Upsample", .versions = {7, 9}, .removed_in = 10,
                            .infer = infer_resize, .compute = compute_resize, .prepare = prepare_resize}
                               .with_validate(validate_resize));

}  // namespace kiln::ops
