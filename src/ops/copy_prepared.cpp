// Prepared (fast) Transpose, Slice, Expand and Tile: each is one strided view of its input copied by the
// data-movement engine (kernels/copy/strided_copy.h) as bytes, for every element type but strings. The views
// are computed per run into fixed-size arrays (no allocation). Anything unusual (strings, ranks past the
// engine's, arguments the reference would reject) runs the reference compute, which also reports errors.

#include <algorithm>

#include "kernels/copy/strided_copy.h"
#include "ops/movement_prepared.h"
#include "ops/prepared_util.h"
#include "ops/slice.h"

namespace kiln::ops {

bool copy_view(KernelContext& ctx, const Tensor& x, Tensor& y, const int64_t* dims, const int64_t* src_strides,
               size_t rank, int64_t src_offset) {
  int64_t dst_strides[2 * kernels::kMaxCopyRank];
  kernels::contiguous_strides(dims, rank, dst_strides);
  const size_t elem = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data()) + src_offset * static_cast<int64_t>(elem);
  return kernels::strided_copy({y.raw_data(), dst_strides}, {src, src_strides}, dims, rank, elem, ctx.threads());
}

bool plain_bytes(const Tensor& x, const Tensor& y) {
  return x.dtype() == y.dtype() && x.dtype() != DType::kString && x.kind() == TensorKind::kTensor;
}

namespace {

using kernels::kMaxCopyRank;

/// Largest input rank these kernels take (a Tile view doubles it).
constexpr size_t kMaxRank = kMaxCopyRank;

// ---- Transpose ----

class TransposeKernel final : public PreparedKernel {
 public:
  TransposeKernel(std::vector<int64_t> perm, ComputeFn reference) : perm_(std::move(perm)), reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const size_t r = x.rank();
    if (!plain_bytes(x, y) || r > kMaxRank || (!perm_.empty() && perm_.size() != r) || y.rank() != r)
      return reference_(ctx);
    int64_t in_strides[kMaxRank], src_strides[kMaxRank], dims[kMaxRank];
    kernels::contiguous_strides(x.dims().data(), r, in_strides);
    for (size_t k = 0; k < r; ++k) {
      const auto p = static_cast<size_t>(perm_.empty() ? static_cast<int64_t>(r - 1 - k) : perm_[k]);
      dims[k] = x.dim(p);
      src_strides[k] = in_strides[p];
      if (y.dim(k) != dims[k]) return reference_(ctx);
    }
    if (!copy_view(ctx, x, y, dims, src_strides, r, 0)) reference_(ctx);
  }
  std::string describe() const override { return "transpose strided_copy"; }

 private:
  std::vector<int64_t> perm_;  // empty: reverse the axes
  ComputeFn reference_;
};

// ---- Slice ----

class SliceKernel final : public PreparedKernel {
 public:
  explicit SliceKernel(ComputeFn reference) : reference_(reference) {}
  /// Slice-1: starts, ends, axes come from attributes, read once.
  SliceKernel(ComputeFn reference, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes)
      : reference_(reference), attr_starts_(std::move(starts)), attr_ends_(std::move(ends)), attr_axes_(std::move(axes)),
        from_attributes_(true) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const size_t r = x.rank();
    if (!plain_bytes(x, y) || r > kMaxRank || y.rank() != r) return reference_(ctx);
    int64_t starts[kMaxRank], ends[kMaxRank], axes[kMaxRank], steps[kMaxRank];
    int64_t n = 0;
    if (from_attributes_) {
      n = static_cast<int64_t>(attr_starts_.size());
      if (n > static_cast<int64_t>(kMaxRank) || attr_ends_.size() != attr_starts_.size()) return reference_(ctx);
      std::copy(attr_starts_.begin(), attr_starts_.end(), starts);
      std::copy(attr_ends_.begin(), attr_ends_.end(), ends);
      if (attr_axes_.empty()) {
        for (int64_t k = 0; k < n; ++k) axes[k] = k;
      } else {
        if (attr_axes_.size() != attr_starts_.size()) return reference_(ctx);
        std::copy(attr_axes_.begin(), attr_axes_.end(), axes);
      }
      std::fill(steps, steps + n, 1);
    } else {
      n = read_small_ints(ctx.input(1), starts, kMaxRank);
      if (n < 0 || read_small_ints(ctx.input(2), ends, kMaxRank) != n) return reference_(ctx);
      if (ctx.has_input(3)) {
        if (read_small_ints(ctx.input(3), axes, kMaxRank) != n) return reference_(ctx);
      } else {
        for (int64_t k = 0; k < n; ++k) axes[k] = k;
      }
      if (ctx.has_input(4)) {
        if (read_small_ints(ctx.input(4), steps, kMaxRank) != n) return reference_(ctx);
      } else {
        std::fill(steps, steps + n, 1);
      }
    }
    int64_t first[kMaxRank] = {}, step[kMaxRank], in_strides[kMaxRank], src_strides[kMaxRank];
    bool seen[kMaxRank] = {};
    std::fill(step, step + r, 1);
    for (int64_t k = 0; k < n; ++k) {
      int64_t a = axes[k] < 0 ? axes[k] + static_cast<int64_t>(r) : axes[k];
      if (a < 0 || a >= static_cast<int64_t>(r) || seen[a] || steps[k] == 0) return reference_(ctx);  // it reports
      seen[a] = true;
      const SliceRange range = clamp_slice_axis(x.dim(static_cast<size_t>(a)), starts[k], ends[k], steps[k]);
      if (range.count != y.dim(static_cast<size_t>(a))) return reference_(ctx);
      first[a] = range.first;
      step[a] = steps[k];
    }
    for (size_t k = 0; k < r; ++k)
      if (!seen[k] && y.dim(k) != x.dim(k)) return reference_(ctx);
    if (y.numel() == 0) return;
    kernels::contiguous_strides(x.dims().data(), r, in_strides);
    int64_t offset = 0;
    for (size_t k = 0; k < r; ++k) {
      offset += first[k] * in_strides[k];
      // A step only matters (and is then smaller than the dim, so the product cannot overflow) when the axis
      // yields two or more elements; Slice accepts any int64 step.
      src_strides[k] = y.dim(k) > 1 ? step[k] * in_strides[k] : 0;
    }
    if (!copy_view(ctx, x, y, y.dims().data(), src_strides, r, offset)) reference_(ctx);
  }
  std::string describe() const override { return "slice strided_copy"; }

 private:
  ComputeFn reference_;
  std::vector<int64_t> attr_starts_, attr_ends_, attr_axes_;
  bool from_attributes_ = false;
};

