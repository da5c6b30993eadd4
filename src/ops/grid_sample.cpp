// GridSample (16: 4-D, bilinear/nearest/bicubic; 20: N-d, linear/nearest/cubic; 22: bfloat16) and
// AffineGrid (20), the pair behind spatial transformer networks, with PyTorch's semantics.
//
// GridSample maps each grid value from [-1, 1] to a pixel coordinate (align_corners decides whether ±1 are
// corner pixel centres or corner edges); nearest rounds half to even first; padding_mode then moves
// out-of-range coordinates (border: clamp, reflection: mirror at the borders) and decides what taps
// outside the input read (zeros: 0). N-d interpolation is the product of 1-D filters, one per spatial dim.

#include <cmath>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Padding { kZeros, kBorder, kReflection };

Mode grid_mode(const NodeContext& ctx) {
  const bool new_names = ctx.opset() >= 20;
  const std::string m = ctx.attr_string("mode", new_names ? "linear" : "bilinear");
  if (m == "nearest") return Mode::kNearest;
  if (m == (new_names ? "linear" : "bilinear")) return Mode::kLinear;
  if (m == (new_names ? "cubic" : "bicubic")) return Mode::kCubic;
  ctx.fail("mode must be {} at opset {}, got '{}'", new_names ? "linear, nearest or cubic" : "bilinear, nearest or bicubic",
           ctx.opset(), m);
}

Padding grid_padding(const NodeContext& ctx) {
  const std::string p = ctx.attr_string("padding_mode", "zeros");
  if (p == "zeros") return Padding::kZeros;
  if (p == "border") return Padding::kBorder;
  if (p == "reflection") return Padding::kReflection;
  ctx.fail("padding_mode must be zeros, border or reflection, got '{}'", p);
}

void infer_grid_sample(InferContext& ctx) {
  grid_mode(ctx);
  grid_padding(ctx);
  const Shape& x = ctx.input_shape(0);
  const Shape& g = ctx.input_shape(1);
  if (!dtype_is_float(ctx.input_type(1))) ctx.fail("grid must be a float type, not {}", dtype_name(ctx.input_type(1)));
  if (x.rank_known && x.rank() < 3) ctx.fail("X must be (N, C, D1, ...), got {}", x.str());
  if (ctx.opset() < 20 && x.rank_known && x.rank() != 4) ctx.fail("X must be 4-D before opset 20, got {}", x.str());
  if (x.rank_known && g.rank_known) {
    if (g.rank() != x.rank()) ctx.fail("grid {} must have the rank of X {}", g.str(), x.str());
    const Dim& last = g.dims.back();
    if (last.is_known() && last.value() != static_cast<int64_t>(x.rank()) - 2)
      ctx.fail("grid's last dim must be {} (the spatial rank), got {}", x.rank() - 2, last.value());
  }
  if (!g.rank_known) {
    ctx.set_output(0, ctx.input_type(0), x.rank_known ? Shape(std::vector<Dim>(x.rank(), Dim())) : Shape::unknown_rank());
    return;
  }
  std::vector<Dim> out;
  out.push_back(x.rank_known ? x.dims[0] : g.dims[0]);
  out.push_back(x.rank_known ? x.dims[1] : Dim());
  for (size_t i = 1; i + 1 < g.rank(); ++i) out.push_back(g.dims[i]);
  ctx.set_output(0, ctx.input_type(0), Shape(out));
}

/// Mirrors x into [lo, hi] (repeatedly, as PyTorch does); a zero-width range collapses to lo.
double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (!(range > 0)) return lo;
  if (x >= lo && x <= hi) return x;
  const double d = x < lo ? lo - x : x - hi;
  const double flips = std::floor(d / range);
  const double r = d - flips * range;
  const bool even = std::fmod(flips, 2.0) == 0;
  if (x < lo) return even ? lo + r : hi - r;
  return even ? hi - r : lo + r;
}

