// Prepared (fast) Gather and Pad (constant mode), every element type but strings.
//   Gather: every index is checked first (the reference then reports a bad one); the copy is then one memcpy per
//     (outer position, index) of the `inner` elements after the axis: whole rows for the axis-0 embedding
//     lookup, contiguous blocks for other axes. Large gathers are split over the session's threads.
//   Pad: the output is the input copied into its interior box (the data-movement engine, which also crops for
//     negative pads) and the constant written to the 2 * rank slabs around the box, each element once.
// Pad before opset 11 (pads and value as attributes) and the reflect/edge/wrap modes run the reference.

#include <algorithm>
#include <cstring>

#include "kernels/copy/strided_copy.h"
#include "ops/movement_prepared.h"
#include "ops/prepared_util.h"

namespace kiln::ops {
namespace {

using kernels::kMaxCopyRank;

// ---- Gather ----

template <typename I> bool indices_in_range(const I* idx, int64_t n, int64_t dim) {
  for (int64_t j = 0; j < n; ++j)
    if (idx[j] < -dim || idx[j] >= dim) return false;
  return true;
}

template <typename I>
void gather_rows(const char* src, char* dst, const I* idx, int64_t outer, int64_t n, int64_t dim, size_t row_bytes,
                 kernels::ThreadPool* pool) {
  const int64_t rows = outer * n;
  auto run = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / n, j = r % n;
      const int64_t i = idx[j] < 0 ? idx[j] + dim : idx[j];
      std::memcpy(dst + static_cast<size_t>(r) * row_bytes, src + static_cast<size_t>(o * dim + i) * row_bytes, row_bytes);
    }
  };
  const int64_t bytes = rows * static_cast<int64_t>(row_bytes);
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
  if (threads <= 1 || bytes < 256 * 1024 || rows < 2) return run(0, rows);
  const int64_t items = std::min<int64_t>(rows, 4 * threads);
  const int64_t per = (rows + items - 1) / items;
  kernels::parallel_for(pool, static_cast<size_t>((rows + per - 1) / per), [&](size_t t) {
    const int64_t b = static_cast<int64_t>(t) * per;
    run(b, std::min(rows, b + per));
  });
}

class GatherKernel final : public PreparedKernel {
 public:
  GatherKernel(int64_t axis, ComputeFn reference) : axis_(axis), reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& ind = ctx.input(1);
    Tensor& y = ctx.output(0);
    const auto r = static_cast<int64_t>(data.rank());
    const int64_t a = axis_ < 0 ? axis_ + r : axis_;
    const bool index_type = ind.dtype() == DType::kInt64 || ind.dtype() == DType::kInt32;
    if (r == 0 || a < 0 || a >= r || data.dtype() == DType::kString || y.dtype() != data.dtype() || !index_type)
      return reference_(ctx);
    const auto axis = static_cast<size_t>(a);
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < axis; ++k) outer *= data.dim(k);
    for (size_t k = axis + 1; k < data.rank(); ++k) inner *= data.dim(k);
    const int64_t dim = data.dim(axis), n = ind.numel();
    if (y.numel() != outer * n * inner) return reference_(ctx);
    const bool ok = ind.dtype() == DType::kInt64 ? indices_in_range(ind.data<int64_t>(), n, dim)
                                                 : indices_in_range(ind.data<int32_t>(), n, dim);
    if (!ok) return reference_(ctx);  // it names the bad index
    if (y.numel() == 0) return;
    const size_t row_bytes = static_cast<size_t>(inner) * dtype_size(data.dtype());
    const char* src = static_cast<const char*>(data.raw_data());
    char* dst = static_cast<char*>(y.raw_data());
    if (ind.dtype() == DType::kInt64) gather_rows(src, dst, ind.data<int64_t>(), outer, n, dim, row_bytes, ctx.threads());
    else gather_rows(src, dst, ind.data<int32_t>(), outer, n, dim, row_bytes, ctx.threads());
  }
  std::string describe() const override { return "gather row copies"; }

 private:
  int64_t axis_;
  ComputeFn reference_;
};

// ---- Pad ----

