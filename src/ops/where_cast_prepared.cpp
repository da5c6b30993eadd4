// Prepared (fast) Where and Cast / CastLike.
//   Where: the three inputs broadcast to the output are walked as runs of the merged innermost dims; a run with
//     one condition is a copy or fill from one side, a run of conditions a vector select (4-byte elements) or a
//     typed loop. Every element type but strings.
//   Cast: float32 <-> float16 by F16C, float32 <-> int64 / int32 and int64 <-> int32 by plain loops, same type by
//     memcpy; other pairs (strings, bfloat16, narrow types, ...) run the reference. Large casts are split over
//     the session's threads.

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/convert/convert.h"
#include "kernels/copy/strided_copy.h"
#include "ops/elementwise.h"
#include "ops/movement_prepared.h"
#include "ops/prepared_util.h"

namespace kiln::ops {
namespace {

using kernels::kMaxCopyRank;

/// A tensor's elements as raw storage of T (sizeof(T) == the element size; data movement needs only the bits).
template <typename T> const T* as(const Tensor& t) { return static_cast<const T*>(t.raw_data()); }
template <typename T> T* as(Tensor& t) { return static_cast<T*>(t.raw_data()); }

/// Calls fn(begin, end) over [0, n) split into pieces for the pool when the job is large.
template <typename F> void split_range(kernels::ThreadPool* pool, int64_t n, int64_t bytes, F&& fn) {
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
  if (threads <= 1 || bytes < 256 * 1024 || n < 2) return fn(int64_t{0}, n);
  const int64_t items = std::min<int64_t>(n, 4 * threads);
  const int64_t per = (n + items - 1) / items;
  kernels::parallel_for(pool, static_cast<size_t>((n + per - 1) / per), [&](size_t i) {
    const int64_t b = static_cast<int64_t>(i) * per;
    fn(b, std::min(n, b + per));
  });
}

// ---- Where ----

template <typename T>
void select_run(T* out, const uint8_t* c, int64_t sc, const T* a, int64_t sa, const T* b, int64_t sb, int64_t n,
                kernels::Select32Fn select32) {
  if (sc == 0) {  // one condition for the run: a copy or a fill from one side
    const T* src = c[0] ? a : b;
    if (c[0] ? sa : sb) std::memcpy(out, src, static_cast<size_t>(n) * sizeof(T));
    else std::fill(out, out + n, src[0]);
    return;
  }
  if constexpr (sizeof(T) == 4) {
    if (select32) return select32(c, a, sa, b, sb, out, n);
  }
  for (int64_t i = 0; i < n; ++i) out[i] = c[i] ? a[i * sa] : b[i * sb];
}

/// The output dims merged where all three inputs allow, with each input's strides (0 where it broadcasts).
struct WhereLayout {
  size_t rank = 0;
  int64_t dims[kMaxCopyRank], st[3][kMaxCopyRank];
};

bool where_layout(const Tensor* in[3], const Tensor& out, WhereLayout& l) {
  const size_t r = out.rank();
  int64_t strides[3][kMaxCopyRank];
  for (int k = 0; k < 3; ++k) {
    const Tensor& t = *in[k];
    if (t.rank() > r) return false;
    const size_t lead = r - t.rank();
    int64_t s = 1;
    for (size_t d = r; d-- > 0;) {
      const int64_t dim = d < lead ? 1 : t.dim(d - lead);
      if (dim != 1 && dim != out.dim(d)) return false;
      strides[k][d] = dim == 1 ? 0 : s;
      s *= dim;
    }
  }
  for (size_t d = 0; d < r; ++d) {
    if (out.dim(d) == 1) continue;
    if (l.rank > 0) {
      const size_t o = l.rank - 1;
      bool merge = true;
      for (int k = 0; k < 3; ++k) merge = merge && l.st[k][o] == strides[k][d] * out.dim(d);
      if (merge) {
        l.dims[o] *= out.dim(d);
        for (int k = 0; k < 3; ++k) l.st[k][o] = strides[k][d];
        continue;
      }
    }
    l.dims[l.rank] = out.dim(d);
    for (int k = 0; k < 3; ++k) l.st[k][l.rank] = strides[k][d];
    ++l.rank;
  }
  return true;
}

template <typename T>
void run_where(const WhereLayout& l, const uint8_t* c, const T* a, const T* b, T* out, kernels::ThreadPool* pool,
               kernels::Select32Fn select32) {
  if (l.rank == 0) {
    out[0] = c[0] ? a[0] : b[0];
    return;
  }
  const size_t in = l.rank - 1;
  const int64_t n = l.dims[in];
  int64_t outer = 1;
  for (size_t k = 0; k < in; ++k) outer *= l.dims[k];
  split_range(pool, outer, outer * n * static_cast<int64_t>(sizeof(T)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      int64_t off[3] = {0, 0, 0}, rem = o;
      for (size_t k = in; k-- > 0;) {
        const int64_t i = rem % l.dims[k];
        rem /= l.dims[k];
        for (int s = 0; s < 3; ++s) off[s] += i * l.st[s][k];
      }
      select_run(out + o * n, c + off[0], l.st[0][in], a + off[1], l.st[1][in], b + off[2], l.st[2][in], n, select32);
    }
  });
}

class WhereKernel final : public PreparedKernel {
 public:
  WhereKernel(const kernels::ConvertKernels* k, ComputeFn reference) : k_(k), reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor* in[3] = {&ctx.input(0), &ctx.input(1), &ctx.input(2)};
    Tensor& out = ctx.output(0);
    if (in[0]->dtype() != DType::kBool || in[1]->dtype() != out.dtype() || in[2]->dtype() != out.dtype() ||
        out.dtype() == DType::kString || out.rank() > kMaxCopyRank)
      return reference_(ctx);
    WhereLayout l;
    if (!where_layout(in, out, l)) return reference_(ctx);
    if (out.numel() == 0) return;
    const auto* c = static_cast<const uint8_t*>(in[0]->raw_data());
    kernels::Select32Fn select32 = k_ ? k_->select32 : nullptr;
    switch (dtype_size(out.dtype())) {
      case 1: return run_where(l, c, as<uint8_t>(*in[1]), as<uint8_t>(*in[2]), as<uint8_t>(out), ctx.threads(), select32);
      case 2: return run_where(l, c, as<uint16_t>(*in[1]), as<uint16_t>(*in[2]), as<uint16_t>(out), ctx.threads(), select32);
      case 4: return run_where(l, c, as<uint32_t>(*in[1]), as<uint32_t>(*in[2]), as<uint32_t>(out), ctx.threads(), select32);
      case 8: return run_where(l, c, as<uint64_t>(*in[1]), as<uint64_t>(*in[2]), as<uint64_t>(out), ctx.threads(), select32);
      default: return reference_(ctx);
    }
  }
  std::string describe() const override { return std::string("where select") + (k_ ? std::string(" select32_") + k_->name : ""); }