/// Keys' cubic kernel with a = -0.75 (PyTorch's bicubic).
double cubic_weight(double d) {
  constexpr double a = -0.75;
  d = std::abs(d);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

/// The taps of one spatial dim for one sample point: input index (-1: padding zero) and weight.
struct DimTaps {
  int count = 0;
  int64_t index[4];
  double weight[4];
};

DimTaps dim_taps(Mode mode, Padding pad, bool align, double g, int64_t len) {
  DimTaps t;
  const double n = static_cast<double>(len);
  const double lo = align ? 0.0 : -0.5, hi = align ? n - 1 : n - 0.5;
  double x = align ? (g + 1) / 2 * (n - 1) : ((g + 1) * n - 1) / 2;
  if (mode == Mode::kNearest) x = std::nearbyint(x);  // half to even, like PyTorch
  if (!std::isfinite(x)) {
    // No real sample point: NaN or ±inf reads padding zeros, the nearest border pixel for an infinity
    // with border padding, and otherwise the first pixel.
    if (pad == Padding::kZeros) x = -4.0 - 2 * n;
    else if (pad == Padding::kBorder && !std::isnan(x)) x = x > 0 ? n - 1 : 0.0;
    else x = 0.0;
  } else if (mode != Mode::kCubic && (x < lo || x > hi)) {
    // PyTorch moves the sample point for nearest and linear only; cubic keeps it and pads each of its four
    // taps instead (onnx.reference moves it for cubic too, which disagrees with PyTorch and onnxruntime).
    if (pad == Padding::kBorder) x = std::clamp(x, 0.0, n - 1);
    else if (pad == Padding::kReflection) x = reflect(x, lo, hi);
  }
  // Cubic with reflection pads each tap by mirroring, which repeats with period 2 * (hi - lo), a whole
  // number: shifting x by whole periods changes nothing, so a far point is brought back next to the input.
  if (mode == Mode::kCubic && pad == Padding::kReflection && hi > lo) {
    const double period = 2 * (hi - lo);
    x -= period * std::floor((x - lo) / period);
  }
  // Further out, every tap reads padding zeros or the same edge pixel; bounding x keeps the integer
  // conversions defined.
  x = std::clamp(x, -4.0 - 2 * n, 3 * n + 4);
  auto fetch = [&](int64_t i) -> int64_t {
    if (i >= 0 && i < len) return i;
    if (pad == Padding::kZeros) return -1;
    if (pad == Padding::kBorder) return std::clamp<int64_t>(i, 0, len - 1);
    return std::clamp<int64_t>(static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi)), 0, len - 1);
  };
  if (mode == Mode::kNearest) {
    t.count = 1;
    t.index[0] = fetch(static_cast<int64_t>(x));
    t.weight[0] = 1;
    return t;
  }
  const double x0 = std::floor(x), f = x - x0;
  const int64_t i0 = static_cast<int64_t>(x0);
  if (mode == Mode::kLinear) {
    t.count = 2;
    t.index[0] = fetch(i0), t.weight[0] = 1 - f;
    t.index[1] = fetch(i0 + 1), t.weight[1] = f;
    return t;
  }
  t.count = 4;
  for (int k = 0; k < 4; ++k) {
    t.index[k] = fetch(i0 - 1 + k);
    t.weight[k] = cubic_weight(f - (k - 1));
  }
  return t;
}

void compute_grid_sample(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  const Mode mode = grid_mode(ctx);
  const Padding pad = grid_padding(ctx);
  const bool align = ctx.attr_int("align_corners", 0) != 0;
  const size_t r = x.rank() - 2;
  if (grid.rank() != x.rank() || grid.dim(grid.rank() - 1) != static_cast<int64_t>(r) || grid.dim(0) != x.dim(0))
    ctx.bad_input("grid {} does not fit X {}: expected (N, D1_out, ..., {})", dims_str(grid.dims()), dims_str(x.dims()), r);
  const int64_t n_batch = x.dim(0), channels = x.dim(1);
  const std::vector<int64_t> in_dims(x.dims().begin() + 2, x.dims().end());
  const std::vector<int64_t> in_strides = strides_of(in_dims);
  const int64_t in_plane = product(in_dims, 0, r);
  const int64_t out_plane = product(grid.dims(), 1, grid.rank() - 1);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  if (in_plane == 0) ctx.bad_input("X {} has an empty spatial dim to sample from", dims_str(x.dims()));
  std::vector<double> grid_values(static_cast<size_t>(grid.numel()));
  for (int64_t i = 0; i < grid.numel(); ++i) grid_values[static_cast<size_t>(i)] = grid.double_at(i);
  auto body = [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<DimTaps> taps(r);
    std::vector<double> acc(static_cast<size_t>(channels));
    std::vector<int> pick(r);
    for (int64_t b = 0; b < n_batch; ++b) {
      for (int64_t p = 0; p < out_plane; ++p) {
        const double* g = &grid_values[static_cast<size_t>((b * out_plane + p) * static_cast<int64_t>(r))];
        // grid lists coordinates innermost dim first: g[0] is for the last spatial dim.
        for (size_t d = 0; d < r; ++d) taps[d] = dim_taps(mode, pad, align, g[r - 1 - d], in_dims[d]);
        std::fill(acc.begin(), acc.end(), 0.0);
        std::fill(pick.begin(), pick.end(), 0);
        for (;;) {  // every combination of one tap per dim
          double w = 1;
          int64_t off = 0;
          for (size_t d = 0; d < r && off >= 0; ++d) {
            const int64_t i = taps[d].index[pick[d]];
            w *= taps[d].weight[pick[d]];
            off = i < 0 ? -1 : off + i * in_strides[d];
          }
          if (off >= 0 && w != 0)
            for (int64_t c = 0; c < channels; ++c)
              acc[static_cast<size_t>(c)] += w * to_double(in[(b * channels + c) * in_plane + off]);
          size_t d = r;
          while (d-- > 0 && ++pick[d] == taps[d].count) pick[d] = 0;
          if (d == static_cast<size_t>(-1)) break;
        }
        for (int64_t c = 0; c < channels; ++c)
          out[(b * channels + c) * out_plane + p] = from_double<T>(acc[static_cast<size_t>(c)]);
      }
    }
  };
  visit_numeric(x.dtype(), body, "GridSample");
}

