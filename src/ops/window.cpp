#include "ops/window.h"

#include <algorithm>

#include "base/checked.h"

namespace kiln::ops {

AutoPad parse_auto_pad(const NodeContext& ctx) {
  const std::string s = ctx.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  ctx.fail("auto_pad '{}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", s);
}

namespace {

std::vector<int64_t> per_dim(const NodeContext& ctx, const char* name, const RankOf& of, AxisSpan span,
                             int64_t fallback, int64_t min) {
  const size_t n = axis_count(span, of.rank);
  std::vector<int64_t> v = ctx.attr_ints(name, std::vector<int64_t>(n, fallback));
  if (v.empty()) v.assign(n, fallback);  // an empty list means the default, as exporters sometimes write it
  check_axis_attr(ctx, name, v.size(), span, of);
  for (int64_t x : v)
    if (x < min) ctx.fail("attribute '{}' has value {}; it must be >= {}", name, x, min);
  return v;
}

}  // namespace

std::vector<int64_t> kernel_shape_attr(const NodeContext& ctx, const RankOf& of) {
  std::vector<int64_t> k = ctx.attr_ints("kernel_shape", {});
  if (!k.empty()) check_axis_attr(ctx, "kernel_shape", k.size(), AxisSpan::kSpatial, of);
  return k;
}

WindowAttrs read_window_attrs(const NodeContext& ctx, const RankOf& of, std::vector<int64_t> kernel,
                              bool with_ceil_mode) {
  if (of.rank < 3) ctx.fail("{} must have rank >= 3 (N, C, spatial...)", of.what);
  WindowAttrs a;
  a.auto_pad = parse_auto_pad(ctx);
  if (!kernel.empty()) {
    // A kernel from the weights fits by construction; one from kernel_shape is checked here as well as by
    // kernel_shape_attr, so that no caller can hand a short list to the loops below.
    check_axis_attr(ctx, "kernel_shape", kernel.size(), AxisSpan::kSpatial, of);
    for (int64_t k : kernel)
      if (k <= 0) ctx.fail("kernel dims must be positive, got {}", dims_str(kernel));
  }
  a.kernel = std::move(kernel);
  a.strides = per_dim(ctx, "strides", of, AxisSpan::kSpatial, 1, 1);
  a.dilations = per_dim(ctx, "dilations", of, AxisSpan::kSpatial, 1, 1);
  a.pads = per_dim(ctx, "pads", of, AxisSpan::kSpatialTwice, 0, 0);
  if (with_ceil_mode) a.ceil_mode = ctx.attr_int("ceil_mode", 0) != 0;
  return a;
}

int64_t WindowGeometry::in_size() const { return checked_numel(in); }
int64_t WindowGeometry::out_size() const { return checked_numel(out); }
int64_t WindowGeometry::kernel_size() const { return checked_numel(kernel); }

WindowAxis resolve_window_axis(const WindowAttrs& a, size_t i, int64_t in) {
  const size_t n = a.strides.size();
  const int64_t s = a.strides[i];
  const int64_t eff_k = checked_add(checked_mul(a.kernel[i] - 1, a.dilations[i], "dilated kernel"), 1);
  switch (a.auto_pad) {
    case AutoPad::kSameUpper:
    case AutoPad::kSameLower: {
      const int64_t out = ceil_div(in, s);
      const int64_t need = checked_add(checked_mul(std::max<int64_t>(out - 1, 0), s), eff_k);
      const int64_t total = std::max<int64_t>(0, need - in);
      const int64_t begin = a.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      return {out, begin, total - begin};
    }
    case AutoPad::kValid:
      if (in < eff_k) return {-1, 0, 0};
      return {(in - eff_k) / s + 1, 0, 0};
    case AutoPad::kNotSet: break;
  }
  const int64_t pb = a.pads[i], pe = a.pads[n + i];
  const int64_t span = checked_add(checked_add(in, pb), pe) - eff_k;
  if (span < 0) return {-1, pb, pe};
  int64_t out = (a.ceil_mode ? ceil_div(span, s) : span / s) + 1;
  // With ceil_mode, a last window that would start in the end padding is dropped (ONNX and PyTorch agree).
  if (a.ceil_mode && (out - 1) * s >= in + pb) --out;
  return {out, pb, pe};
}

WindowGeometry resolve_window(const NodeContext& ctx, const WindowAttrs& a, const std::vector<int64_t>& in_spatial) {
  const size_t n = in_spatial.size();
  KILN_ASSERT(a.kernel.size() == n && a.strides.size() == n);
  WindowGeometry g;
  g.in = in_spatial;
  g.kernel = a.kernel;
  g.strides = a.strides;
  g.dilations = a.dilations;
  for (size_t i = 0; i < n; ++i) {
    WindowAxis r = resolve_window_axis(a, i, in_spatial[i]);
    if (r.out < 0)
      ctx.bad_input("spatial dim {} of the input has size {}, smaller than the window (kernel {}, dilation {}, pads {})",
                    i, in_spatial[i], a.kernel[i], a.dilations[i], dims_str(a.pads));
    g.out.push_back(r.out);
    g.pad_begin.push_back(r.pad_begin);
    g.pad_end.push_back(r.pad_end);
  }
  return g;
}

std::vector<Dim> window_output_dims(const NodeContext& ctx, const WindowAttrs& a, const Shape& x_shape) {
  const size_t n = x_shape.rank() - 2;
  std::vector<Dim> out(n);
  if (a.kernel.size() != n) return out;  // kernel unknown: sizes unknown
  for (size_t i = 0; i < n; ++i) {
    const Dim& d = x_shape.dims[2 + i];
    if (!d.is_known()) continue;
    WindowAxis r = resolve_window_axis(a, i, d.value());
    if (r.out < 0)
      ctx.bad_input("spatial dim {} of the input {} is smaller than the window (kernel {}, dilation {}, pads {})", i,
               x_shape.str(), a.kernel[i], a.dilations[i], dims_str(a.pads));
    out[i] = Dim(r.out);
  }
  return out;
}

}  // namespace kiln::ops
