// Fast paths of float32 Softmax / LogSoftmax, LayerNormalization, inference BatchNormalization and
// ReduceSum / ReduceMean over trailing axes, over the vrow and vunary kernels. Each checks at run time what
// it covers and hands anything else to the op's reference compute.
#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "kernels/isa.h"
#include "kernels/vrow/vrow.h"
#include "kernels/vunary/vunary.h"
#include "ops/elementwise_prepared.h"
#include "ops/numeric.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using prepared_detail::for_chunks;
using prepared_detail::input_is_f32;
using prepared_detail::run_reference;

// Below this many input elements a column reduction runs on the calling thread (256 KiB: about 20 us of adds).
constexpr int64_t kMinParallelReduce = int64_t{1} << 16;

/// Rows per task so that a task holds about `elements` elements. Softmax (an exp per element) and LayerNorm
/// (three passes) split from 64 Ki / 128 Ki elements per task; BatchNormalization and the row sums are
/// memory-bound and split only past 1 Mi (see grain_for in elementwise_prepared.cpp).
int64_t rows_grain(int64_t row_len, int64_t elements) {
  return std::max<int64_t>(1, elements / std::max<int64_t>(1, row_len));
}

// ---- Softmax, LogSoftmax ----

class SoftmaxKernel final : public PreparedKernel {
 public:
  explicit SoftmaxKernel(bool log) : log_(log), k_(kernels::vrow_kernels_for(kernels::active_isa())) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || !k_) return run_reference(ctx);
    const std::vector<int64_t>& dims = x.dims();
    const int64_t rank = static_cast<int64_t>(dims.size());
    AxisSplit s;
    if (ctx.opset() < 13) {  // coerced to 2-D at axis: rows of everything from axis on
      const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 1), rank));
      s.outer = product(dims, 0, axis);
      s.n = product(dims, axis, dims.size());
    } else {
      s = split_at_axis(dims, static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), rank)));
    }
    if (x.numel() == 0) return;
    const float* in = x.data<float>();
    float* out = ctx.output(0).data<float>();
    if (s.inner == 1) {
      for_chunks(ctx.threads(), s.outer, rows_grain(s.n, int64_t{1} << 16), [&](int64_t r0, int64_t r1) {
        k_->softmax_rows(in + r0 * s.n, out + r0 * s.n, r1 - r0, s.n, log_);
      });
    } else {
      const int64_t block = s.n * s.inner;
      for_chunks(ctx.threads(), s.outer, rows_grain(block, int64_t{1} << 16), [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) k_->softmax_cols(in + o * block, out + o * block, s.n, s.inner, log_);
      });
    }
  }
  std::string describe() const override { return std::string(log_ ? "log_softmax " : "softmax ") + k_->name; }

 private:
  bool log_;
  const kernels::VRowKernels* k_;
};

// ---- LayerNormalization (Y only) ----

/// A Scale or B that covers exactly the normalised block (its dims, right-aligned, equal X's from `axis`
/// on, with only 1s before): its data is then the per-column vector the kernel reads.
bool covers_block(const Tensor& p, const std::vector<int64_t>& xd, size_t axis) {
  if (p.dtype() != DType::kFloat32 || p.rank() > xd.size()) return false;
  const size_t lead = xd.size() - p.rank();
  for (size_t i = 0; i < p.rank(); ++i) {
    const size_t xi = lead + i;
    if (xi < axis ? p.dim(i) != 1 : p.dim(i) != xd[xi]) return false;
  }
  return p.numel() == product(xd, axis, xd.size());
}

class LayerNormKernel final : public PreparedKernel {
 public:
  LayerNormKernel() : k_(kernels::vrow_kernels_for(kernels::active_isa())) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::vector<int64_t>& xd = x.dims();
    if (x.dtype() != DType::kFloat32 || !k_ || xd.empty()) return run_reference(ctx);
    const int64_t rank = static_cast<int64_t>(xd.size());
    const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), rank));
    const Tensor& scale = ctx.input(1);
    const Tensor* bias = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    if (!covers_block(scale, xd, axis) || (bias && !covers_block(*bias, xd, axis))) return run_reference(ctx);
    const int64_t rows = product(xd, 0, axis), cols = product(xd, axis, xd.size());
    if (rows == 0 || cols == 0) return run_reference(ctx);
    const float eps = ctx.attr_float("epsilon", 1e-5f);
    const float* in = x.data<float>();
    float* out = ctx.output(0).data<float>();
    const float* sc = scale.data<float>();
    const float* bi = bias ? bias->data<float>() : nullptr;
    for_chunks(ctx.threads(), rows, rows_grain(cols, int64_t{1} << 17), [&](int64_t r0, int64_t r1) {
      k_->layer_norm_rows(in + r0 * cols, out + r0 * cols, r1 - r0, cols, sc, bi, eps);
    });
  }
  std::string describe() const override { return std::string("layer_norm ") + k_->name; }

 private:
  const kernels::VRowKernels* k_;
};