 private:
  const kernels::ConvertKernels* k_;
  ComputeFn reference_;
};

// ---- Cast ----

/// Float to integer as the reference converts (x86 hardware's rule): truncation, and the type's minimum for
/// NaN and values outside the conversion's range.
template <typename I> I float_to_integer(float v) {
  constexpr float lo = static_cast<float>(std::numeric_limits<I>::min());  // -2^31 or -2^63, exact
  if (v >= lo && v < -lo) return static_cast<I>(v);
  return std::numeric_limits<I>::min();
}

template <typename From, typename To, typename Op> void convert_loop(const Tensor& x, Tensor& y, kernels::ThreadPool* pool, Op op) {
  const From* px = as<From>(x);
  To* py = as<To>(y);
  split_range(pool, x.numel(), x.numel() * static_cast<int64_t>(sizeof(To) + sizeof(From)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) py[i] = op(px[i]);
  });
}

class CastKernel final : public PreparedKernel {
 public:
  CastKernel(const kernels::ConvertKernels* k, ComputeFn reference) : k_(k), reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    if (x.numel() != y.numel() || x.kind() != TensorKind::kTensor) return reference_(ctx);
    const DType from = x.dtype(), to = y.dtype();
    kernels::ThreadPool* pool = ctx.threads();
    using DT = DType;
    if (from == to && from != DT::kString) {
      copy_elements(x, y);  // not memcpy: an empty tensor has no storage, and memcpy from null is undefined
    } else if (from == DT::kFloat32 && to == DT::kFloat16 && k_) {
      split_range(pool, x.numel(), x.numel() * 6, [&](int64_t b, int64_t e) {
        k_->f32_to_f16(as<float>(x) + b, as<uint16_t>(y) + b, e - b);
      });
    } else if (from == DT::kFloat16 && to == DT::kFloat32 && k_) {
      split_range(pool, x.numel(), x.numel() * 6, [&](int64_t b, int64_t e) {
        k_->f16_to_f32(as<uint16_t>(x) + b, as<float>(y) + b, e - b);
      });
    } else if (from == DT::kFloat32 && to == DT::kInt64) {
      convert_loop<float, int64_t>(x, y, pool, float_to_integer<int64_t>);
    } else if (from == DT::kFloat32 && to == DT::kInt32) {
      convert_loop<float, int32_t>(x, y, pool, float_to_integer<int32_t>);
    } else if (from == DT::kInt64 && to == DT::kFloat32) {
      convert_loop<int64_t, float>(x, y, pool, [](int64_t v) { return static_cast<float>(v); });
    } else if (from == DT::kInt32 && to == DT::kFloat32) {
      convert_loop<int32_t, float>(x, y, pool, [](int32_t v) { return static_cast<float>(v); });
    } else if (from == DT::kInt64 && to == DT::kInt32) {  // keeps the low bits, as the reference does
      convert_loop<int64_t, int32_t>(x, y, pool, [](int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); });
    } else if (from == DT::kInt32 && to == DT::kInt64) {
      convert_loop<int32_t, int64_t>(x, y, pool, [](int32_t v) { return static_cast<int64_t>(v); });
    } else {
      reference_(ctx);
    }
  }
  std::string describe() const override { return std::string("cast") + (k_ ? std::string(" f16c_") + k_->name : ""); }

 private:
  const kernels::ConvertKernels* k_;
  ComputeFn reference_;
};

}  // namespace

std::unique_ptr<PreparedKernel> prepare_where(PrepareContext& ctx) {
  if (!movable_input(ctx, 1)) return nullptr;
  return std::make_unique<WhereKernel>(kernels::convert_kernels(kernels::active_isa()), reference_compute(ctx));
}

std::unique_ptr<PreparedKernel> prepare_cast(PrepareContext& ctx) {
  if (!movable_input(ctx)) return nullptr;
  return std::make_unique<CastKernel>(kernels::convert_kernels(kernels::active_isa()), reference_compute(ctx));
}

}  // namespace kiln::ops
