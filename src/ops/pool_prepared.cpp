// Prepared (fast) MaxPool, AveragePool, GlobalMaxPool and GlobalAveragePool for float32 NCHW: attributes
// parsed once, the window resolved per run without allocating, the kernels of kernels/pool/ split over the
// session's threads by (plane, row block). What they do not cover runs the reference compute: other dtypes,
// 3-D windows, MaxPool's Indices output (prepare declines it), shapes the window does not fit (the reference
// then reports the error).

#include "ops/pool_prepared.h"

#include <fmt/format.h>

#include "kernels/plane_split.h"
#include "kernels/pool/pool.h"
#include "kernels/thread_scratch.h"
#include "ops/prepared_util.h"
#include "ops/window.h"

namespace kiln::ops {
namespace {

using kernels::Pool2dShape;
using kernels::PoolKernels;

/// True when input 0 is float32 and its rank (when known) is in [min_rank, max_rank].
bool float_input_of_rank(const PrepareContext& ctx, size_t min_rank, size_t max_rank) {
  if (!ctx.has_input(0) || ctx.input(0).is_container() || ctx.input(0).dtype != DType::kFloat32) return false;
  const Shape& s = ctx.input(0).shape;
  return !s.rank_known || (s.rank() >= min_rank && s.rank() <= max_rank);
}

class WindowPoolKernel final : public PreparedKernel {
 public:
  WindowPoolKernel(const PoolKernels* k, bool is_max, WindowAttrs attrs, bool include_pad, ComputeFn reference)
      : k_(k), is_max_(is_max), attrs_(std::move(attrs)), include_pad_(include_pad), reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const size_t spatial = attrs_.kernel.size();
    if (x.dtype() != DType::kFloat32 || x.rank() != spatial + 2) return reference_(ctx);
    Pool2dShape s;
    s.count_include_pad = include_pad_;
    // A 1-D pool is a 2-D one with a single row: axis 0 of the attributes is then the width.
    const size_t w_axis = spatial - 1;
    const WindowAxis wa = resolve_window_axis(attrs_, w_axis, x.dim(2 + w_axis));
    WindowAxis ha{1, 0, 0};
    if (spatial == 2) ha = resolve_window_axis(attrs_, 0, x.dim(2));
    if (wa.out < 0 || ha.out < 0) return reference_(ctx);  // it names the problem
    s.in_w = x.dim(2 + w_axis), s.out_w = wa.out;
    s.kernel_w = attrs_.kernel[w_axis], s.stride_w = attrs_.strides[w_axis], s.dilation_w = attrs_.dilations[w_axis];
    s.pad_left = wa.pad_begin, s.pad_right = wa.pad_end;
    if (spatial == 2) {
      s.in_h = x.dim(2), s.out_h = ha.out;
      s.kernel_h = attrs_.kernel[0], s.stride_h = attrs_.strides[0], s.dilation_h = attrs_.dilations[0];
      s.pad_top = ha.pad_begin, s.pad_bottom = ha.pad_end;
    }
    Tensor& y = ctx.output(0);
    const bool dims_ok = y.rank() == x.rank() && y.dim(0) == x.dim(0) && y.dim(1) == x.dim(1) &&
                         y.dim(y.rank() - 1) == s.out_w && (spatial == 1 || y.dim(2) == s.out_h);
    if (!dims_ok) return reference_(ctx);  // inference and kernel disagree: the reference reports it
    if (y.numel() == 0) return;
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
    const float* xs = x.data<float>();
    float* ys = y.data<float>();
    const kernels::Pool2dFn fn = is_max_ ? k_->max2d : k_->avg2d;
    const size_t scratch = kernels::pool2d_scratch_floats(s);
    // The scratch holds a padded row: pads far beyond any window (a hostile model) would make it far larger
    // than the data. The reference walks only the valid taps.
    if (scratch > static_cast<size_t>(16 * (s.in_w + s.out_w) + 65536)) return reference_(ctx);
    kernels::for_plane_rows(ctx.threads(), planes, s.out_h, s.out_w * s.kernel_h * s.kernel_w,
                            [&](int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
                              float* buf = kernels::thread_scratch_floats(scratch);
                              for (int64_t p = p0; p < p1; ++p) fn(s, xs + p * in_plane, ys + p * out_plane, r0, r1, buf);
                            });
  }