// ---- BatchNormalization (inference) ----

class BatchNormKernel final : public PreparedKernel {
 public:
  /// `scale`, `shift`: y = x * scale[c] + shift[c], precomputed when the four parameters are constants
  /// (empty otherwise: folded at run time).
  BatchNormKernel(std::vector<float> scale, std::vector<float> shift)
      : scale_(std::move(scale)), shift_(std::move(shift)), fn_(kernels::vunary_kernel_for(kernels::active_isa())) {}

  static bool fold(const Tensor* const p[4], double eps, std::vector<float>& scale, std::vector<float>& shift) {
    const int64_t c = p[0]->numel();
    for (int i = 1; i < 4; ++i)
      if (p[i]->numel() != c) return false;
    scale.resize(static_cast<size_t>(c));
    shift.resize(static_cast<size_t>(c));
    for (int64_t k = 0; k < c; ++k) {  // in double, as the reference folds them
      const double a = p[0]->double_at(k) / std::sqrt(p[3]->double_at(k) + eps);
      scale[static_cast<size_t>(k)] = static_cast<float>(a);
      shift[static_cast<size_t>(k)] = static_cast<float>(p[1]->double_at(k) - p[2]->double_at(k) * a);
    }
    return true;
  }

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const std::vector<int64_t>& d = x.dims();
    if (x.dtype() != DType::kFloat32 || !fn_) return run_reference(ctx);
    const int64_t n = d.empty() ? 1 : d[0];
    const int64_t c = d.size() < 2 ? 1 : d[1];
    const int64_t spatial = product(d, 2, d.size());
    std::vector<float> run_scale, run_shift;
    const std::vector<float>* scale = &scale_;
    const std::vector<float>* shift = &shift_;
    if (scale_.empty()) {
      const Tensor* p[4] = {&ctx.input(1), &ctx.input(2), &ctx.input(3), &ctx.input(4)};
      if (!fold(p, ctx.attr_float("epsilon", 1e-5f), run_scale, run_shift)) return run_reference(ctx);
      scale = &run_scale;
      shift = &run_shift;
    }
    if (static_cast<int64_t>(scale->size()) != c) return run_reference(ctx);  // the reference reports it
    const float* in = x.data<float>();
    float* out = ctx.output(0).data<float>();
    for_chunks(ctx.threads(), n * c, rows_grain(spatial, int64_t{1} << 20), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const size_t ch = static_cast<size_t>(r % c);
        fn_(kernels::UnaryOp::kAffine, (*scale)[ch], (*shift)[ch], in + r * spatial, out + r * spatial, spatial);
      }
    });
  }
  size_t packed_bytes() const override { return (scale_.size() + shift_.size()) * sizeof(float); }
  std::string describe() const override {
    std::string name = "?";
    for (const kernels::VUnaryKernel& k : kernels::vunary_kernels())
      if (k.fn == fn_) name = k.name;
    return "affine per channel" + std::string(scale_.empty() ? " " : " (folded at prepare) ") + name;
  }

 private:
  std::vector<float> scale_, shift_;
  kernels::VUnaryFn fn_;
};

// ---- ReduceSum, ReduceMean over trailing axes ----

