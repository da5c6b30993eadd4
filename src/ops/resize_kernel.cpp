// Separable resampling for Resize/Upsample. Every mode ONNX defines is a product of 1-D filters (nearest
// picks one tap, linear two, cubic four, antialiased filters widen with 1/scale), so the kernel resizes one
// axis at a time: for each output position along the axis it builds a small table of (input index,
// weight) taps once, then applies it across all other positions. Intermediate results stay in double, so
// integer outputs are rounded once, at the end.
//
// The tap rules follow the ONNX reference implementation: the source coordinate x_original comes from
// the coordinate transformation mode; the "left" neighbour is floor(x_original), or x_original - 1 when it
// is a whole number (so the ratio lies in (0, 1]); taps outside the input are clamped to the edge, or
// with exclude_outside dropped and the weights renormalised.
//
// align_corners, pytorch_half_pixel and tf_crop_and_resize divide by the *fractional* output width
// (in * scale) when a scale does not divide the input evenly, as onnx.reference and the ONNX backend test
// data do (test_resize_downsample_scales_linear_align_corners). onnxruntime uses the integer output length
// there instead; the two agree whenever sizes are given or in * scale is a whole number.

#include <algorithm>
#include <cmath>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/resize.h"
#include "ops/shape_util.h"

namespace kiln::ops::resize {
namespace {

struct Taps {
  int64_t per_output = 1;
  std::vector<int64_t> index;   // out * per_output
  std::vector<double> weight;   // out * per_output
  std::vector<uint8_t> outside; // per output: tf_crop_and_resize position outside the input
};

double source_coordinate(const Params& p, const Axis& a, int64_t x) {
  const double xr = static_cast<double>(x);
  const double in = static_cast<double>(a.in);
  switch (p.coord) {
    case CoordMode::kHalfPixel: return (xr + 0.5) / a.scale - 0.5;
    case CoordMode::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(a.out) / a.out_width;
      const double offset = in / 2 * (1 - adjustment);
      return offset + (xr + 0.5) / a.scale - 0.5;
    }
    case CoordMode::kPytorchHalfPixel: return a.out_width > 1 ? (xr + 0.5) / a.scale - 0.5 : 0.0;
    case CoordMode::kAlignCorners: return a.out_width == 1 ? 0.0 : xr * (in - 1) / (a.out_width - 1);
    case CoordMode::kAsymmetric: return xr / a.scale;
    case CoordMode::kTfCropAndResize: {
      const double span = (a.roi_end - a.roi_start) * (in - 1);
      const double start = a.roi_start * (in - 1);
      return a.out_width == 1 ? start + span / 2 : start + xr * span / (a.out_width - 1);
    }
  }
  return 0;
}

int64_t nearest_index(const Params& p, const Axis& a, double x) {
  const double fl = std::floor(x);
  const double frac = x - fl;
  switch (p.nearest) {
    case NearestMode::kRoundPreferFloor: return static_cast<int64_t>(frac <= 0.5 ? fl : fl + 1);
    case NearestMode::kRoundPreferCeil: return static_cast<int64_t>(frac < 0.5 ? fl : fl + 1);
    case NearestMode::kFloor: return static_cast<int64_t>(fl);
    case NearestMode::kCeil: return static_cast<int64_t>(std::ceil(x));
    case NearestMode::kSimple: return static_cast<int64_t>(a.scale < 1 ? std::ceil(x) : std::trunc(x));
  }
  return 0;
}

/// Keys' cubic convolution kernel with coefficient a, at distance d.
double cubic_kernel(double d, double a) {
  d = std::abs(d);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

Taps build_taps(const Params& p, const Axis& a) {
  Taps t;
  t.outside.assign(static_cast<size_t>(a.out), 0);
  // Filter support: taps at offsets [first, first + count) from the left neighbour. Antialiasing stretches
  // the filter by 1/scale when downsampling.
  const double s = p.antialias ? std::min(a.scale, 1.0) : 1.0;
  int64_t first = 0;
  if (p.mode == Mode::kLinear) first = p.antialias ? static_cast<int64_t>(std::floor(-1 / s)) + 1 : 0;
  if (p.mode == Mode::kCubic) first = p.antialias ? static_cast<int64_t>(std::floor(-2 / s)) + 1 : -1;
  t.per_output = p.mode == Mode::kNearest ? 1 : 2 - 2 * first;
  const size_t n = static_cast<size_t>(checked_mul(a.out, t.per_output, "Resize filter table"));
  t.index.resize(n);
  t.weight.resize(n);
  for (int64_t o = 0; o < a.out; ++o) {
    double x = source_coordinate(p, a, o);
    int64_t* idx = &t.index[static_cast<size_t>(o * t.per_output)];
    double* w = &t.weight[static_cast<size_t>(o * t.per_output)];
    if (p.coord == CoordMode::kTfCropAndResize && !(x >= 0 && x <= static_cast<double>(a.in - 1)))
      t.outside[static_cast<size_t>(o)] = 1;
    // A coordinate far outside the input (a wild RoI) reads only edge or excluded taps however far it is;
    // bounding it keeps the integer conversions below defined.
    const double bound = 4.0 * static_cast<double>(a.in) + 16;
    x = std::isnan(x) ? 0.0 : std::clamp(x, -bound, static_cast<double>(a.in) + bound);
    if (p.mode == Mode::kNearest) {
      idx[0] = std::clamp<int64_t>(nearest_index(p, a, x), 0, a.in - 1);
      w[0] = 1;
      continue;
    }
    const double fl = std::floor(x);
    const double left = x == fl ? fl - 1 : fl;
    const double ratio = x - left;  // in (0, 1]
    double sum = 0;
    for (int64_t k = 0; k < t.per_output; ++k) {
      const int64_t offset = first + k;
      const double d = (static_cast<double>(offset) - ratio) * s;
      double wk = p.mode == Mode::kLinear ? std::max(0.0, 1 - std::abs(d)) : cubic_kernel(d, p.cubic_a);
      const int64_t src = static_cast<int64_t>(left) + offset;
      if (p.exclude_outside && (src < 0 || src >= a.in)) wk = 0;
      idx[k] = std::clamp<int64_t>(src, 0, a.in - 1);
      w[k] = wk;
      sum += wk;
    }
    // Antialiased and exclude_outside filters are renormalised; the plain ones already sum to 1.
    if ((p.antialias || p.exclude_outside) && sum != 0)
      for (int64_t k = 0; k < t.per_output; ++k) w[k] /= sum;
  }
  return t;
}

/// Resamples `src` ([outer, a.in, inner]) along the middle axis into [outer, a.out, inner].
std::vector<double> resample_axis(const Params& p, const Axis& a, const std::vector<double>& src, int64_t outer,
                                  int64_t inner) {
  const Taps t = build_taps(p, a);
  std::vector<double> dst(static_cast<size_t>(checked_mul(checked_mul(outer, a.out), inner, "Resize output")));
  for (int64_t o = 0; o < outer; ++o) {
    const double* in = src.data() + o * a.in * inner;
    double* out = dst.data() + o * a.out * inner;
    for (int64_t j = 0; j < a.out; ++j) {
      double* row = out + j * inner;
      if (t.outside[static_cast<size_t>(j)]) {
        std::fill(row, row + inner, p.extrapolation_value);
        continue;
      }
      const int64_t* idx = &t.index[static_cast<size_t>(j * t.per_output)];
      const double* w = &t.weight[static_cast<size_t>(j * t.per_output)];
      std::fill(row, row + inner, 0.0);
      for (int64_t k = 0; k < t.per_output; ++k) {
        if (w[k] == 0) continue;
        const double* col = in + idx[k] * inner;
        for (int64_t i = 0; i < inner; ++i) row[i] += w[k] * col[i];
      }
    }
  }
  return dst;
}

bool is_identity(const Params& p, const Axis& a) {
  if (a.in != a.out || a.scale != 1) return false;
  return p.coord != CoordMode::kTfCropAndResize || (a.roi_start == 0 && a.roi_end == 1);
}

}  // namespace

void run(const NodeContext& ctx, const Params& p, const Tensor& x, Tensor& y) {
  if (y.numel() == 0) return;
  for (size_t i = 0; i < p.axes.size(); ++i) {
    const Axis& a = p.axes[i];
    if (a.in == 0) ctx.bad_input("cannot resize axis {} of length 0 to length {}", i, a.out);
    // An antialiased filter spans 1/scale input pixels; past the whole input that only burns time.
    if (p.antialias && p.mode != Mode::kNearest && a.scale < 1 && 1 / a.scale > 4.0 * static_cast<double>(a.in) + 16)
      ctx.bad_input("scale {} on axis {} (length {}) is too small to antialias", a.scale, i, a.in);
  }
  auto body = [&]<typename T>() {
    const T* in = x.data<T>();
    std::vector<double> buf(static_cast<size_t>(x.numel()));
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = to_double(in[i]);
    std::vector<int64_t> dims = x.dims();
    for (size_t axis = 0; axis < p.axes.size(); ++axis) {
      const Axis& a = p.axes[axis];
      if (is_identity(p, a)) continue;
      const int64_t outer = product(dims, 0, axis), inner = product(dims, axis + 1, dims.size());
      buf = resample_axis(p, a, buf, outer, inner);
      dims[axis] = a.out;
    }
    T* out = y.data<T>();
    for (size_t i = 0; i < buf.size(); ++i) out[i] = from_double_rounded<T>(buf[i]);
  };
  if (x.dtype() == DType::kBool && p.mode == Mode::kNearest) body.template operator()<bool>();
  else visit_numeric(x.dtype(), body, ctx.node().op_type.c_str());
}

}  // namespace kiln::ops::resize