  std::string describe() const override {
    std::string k = fmt::format("{}", fmt::join(attrs_.kernel, "x"));
    return fmt::format("{} {}/{} pool2d_f32_{}", is_max_ ? "maxpool" : "avgpool", k, fmt::join(attrs_.strides, "x"),
                       k_->name);
  }

 private:
  const PoolKernels* k_;
  bool is_max_;
  WindowAttrs attrs_;
  bool include_pad_;
  ComputeFn reference_;
};

std::unique_ptr<PreparedKernel> prepare_window_pool(PrepareContext& ctx, bool is_max) {
  const PoolKernels* k = kernels::pool_kernels(kernels::active_isa());
  if (!k || !float_input_of_rank(ctx, 3, 4)) return nullptr;
  if (is_max && ctx.node().outputs.size() > 1 && ctx.node().outputs[1] >= 0) return nullptr;  // Indices
  std::vector<int64_t> kernel = ctx.attr_ints("kernel_shape", {});
  if (kernel.empty() || kernel.size() > 2) return nullptr;
  if (kernel.size() == 2 && kernel[0] > 64) return nullptr;  // taller than the kernels' row list (kMaxWindowRows)
  const Shape& xs = ctx.input(0).shape;
  if (xs.rank_known && xs.rank() != kernel.size() + 2) return nullptr;  // the reference reports the mismatch
  const size_t spatial = kernel.size();
  WindowAttrs attrs = read_window_attrs(ctx, {spatial + 2, "X " + xs.str()}, std::move(kernel), true);
  const bool include_pad = !is_max && ctx.attr_int("count_include_pad", 0) != 0;
  return std::make_unique<WindowPoolKernel>(k, is_max, std::move(attrs), include_pad, reference_compute(ctx));
}

class GlobalPoolKernel final : public PreparedKernel {
 public:
  GlobalPoolKernel(const PoolKernels* k, bool is_max, ComputeFn reference)
      : k_(k), is_max_(is_max), reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || x.rank() < 3) return reference_(ctx);
    Tensor& y = ctx.output(0);
    const int64_t planes = x.dim(0) * x.dim(1);
    if (y.numel() != planes || y.rank() != x.rank()) return reference_(ctx);
    if (planes == 0) return;
    const int64_t size = x.numel() / planes;
    const float* xs = x.data<float>();
    float* ys = y.data<float>();
    const kernels::GlobalPoolFn fn = is_max_ ? k_->global_max : k_->global_avg;
    // One "row" of `size` elements per plane: items are groups of planes.
    kernels::for_plane_rows(ctx.threads(), planes, 1, size, [&](int64_t p0, int64_t p1, int64_t, int64_t) {
      fn(xs + p0 * size, ys + p0, p1 - p0, size);
    });
  }

  std::string describe() const override {
    return fmt::format("global {} global_{}pool_f32_{}", is_max_ ? "max" : "average", is_max_ ? "max" : "avg",
                       k_->name);
  }

 private:
  const PoolKernels* k_;
  bool is_max_;
  ComputeFn reference_;
};

std::unique_ptr<PreparedKernel> prepare_global_pool(PrepareContext& ctx, bool is_max) {
  const PoolKernels* k = kernels::pool_kernels(kernels::active_isa());
  if (!k || !float_input_of_rank(ctx, 3, 64)) return nullptr;
  return std::make_unique<GlobalPoolKernel>(k, is_max, reference_compute(ctx));
}

}  // namespace

std::unique_ptr<PreparedKernel> prepare_max_pool(PrepareContext& ctx) { return prepare_window_pool(ctx, true); }
std::unique_ptr<PreparedKernel> prepare_average_pool(PrepareContext& ctx) { return prepare_window_pool(ctx, false); }
std::unique_ptr<PreparedKernel> prepare_global_max_pool(PrepareContext& ctx) { return prepare_global_pool(ctx, true); }
std::unique_ptr<PreparedKernel> prepare_global_average_pool(PrepareContext& ctx) {
  return prepare_global_pool(ctx, false);
}

}  // namespace kiln::ops