// ---- Expand and Tile ----

class ExpandKernel final : public PreparedKernel {
 public:
  explicit ExpandKernel(ComputeFn reference) : reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const size_t r = y.rank();
    if (!plain_bytes(x, y) || r > kMaxRank || x.rank() > r) return reference_(ctx);
    int64_t in_strides[kMaxRank], src_strides[kMaxRank];
    kernels::contiguous_strides(x.dims().data(), x.rank(), in_strides);
    const size_t lead = r - x.rank();
    for (size_t k = 0; k < r; ++k) {
      src_strides[k] = 0;
      if (k < lead) continue;
      const int64_t d = x.dim(k - lead);
      if (d != 1 && d != y.dim(k)) return reference_(ctx);
      if (d != 1) src_strides[k] = in_strides[k - lead];
    }
    if (!copy_view(ctx, x, y, y.dims().data(), src_strides, r, 0)) reference_(ctx);
  }
  std::string describe() const override { return "expand strided_copy"; }

 private:
  ComputeFn reference_;
};

class TileKernel final : public PreparedKernel {
 public:
  explicit TileKernel(ComputeFn reference) : reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const size_t r = x.rank();
    int64_t reps[kMaxRank];
    if (!plain_bytes(x, y) || r > kMaxRank || y.rank() != r || read_small_ints(ctx.input(1), reps, kMaxRank) != static_cast<int64_t>(r))
      return reference_(ctx);
    // Output axis k as (repeat, position) pairs: y[.., q * d_k + i, ..] = x[.., i, ..].
    int64_t in_strides[kMaxRank], out_strides[kMaxRank];
    int64_t dims[2 * kMaxRank], dst_strides[2 * kMaxRank], src_strides[2 * kMaxRank];
    kernels::contiguous_strides(x.dims().data(), r, in_strides);
    kernels::contiguous_strides(y.dims().data(), r, out_strides);
    for (size_t k = 0; k < r; ++k) {
      int64_t tiled = 0;
      if (reps[k] < 0 || __builtin_mul_overflow(x.dim(k), reps[k], &tiled) || y.dim(k) != tiled) return reference_(ctx);
      dims[2 * k] = reps[k], dims[2 * k + 1] = x.dim(k);
      dst_strides[2 * k] = x.dim(k) * out_strides[k], dst_strides[2 * k + 1] = out_strides[k];
      src_strides[2 * k] = 0, src_strides[2 * k + 1] = in_strides[k];
    }
    if (y.numel() == 0) return;
    const size_t elem = dtype_size(x.dtype());
    if (!kernels::strided_copy({y.raw_data(), dst_strides}, {x.raw_data(), src_strides}, dims, 2 * r, elem, ctx.threads()))
      reference_(ctx);
  }
  std::string describe() const override { return "tile strided_copy"; }

 private:
  ComputeFn reference_;
};

}  // namespace

std::unique_ptr<PreparedKernel> prepare_transpose(PrepareContext& ctx) {
  if (!movable_input(ctx)) return nullptr;
  std::vector<int64_t> perm = ctx.attr_ints("perm", {});
  std::vector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(perm.size()) || seen[static_cast<size_t>(p)]) return nullptr;
    seen[static_cast<size_t>(p)] = true;
  }
  return std::make_unique<TransposeKernel>(std::move(perm), reference_compute(ctx));
}

std::unique_ptr<PreparedKernel> prepare_slice(PrepareContext& ctx) {
  if (!movable_input(ctx)) return nullptr;
  if (ctx.opset() < 10)
    return std::make_unique<SliceKernel>(reference_compute(ctx), ctx.attr_ints("starts", {}), ctx.attr_ints("ends", {}),
                                         ctx.attr_ints("axes", {}));
  return std::make_unique<SliceKernel>(reference_compute(ctx));
}

std::unique_ptr<PreparedKernel> prepare_expand(PrepareContext& ctx) {
  if (!movable_input(ctx)) return nullptr;
  return std::make_unique<ExpandKernel>(reference_compute(ctx));
}

std::unique_ptr<PreparedKernel> prepare_tile(PrepareContext& ctx) {
  if (!movable_input(ctx) || ctx.opset() < 6) return nullptr;  // Tile-1's (tiles, axis) form stays with the reference
  return std::make_unique<TileKernel>(reference_compute(ctx));
}

}  // namespace kiln::ops
