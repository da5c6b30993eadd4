// Prepared (fast) Resize and Upsample for float32, nearest and linear (bilinear on H and W), every
// coordinate_transformation_mode and nearest_mode. The index/weight tables depend on the input shape and on
// the scales/sizes/roi inputs; they are built on first use with the reference's coordinate rules (in double,
// then stored as int32 indices and float weights) and cached inside the prepared kernel, keyed by the input
// dims and the bytes of those inputs, so a steady-state run of a fixed shape allocates nothing. Work is split
// over (plane, row block) on the session's threads.
//
// Left to the reference compute: other dtypes, cubic, antialias, resizing any axis but the last two, inputs
// whose tables do not fit int32 indices; the reference also reports every invalid input.

#include "ops/resize_prepared.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "kernels/plane_split.h"
#include "kernels/resize/resize.h"
#include "kernels/thread_scratch.h"
#include "ops/prepared_util.h"
#include "ops/resize.h"

namespace kiln::ops {
namespace {

using resize::CoordMode;
using resize::Mode;
using resize::NearestMode;

// ---- tables ----

/// The reference's source coordinate of output position o (resize_kernel.cpp, same formulas).
double source_coordinate(const resize::Params& p, const resize::Axis& a, int64_t o) {
  const double x = static_cast<double>(o), in = static_cast<double>(a.in);
  switch (p.coord) {
    case CoordMode::kHalfPixel: return (x + 0.5) / a.scale - 0.5;
    case CoordMode::kHalfPixelSymmetric: {
      const double offset = in / 2 * (1 - static_cast<double>(a.out) / a.out_width);
      return offset + (x + 0.5) / a.scale - 0.5;
    }
    case CoordMode::kPytorchHalfPixel: return a.out_width > 1 ? (x + 0.5) / a.scale - 0.5 : 0.0;
    case CoordMode::kAlignCorners: return a.out_width == 1 ? 0.0 : x * (in - 1) / (a.out_width - 1);
    case CoordMode::kAsymmetric: return x / a.scale;
    case CoordMode::kTfCropAndResize: {
      const double span = (a.roi_end - a.roi_start) * (in - 1), start = a.roi_start * (in - 1);
      return a.out_width == 1 ? start + span / 2 : start + x * span / (a.out_width - 1);
    }
  }
  return 0;
}

int64_t nearest_index(const resize::Params& p, const resize::Axis& a, double x) {
  const double fl = std::floor(x), frac = x - fl;
  switch (p.nearest) {
    case NearestMode::kRoundPreferFloor: return static_cast<int64_t>(frac <= 0.5 ? fl : fl + 1);
    case NearestMode::kRoundPreferCeil: return static_cast<int64_t>(frac < 0.5 ? fl : fl + 1);
    case NearestMode::kFloor: return static_cast<int64_t>(fl);
    case NearestMode::kCeil: return static_cast<int64_t>(std::ceil(x));
    case NearestMode::kSimple: return static_cast<int64_t>(a.scale < 1 ? std::ceil(x) : std::trunc(x));
  }
  return 0;
}

/// One axis: per output position, two clamped source indices and their weights (nearest: one, weight 1), and
/// the positions [begin, end) that lie inside the input (all of them but for tf_crop_and_resize).
struct AxisTable {
  std::vector<int32_t> i0, i1;
  std::vector<float> w0, w1;
  int64_t begin = 0, end = 0;
  bool ok = true;  ///< false when the inside positions are not one run (then the reference runs)
};

AxisTable build_axis(const resize::Params& p, const resize::Axis& a) {
  AxisTable t;
  const auto n = static_cast<size_t>(a.out);
  t.i0.resize(n), t.i1.resize(n), t.w0.resize(n), t.w1.resize(n);
  int64_t first_inside = -1, last_inside = -1, inside = 0;
  const double bound = 4.0 * static_cast<double>(a.in) + 16;
  auto clamp_index = [&](int64_t i) { return static_cast<int32_t>(std::clamp<int64_t>(i, 0, a.in - 1)); };
  for (int64_t o = 0; o < a.out; ++o) {
    double x = source_coordinate(p, a, o);
    const bool outside = p.coord == CoordMode::kTfCropAndResize && !(x >= 0 && x <= static_cast<double>(a.in - 1));
    if (!outside) {
      if (first_inside < 0) first_inside = o;
      last_inside = o;
      ++inside;
    }
    x = std::isnan(x) ? 0.0 : std::clamp(x, -bound, static_cast<double>(a.in) + bound);
    const auto k = static_cast<size_t>(o);
    if (p.mode == Mode::kNearest) {
      t.i0[k] = t.i1[k] = clamp_index(nearest_index(p, a, x));
      t.w0[k] = 1, t.w1[k] = 0;
      continue;
    }
    // The left neighbour is floor(x), or x - 1 when x is whole, so the ratio lies in (0, 1].
    const double fl = std::floor(x), left = x == fl ? fl - 1 : fl, ratio = x - left;
    const auto src = static_cast<int64_t>(left);
    double w0 = 1 - ratio, w1 = ratio;
    if (p.exclude_outside) {
      if (src < 0 || src >= a.in) w0 = 0;
      if (src + 1 < 0 || src + 1 >= a.in) w1 = 0;
      if (const double sum = w0 + w1; sum != 0) w0 /= sum, w1 /= sum;
    }
    t.i0[k] = clamp_index(src), t.i1[k] = clamp_index(src + 1);
    t.w0[k] = static_cast<float>(w0), t.w1[k] = static_cast<float>(w1);
  }
  t.begin = first_inside < 0 ? 0 : first_inside;
  t.end = first_inside < 0 ? 0 : last_inside + 1;
  t.ok = inside == t.end - t.begin;
  return t;
}

/// The tables of one input shape (and scales/sizes/roi), or `fast` false when the reference must run.
struct Plan {
  bool fast = false;
  Mode mode = Mode::kNearest;
  std::vector<int64_t> out_dims;
  AxisTable rows, cols;
  kernels::ResizeTables tables;
};

/// True when the reference leaves axis `a` alone (resize_kernel.cpp's is_identity).
bool identity_axis(const resize::Params& p, const resize::Axis& a) {
  if (a.in != a.out || a.scale != 1) return false;
  return p.coord != CoordMode::kTfCropAndResize || (a.roi_start == 0 && a.roi_end == 1);
}

std::shared_ptr<const Plan> build_plan(const KernelContext& ctx, const Tensor& x) {
  auto plan = std::make_shared<Plan>();
  const resize::Params p = resize::params_for_run(ctx, x);  // fails as the reference would
  const size_t r = x.rank();
  for (const resize::Axis& a : p.axes) plan->out_dims.push_back(a.out);
  if (p.mode == Mode::kCubic || p.antialias) return plan;
  for (size_t i = 0; i + 2 < r; ++i)
    if (!identity_axis(p, p.axes[i])) return plan;
  const resize::Axis &h = p.axes[r - 2], &w = p.axes[r - 1];
  constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();
  if (h.in <= 0 || w.in <= 0 || h.in > kMaxIndex || w.in > kMaxIndex) return plan;
  plan->mode = p.mode;
  plan->rows = build_axis(p, h);
  plan->cols = build_axis(p, w);
  if (!plan->rows.ok || !plan->cols.ok) return plan;
  kernels::ResizeTables& t = plan->tables;
  t.in_h = h.in, t.in_w = w.in, t.out_h = h.out, t.out_w = w.out;
  t.x0 = plan->cols.i0.data(), t.x1 = plan->cols.i1.data(), t.wx0 = plan->cols.w0.data(), t.wx1 = plan->cols.w1.data();
  t.y0 = plan->rows.i0.data(), t.y1 = plan->rows.i1.data(), t.wy0 = plan->rows.w0.data(), t.wy1 = plan->rows.w1.data();
  t.row_begin = plan->rows.begin, t.row_end = plan->rows.end;
  t.col_begin = plan->cols.begin, t.col_end = plan->cols.end;
  t.extrapolation = static_cast<float>(p.extrapolation_value);
  t.cols_sorted = true;
  for (size_t i = 0; i < plan->cols.i0.size(); ++i)
    t.cols_sorted = t.cols_sorted && plan->cols.i1[i] >= plan->cols.i0[i] &&
                    (i == 0 || (plan->cols.i0[i] >= plan->cols.i0[i - 1] && plan->cols.i1[i] >= plan->cols.i1[i - 1]));
  plan->fast = true;
  return plan;
}

// ---- the cache of plans ----

/// What the tables depend on: input 0's dims and the bytes of the roi/scales/sizes inputs.
struct Key {
  static constexpr size_t kWords = 64;
  size_t n = 0;
  std::array<uint64_t, kWords> w{};
  bool push(uint64_t v) {
    if (n == kWords) return false;
    w[n++] = v;
    return true;
  }
  bool operator==(const Key& o) const { return n == o.n && std::memcmp(w.data(), o.w.data(), n * sizeof(uint64_t)) == 0; }
};

/// False when the key does not fit (then the plan is built for this run only).
bool make_key(const KernelContext& ctx, const Tensor& x, Key& k) {
  bool ok = k.push(x.rank());
  for (int64_t d : x.dims()) ok = ok && k.push(static_cast<uint64_t>(d));
  for (size_t i = 1; i < ctx.num_inputs() && i < 4; ++i) {
    if (!ctx.has_input(i)) {
      ok = ok && k.push(~uint64_t{0});
      continue;
    }
    const Tensor& t = ctx.input(i);
    ok = ok && k.push(static_cast<uint64_t>(t.dtype())) && k.push(t.nbytes());
    const auto* bytes = static_cast<const unsigned char*>(t.raw_data());
    for (size_t b = 0; ok && b < t.nbytes(); b += 8) {
      uint64_t v = 0;
      std::memcpy(&v, bytes + b, std::min<size_t>(8, t.nbytes() - b));
      ok = k.push(v);
    }
  }
  return ok;
}

class ResizeKernel final : public PreparedKernel {
 public:
  ResizeKernel(const kernels::ResizeKernels* k, ComputeFn reference, std::string mode)
      : k_(k), reference_(reference), mode_(std::move(mode)) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || x.rank() < 2) return reference_(ctx);
    Key key;
    std::shared_ptr<const Plan> plan;
    const bool keyed = make_key(ctx, x, key);
    if (keyed) plan = find(key);
    if (!plan) {
      plan = build_plan(ctx, x);
      if (keyed) insert(key, plan);
    }
    Tensor& y = ctx.output(0);
    if (!plan->fast || y.dims() != plan->out_dims) return reference_(ctx);
    if (y.numel() == 0) return;
    const kernels::ResizeTables& t = plan->tables;
    const int64_t planes = x.numel() / (t.in_h * t.in_w);
    const float* xs = x.data<float>();
    float* ys = y.data<float>();
    const kernels::ResizeFn fn = plan->mode == Mode::kLinear ? k_->linear : k_->nearest;
    const size_t scratch = kernels::resize_scratch_floats(t);
    kernels::for_plane_rows(ctx.threads(), planes, t.out_h, t.out_w, [&](int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
      float* buf = kernels::thread_scratch_floats(scratch);
      for (int64_t p = p0; p < p1; ++p) fn(t, xs + p * t.in_h * t.in_w, ys + p * t.out_h * t.out_w, r0, r1, buf);
    });
  }