class PadKernel final : public PreparedKernel {
 public:
  explicit PadKernel(ComputeFn reference) : reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const size_t r = x.rank();
    if (x.dtype() == DType::kString || y.dtype() != x.dtype() || y.rank() != r || r > kMaxCopyRank || r == 0)
      return reference_(ctx);
    int64_t pads[2 * kMaxCopyRank], begin[kMaxCopyRank] = {}, end[kMaxCopyRank] = {};
    const int64_t np = read_small_ints(ctx.input(1), pads, 2 * kMaxCopyRank);
    if (ctx.opset() >= 18 && ctx.has_input(3)) {
      int64_t axes[kMaxCopyRank];
      const int64_t na = read_small_ints(ctx.input(3), axes, kMaxCopyRank);
      if (na < 0 || np != 2 * na) return reference_(ctx);
      bool seen[kMaxCopyRank] = {};
      for (int64_t k = 0; k < na; ++k) {
        const int64_t ax = axes[k] < 0 ? axes[k] + static_cast<int64_t>(r) : axes[k];
        if (ax < 0 || ax >= static_cast<int64_t>(r) || seen[ax]) return reference_(ctx);
        seen[ax] = true;
        begin[ax] = pads[k], end[ax] = pads[k + na];
      }
    } else {
      if (np != static_cast<int64_t>(2 * r)) return reference_(ctx);
      for (size_t k = 0; k < r; ++k) begin[k] = pads[k], end[k] = pads[k + r];
    }
    // The fill value: constant_value's bytes (same dtype), or zero.
    alignas(8) unsigned char value[8] = {};
    const size_t elem = dtype_size(x.dtype());
    if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
      if (ctx.input(2).dtype() != x.dtype()) return reference_(ctx);
      std::memcpy(value, ctx.input(2).raw_data(), elem);
    }
    // The interior box: where the input lands in the output (negative pads crop the input).
    int64_t dst_begin[kMaxCopyRank], src_begin[kMaxCopyRank], count[kMaxCopyRank];
    bool interior = true;
    for (size_t k = 0; k < r; ++k) {
      if (x.dim(k) + begin[k] + end[k] != y.dim(k)) return reference_(ctx);
      dst_begin[k] = std::max<int64_t>(begin[k], 0);
      src_begin[k] = std::max<int64_t>(-begin[k], 0);
      count[k] = x.dim(k) - src_begin[k] - std::max<int64_t>(-end[k], 0);
      if (count[k] <= 0) interior = false;
    }
    if (y.numel() == 0) return;
    int64_t ys[kMaxCopyRank], xs[kMaxCopyRank];
    kernels::contiguous_strides(y.dims().data(), r, ys);
    kernels::contiguous_strides(x.dims().data(), r, xs);
    char* out = static_cast<char*>(y.raw_data());
    kernels::ThreadPool* pool = ctx.threads();
    if (!interior) {
      kernels::strided_fill({out, ys}, value, y.dims().data(), r, elem, pool);
      return;
    }
    // Slab k: axes before k inside the box, axis k before or after it, axes after k whole.
    int64_t dims[kMaxCopyRank];
    for (size_t k = 0; k < r; ++k) {
      int64_t offset = 0;
      for (size_t j = 0; j < k; ++j) dims[j] = count[j], offset += dst_begin[j] * ys[j];
      for (size_t j = k + 1; j < r; ++j) dims[j] = y.dim(j);
      dims[k] = dst_begin[k];
      kernels::strided_fill({out + offset * static_cast<int64_t>(elem), ys}, value, dims, r, elem, pool);
      dims[k] = y.dim(k) - dst_begin[k] - count[k];
      const int64_t after = offset + (dst_begin[k] + count[k]) * ys[k];
      kernels::strided_fill({out + after * static_cast<int64_t>(elem), ys}, value, dims, r, elem, pool);
    }
    int64_t dst_off = 0, src_off = 0;
    for (size_t k = 0; k < r; ++k) dst_off += dst_begin[k] * ys[k], src_off += src_begin[k] * xs[k];
    const char* in = static_cast<const char*>(x.raw_data()) + src_off * static_cast<int64_t>(elem);
    kernels::strided_copy({out + dst_off * static_cast<int64_t>(elem), ys}, {in, xs}, count, r, elem, pool);
  }
  std::string describe() const override { return "pad constant strided_copy"; }

 private:
  ComputeFn reference_;
};

}  // namespace

std::unique_ptr<PreparedKernel> prepare_gather(PrepareContext& ctx) {
  if (!movable_input(ctx)) return nullptr;
  return std::make_unique<GatherKernel>(ctx.attr_int("axis", 0), reference_compute(ctx));
}

std::unique_ptr<PreparedKernel> prepare_pad(PrepareContext& ctx) {
  if (!movable_input(ctx) || ctx.opset() < 11 || ctx.attr_string("mode", "constant") != "constant") return nullptr;
  return std::make_unique<PadKernel>(reference_compute(ctx));
}

}  // namespace kiln::ops