// ---- AffineGrid ----

void infer_affine_grid(InferContext& ctx) {
  if (!dtype_is_float(ctx.input_type(0))) ctx.fail("theta must be a float type, not {}", dtype_name(ctx.input_type(0)));
  const DType t = ctx.input_type(0);
  const Shape& theta = ctx.input_shape(0);
  if (const Tensor* size = ctx.input_value(1)) {
    if (size->dtype() != DType::kInt64 || (size->numel() != 4 && size->numel() != 5))
      ctx.fail("size must be int64 [N, C, H, W] or [N, C, D, H, W], got {} values", size->numel());
    std::vector<int64_t> s = size->to_int64_vector();
    for (int64_t v : s)
      if (v < 0) ctx.bad_input("size must not be negative, got {}", v);
    std::vector<Dim> out{Dim(s[0])};
    for (size_t i = 2; i < s.size(); ++i) out.push_back(Dim(s[i]));
    out.push_back(Dim(static_cast<int64_t>(s.size()) - 2));
    ctx.set_output(0, t, Shape(out));
    return;
  }
  const Shape& ss = ctx.input_shape(1);
  if (ss.is_concrete() && ss.rank() == 1) {
    const int64_t n = ss.dims[0].value();
    std::vector<Dim> out{theta.rank_known && theta.rank() == 3 ? theta.dims[0] : Dim()};
    for (int64_t i = 2; i < n; ++i) out.push_back(Dim());
    out.push_back(Dim(n - 2));
    ctx.set_output(0, t, Shape(out));
    return;
  }
  ctx.set_output(0, t, Shape::unknown_rank());
}

void compute_affine_grid(KernelContext& ctx) {
  const Tensor& theta = ctx.input(0);
  const std::vector<int64_t> size = ctx.input(1).to_int64_vector();
  // Inference checks a size it can see; one fed at run time is checked here, before it is indexed.
  if (size.size() != 4 && size.size() != 5)
    ctx.bad_input("size must be [N, C, H, W] or [N, C, D, H, W], got {} values", size.size());
  const size_t r = size.size() - 2;  // 2 or 3 spatial dims
  const bool align = ctx.attr_int("align_corners", 0) != 0;
  if (theta.rank() != 3 || theta.dim(0) != size[0] || theta.dim(1) != static_cast<int64_t>(r) ||
      theta.dim(2) != static_cast<int64_t>(r) + 1)
    ctx.bad_input("theta {} must be (N, {}, {}) for size {}", dims_str(theta.dims()), r, r + 1, dims_str(size));
  // Spatial dims in tensor order (D,) H, W; grid coordinates are listed in reverse (x = W first).
  const std::vector<int64_t> spatial(size.begin() + 2, size.end());
  auto base = [&](size_t d, int64_t i) {
    const int64_t len = spatial[d];
    if (len <= 1) return 0.0;  // PyTorch's affine_grid: a single position sits at the centre
    const double n = static_cast<double>(len), k = static_cast<double>(i);
    return align ? -1 + 2 * k / (n - 1) : -1 + (2 * k + 1) / n;
  };
  Tensor& out = ctx.output(0);
  const int64_t points = product(spatial, 0, r);
  visit_float(theta.dtype(), [&]<typename T>() {
    const T* th = theta.data<T>();
    T* o = out.data<T>();
    std::vector<int64_t> idx(r, 0);
    double coord[3];
    for (int64_t b = 0; b < size[0]; ++b) {
      const T* m = th + b * static_cast<int64_t>(r * (r + 1));
      std::fill(idx.begin(), idx.end(), 0);
      for (int64_t p = 0; p < points; ++p) {
        for (size_t c = 0; c < r; ++c) coord[c] = base(r - 1 - c, idx[r - 1 - c]);  // (x, y[, z])
        for (size_t row = 0; row < r; ++row) {
          double v = to_double(m[row * (r + 1) + r]);
          for (size_t c = 0; c < r; ++c) v += to_double(m[row * (r + 1) + c]) * coord[c];
          o[(b * points + p) * static_cast<int64_t>(r) + static_cast<int64_t>(row)] = from_double<T>(v);
        }
        for (size_t d = r; d-- > 0;) {
          if (++idx[d] < spatial[d]) break;
          idx[d] = 0;
        }
      }
    }
  }, "AffineGrid");
}

}  // namespace

KILN_REGISTER_OP(grid_sample, {"", "GridSample", {16, 20, 22}, 0, infer_grid_sample, compute_grid_sample});
KILN_REGISTER_OP(affine_grid, {"", "AffineGrid", {20}, 0, infer_affine_grid, compute_affine_grid});

}  // namespace kiln::ops