  std::string describe() const override { return fmt::format("resize {} resize_{}_f32_{}", mode_, mode_, k_->name); }

 private:
  std::shared_ptr<const Plan> find(const Key& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, plan] : cache_)
      if (plan && k == key) return plan;
    return nullptr;
  }
  void insert(const Key& key, std::shared_ptr<const Plan> plan) const {
    std::lock_guard<std::mutex> lock(mu_);
    cache_[next_] = {key, std::move(plan)};
    next_ = (next_ + 1) % cache_.size();
  }

  const kernels::ResizeKernels* k_;
  ComputeFn reference_;
  std::string mode_;
  // A few shapes' tables (a session usually runs one or two shapes), replaced oldest first.
  mutable std::mutex mu_;
  mutable std::array<std::pair<Key, std::shared_ptr<const Plan>>, 4> cache_;
  mutable size_t next_ = 0;
};

}  // namespace

std::unique_ptr<PreparedKernel> prepare_resize(PrepareContext& ctx) {
  const kernels::ResizeKernels* k = kernels::resize_kernels(kernels::active_isa());
  if (!k || !ctx.has_input(0) || ctx.input(0).is_container() || ctx.input(0).dtype != DType::kFloat32) return nullptr;
  const Shape& xs = ctx.input(0).shape;
  if (xs.rank_known && xs.rank() < 2) return nullptr;
  const std::string mode = ctx.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear") return nullptr;  // cubic (and invalid modes) stay with the reference
  if (ctx.attr_int("antialias", 0) != 0) return nullptr;
  return std::make_unique<ResizeKernel>(k, reference_compute(ctx), mode);
}

}  // namespace kiln::ops