class ReduceKernel final : public PreparedKernel {
 public:
  explicit ReduceKernel(bool mean) : mean_(mean), k_(kernels::vrow_kernels_for(kernels::active_isa())) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || !k_) return run_reference(ctx);
    const int64_t rank = static_cast<int64_t>(x.rank());
    const bool from_input = ctx.opset() >= (ctx.node().op_type == "ReduceSum" ? 13 : 18);
    // The axes, read in place (a run allocates nothing): the attribute's list or the constant input's elements.
    std::span<const int64_t> axes;
    if (!from_input) {
      if (const ir::Attribute* a = ctx.node().attr("axes")) axes = a->ints;
    } else if (ctx.has_input(1)) {
      const Tensor& a = ctx.input(1);
      if (a.dtype() != DType::kInt64 || a.rank() > 1) return run_reference(ctx);
      axes = {a.data<int64_t>(), static_cast<size_t>(a.numel())};
    }
    if (axes.empty() && from_input && ctx.attr_int("noop_with_empty_axes", 0) != 0) return run_reference(ctx);
    // The reduced axes must be one block [first, last): each output is then the sum of a contiguous row (a
    // trailing block) or of a column of an [n, inner] block (H and W of an NHWC tensor).
    if (rank > 63) return run_reference(ctx);
    uint64_t reduce = axes.empty() ? (uint64_t{1} << rank) - 1 : 0;
    for (int64_t a : axes) {
      if (a < -rank || a >= rank) return run_reference(ctx);
      const uint64_t bit = uint64_t{1} << (a < 0 ? a + rank : a);
      if (reduce & bit) return run_reference(ctx);
      reduce |= bit;
    }
    size_t first = 0;
    while (first < static_cast<size_t>(rank) && !(reduce >> first & 1)) ++first;
    size_t last = first;
    while (last < static_cast<size_t>(rank) && (reduce >> last & 1)) ++last;
    if (reduce >> last) return run_reference(ctx);  // a second block
    const std::vector<int64_t>& d = x.dims();
    const int64_t rows = product(d, 0, first), n = product(d, first, last), inner = product(d, last, d.size());
    Tensor& y = ctx.output(0);
    if (y.numel() != rows * inner) return run_reference(ctx);
    const float scale = mean_ ? 1.0f / static_cast<float>(n) : 1.0f;
    const float* in = x.data<float>();
    float* out = y.data<float>();
    if (inner > 1) {
      // One item per row (an NHWC image: squeeze-and-excitation's mean over H x W), not for_chunks, whose chunks
      // of a multiple of 16 rows left a batch of 8 images on one thread: EfficientNet-b0 at batch 8, its 16
      // means 3.8 ms at 1 thread, 4.5 at 2. The bits do not depend on the split (a row is summed whole).
      kernels::ThreadPool* pool = rows * n * inner >= kMinParallelReduce ? ctx.threads() : nullptr;
      kernels::parallel_for(pool, static_cast<size_t>(rows), [&](size_t r) {
        const int64_t i = static_cast<int64_t>(r);
        k_->sum_cols(in + i * n * inner, out + i * inner, n, inner, scale);
      });
      return;
    }
    for_chunks(ctx.threads(), rows, rows_grain(n, int64_t{1} << 20), [&](int64_t r0, int64_t r1) {
      k_->sum_rows(in + r0 * n, out + r0, r1 - r0, n, scale);
    });
  }
  std::string describe() const override { return std::string(mean_ ? "row/column mean " : "row/column sum ") + k_->name; }

 private:
  bool mean_;
  const kernels::VRowKernels* k_;
};

}  // namespace

std::unique_ptr<PreparedKernel> prepare_softmax(PrepareContext& ctx) {
  if (!input_is_f32(ctx, 0)) return nullptr;
  const std::string& op = ctx.node().op_type;
  if (op != "Softmax" && op != "LogSoftmax") return nullptr;
  return std::make_unique<SoftmaxKernel>(op == "LogSoftmax");
}

std::unique_ptr<PreparedKernel> prepare_layer_norm(PrepareContext& ctx) {
  if (!input_is_f32(ctx, 0) || ctx.wants_output(1) || ctx.wants_output(2)) return nullptr;
  return std::make_unique<LayerNormKernel>();
}

std::unique_ptr<PreparedKernel> prepare_batch_norm(PrepareContext& ctx) {
  if (!input_is_f32(ctx, 0) || ctx.num_inputs() != 5) return nullptr;
  if (ctx.opset() < 9 && ctx.attr_int("spatial", 1) == 0) return nullptr;       // per-activation parameters
  if (ctx.opset() >= 14 && ctx.attr_int("training_mode", 0) != 0) return nullptr;  // batch statistics
  for (size_t i = 1; i < ctx.node().outputs.size(); ++i)
    if (ctx.wants_output(i)) return nullptr;
  std::vector<float> scale, shift;
  const Tensor* p[4] = {ctx.input_value(1), ctx.input_value(2), ctx.input_value(3), ctx.input_value(4)};
  if (p[0] && p[1] && p[2] && p[3] && !BatchNormKernel::fold(p, ctx.attr_float("epsilon", 1e-5f), scale, shift))
    return nullptr;
  return std::make_unique<BatchNormKernel>(std::move(scale), std::move(shift));
}

std::unique_ptr<PreparedKernel> prepare_reduce(PrepareContext& ctx) {
  if (!input_is_f32(ctx, 0)) return nullptr;
  const std::string& op = ctx.node().op_type;
  if (op != "ReduceSum" && op != "ReduceMean") return nullptr;
  return std::make_unique<ReduceKernel>(op == "ReduceMean");
}

}  // namespace kiln::ops
