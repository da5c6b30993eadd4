// The fast float32 ai.kiln.InvertedResidualNhwc (inverted_residual_nhwc.cpp), prepared once per session.
//
// A work item is a range of output rows of one image. It walks them in bands of a few rows:
//   - the expanded rows the band's depthwise taps read are made by the GEMM (A = X's rows as they lie, B = We^T
//     packed once, bias and activation as its epilogue) into a ring of rows in the thread's scratch; each is
//     computed once per item (a band reads the rows the previous one left in the ring), so only the halo rows at
//     the item's first band are computed twice (once by the item above);
//   - kernels/dwnhwc computes the band's output rows from the ring (DwNhwcArgs::x_rows: one pointer per row), into
//     Y directly (no projection) or into a second small buffer,
//   - which the projection GEMM (B = Wp^T) consumes into Y with its bias, residual and activation.
// The ring (a 112-wide row of 96 channels is 43 KB) and the band stay in L2: the expanded tensor (6x X's
// channels, 4.8 MB at MobileNet-v2's 112x112 block) never goes to memory, nor does the depthwise output when the
// projection is fused. Items: whole images when they share out evenly between the threads, else parts of each
// image's bands. An output's bits do not depend on the split: bands are fixed by the sizes, every expanded row
// comes from the same GEMM call (band t's, repeated for a halo) and the depthwise path depends on the column
// alone. (Halo rows expanded by a call of their own gave other bits than on 1 thread.)
// Where the whole batch's intermediates fit in a core's L2 (kStagedFloats) the block runs staged instead: each
// step over the pool, the intermediates in the calling thread's scratch.
// Inputs this form does not expect (padding as wide as the window, more ring rows than kMaxRing) run the
// composed reference.

#include <algorithm>
#include <string>

#include "kernels/dwnhwc/dwnhwc.h"
#include "kernels/thread_scratch.h"
#include "ops/conv_ops.h"
#include "ops/fused_activation.h"
#include "ops/window.h"

namespace kiln::ops {
namespace {

enum Input : size_t { kX = 0, kWe, kBe, kWd, kBd, kWp, kBp, kZ };

// Most expanded rows a ring holds (the rows of one band's depthwise windows).
constexpr int64_t kMaxRing = 64;

// Floats of a band of depthwise output rows, about 64 KB: a few rows per GEMM call amortize its setup while the
// band and the ring stay in L2. (MobileNet-v2 at 1 thread: 8K to 64K floats measured the same within noise.)
constexpr int64_t kBandFloats = 16384;

// Up to this many floats of intermediates (the expanded tensor and the depthwise output of the whole batch, 1 MiB:
// a Zen 4 core's L2) the block runs staged: each step over the batch on the pool, through the calling thread's
// scratch. Where they fit in L2 anyway there is no memory traffic to save, and on 2 threads the banded form,
// which splits an image's rows, makes each thread read all of the weights (0.2-1.2 MB at 14x14 and 7x7), where
// the steps' GEMMs split such small planes by output channels. MobileNet-v3 b1, 2 threads: banded everywhere
// 3.54 ms, staged up to 784 input pixels 3.14, unfused 3.34; MobileNet-v2 b8: banded everywhere 57.1 ms (1
// thread) and 28.3 (2), staged up to 784 pixels 58.2 and 29.1 (its 8 images' intermediates no longer fit).
constexpr int64_t kStagedFloats = 262144;

struct BlockDims {
  int64_t images = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0, pad_top = 0, pad_left = 0;
  int64_t band = 1, ring = 1;  // output rows per band; expanded rows the ring holds
};

struct BlockData {
  const float* x;
  const float *bias_e, *bias_d, *bias_p, *residual;
  float* y;
};

class PreparedInvertedResidual final : public PreparedKernel {
 public:
  ComputeFn reference = nullptr;
  int64_t in_channels = 0, mid_channels = 0, out_channels = 0;  // out_channels: mid_channels without projection
  bool project = false;
  WindowAttrs window;  // the depthwise step's
  kernels::ActivationParams act_expand, act_depthwise, act_project;
  kernels::PackedGemmOperand expand_b, project_b;  // We^T [C, E], Wp^T [E, M]
  PackedBytes dw_w;                                // kernels::dwnhwc_pack(Wd)
  std::string label;

  void run(KernelContext& ctx) const override {
    BlockDims d;
    if (!resolve(ctx, &d)) return reference(ctx);
    BlockData p;
    p.x = ctx.input(kX).data<float>();
    p.bias_e = ctx.has_input(kBe) ? ctx.input(kBe).data<float>() : nullptr;
    p.bias_d = ctx.has_input(kBd) ? ctx.input(kBd).data<float>() : nullptr;
    p.bias_p = ctx.has_input(kBp) ? ctx.input(kBp).data<float>() : nullptr;
    p.residual = ctx.has_input(kZ) ? ctx.input(kZ).data<float>() : nullptr;
    p.y = ctx.output(0).data<float>();
    kernels::ThreadPool* pool = ctx.threads();
    const int64_t staged_floats = d.images * (d.in_h * d.in_w + (project ? d.out_h * d.out_w : 0)) * mid_channels;
    if (staged_floats <= kStagedFloats) return run_staged(d, p, pool);
    const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
    // Whole images when they share out evenly between the threads; else each image's bands in parts (the halo
    // rows of a part are expanded twice: 2 of 56 rows at 112x112 on 2 threads).
    int64_t parts = 1;
    if (d.images < threads) {
      parts = (threads + d.images - 1) / d.images;
    } else if (d.images % threads != 0) {
      parts = 2;  // 3 images on 2 threads: 6 halves
    }
    const int64_t bands = (d.out_h + d.band - 1) / d.band;
    const int64_t per_part = (bands + std::min(parts, bands) - 1) / std::min(parts, bands);
    parts = (bands + per_part - 1) / per_part;
    kernels::parallel_for(pool, static_cast<size_t>(d.images * parts), [&](size_t item) {
      const int64_t n = static_cast<int64_t>(item) / parts, part = static_cast<int64_t>(item) % parts;
      run_bands(d, p, n, part * per_part, std::min(bands, (part + 1) * per_part));
    });
  }

  size_t packed_bytes() const override { return expand_b.bytes() + project_b.bytes() + dw_w.size; }
  std::string describe() const override { return label; }

 private:
  int64_t window_h() const { return (window.kernel[0] - 1) * window.dilations[0] + 1; }

  // The sizes of this run, checked; false when the reference should run the node instead.
  bool resolve(KernelContext& ctx, BlockDims* d) const {
    const Tensor& x = ctx.input(kX);
    if (x.dtype() != DType::kFloat32 || x.rank() != 4 || x.dim(3) != in_channels || x.numel() == 0) return false;
    d->images = x.dim(0), d->in_h = x.dim(1), d->in_w = x.dim(2);
    const WindowAxis h = resolve_window_axis(window, 0, d->in_h), w = resolve_window_axis(window, 1, d->in_w);
    if (h.out <= 0 || w.out <= 0 || h.pad_begin < 0 || w.pad_begin < 0) return false;
    // Every band's window then holds at least one input row.
    if (h.pad_begin >= window_h() || h.pad_end >= window_h()) return false;
    d->out_h = h.out, d->out_w = w.out, d->pad_top = h.pad_begin, d->pad_left = w.pad_begin;
    d->band = std::clamp<int64_t>(kBandFloats / std::max<int64_t>(1, d->out_w * mid_channels), 1, d->out_h);
    d->ring = (d->band - 1) * window.strides[0] + window_h();
    if (d->ring > kMaxRing) {
      d->band = std::max<int64_t>(1, (kMaxRing - window_h()) / window.strides[0] + 1);
      d->ring = (d->band - 1) * window.strides[0] + window_h();
      if (d->ring > kMaxRing) return false;
    }
    if (!kernels::dwnhwc_supports(dw_shape(*d, 1, d->in_h, d->out_h, d->pad_top))) return false;
    if (!ctx.output_allocated(0)) return false;
    const int64_t want[4] = {d->images, d->out_h, d->out_w, out_channels};
    auto has_want_dims = [&](const Tensor& t) {
      return t.dtype() == DType::kFloat32 && t.rank() == 4 && std::equal(want, want + 4, t.dims().begin());
    };
    if (!has_want_dims(ctx.output(0))) return false;
    auto vector_of = [&](size_t i, int64_t n) {
      if (!ctx.has_input(i)) return true;
      const Tensor& b = ctx.input(i);
      return b.dtype() == DType::kFloat32 && b.rank() == 1 && b.dim(0) == n;
    };
    if (!vector_of(kBe, mid_channels) || !vector_of(kBd, mid_channels) || !vector_of(kBp, out_channels)) return false;
    return !ctx.has_input(kZ) || has_want_dims(ctx.input(kZ));
  }

  kernels::DwNhwcShape dw_shape(const BlockDims& d, int64_t images, int64_t in_h, int64_t out_h, int64_t pad_top) const {
    kernels::DwNhwcShape s;
    s.images = images, s.channels = mid_channels, s.in_h = in_h, s.in_w = d.in_w, s.out_h = out_h;
    s.out_w = d.out_w, s.kernel_h = window.kernel[0], s.kernel_w = window.kernel[1];
    s.stride_h = window.strides[0], s.stride_w = window.strides[1];
    s.dilation_h = window.dilations[0], s.dilation_w = window.dilations[1];
    s.pad_top = pad_top, s.pad_left = d.pad_left;
    return s;
  }

  // Small planes: each step over the whole batch on the pool, through the calling thread's scratch.
  void run_staged(const BlockDims& d, const BlockData& p, kernels::ThreadPool* pool) const {
    const int64_t E = mid_channels, in_pixels = d.images * d.in_h * d.in_w, out_pixels = d.images * d.out_h * d.out_w;
    float* expanded = kernels::thread_scratch_floats(static_cast<size_t>((in_pixels + (project ? out_pixels : 0)) * E));
    float* dw_out = project ? expanded + in_pixels * E : p.y;
    run_pointwise_nhwc(expand_b, in_pixels, p.x, p.bias_e, nullptr, act_expand, expanded, pool);
    kernels::DwNhwcArgs a;
    a.x = expanded;
    a.packed_w = static_cast<const float*>(dw_w.data);
    a.bias = p.bias_d;
    a.y = dw_out;
    a.act = act_depthwise;
    kernels::dwnhwc_f32(dw_shape(d, d.images, d.in_h, d.out_h, d.pad_top), a, pool);
    if (project) run_pointwise_nhwc(project_b, out_pixels, dw_out, p.bias_p, p.residual, act_project, p.y, pool);
  }

  // Expanded rows band t's depthwise windows read: [lo, hi] (clipped to the image).
  int64_t band_lo(const BlockDims& d, int64_t t) const {
    return std::max<int64_t>(0, t * d.band * window.strides[0] - d.pad_top);
  }
  int64_t band_hi(const BlockDims& d, int64_t t) const {
    const int64_t last = std::min(d.out_h, (t + 1) * d.band) - 1;
    return std::min(d.in_h - 1, last * window.strides[0] - d.pad_top + window_h() - 1);
  }

  // The expanded rows band t adds to the ring: (band_hi(t - 1), band_hi(t)], one GEMM call per run of them
  // contiguous in the ring. These calls depend on t alone, not on where a work item starts, so that each row
  // is computed by the same call (the same bits) whatever the split between threads.
  void expand_band(const BlockDims& d, const BlockData& p, int64_t n, int64_t t, float* ring) const {
    const int64_t W = d.in_w, row = W * mid_channels, hi = band_hi(d, t);
    for (int64_t r = t == 0 ? 0 : band_hi(d, t - 1) + 1; r <= hi;) {
      const int64_t slot = r % d.ring, count = std::min(hi - r + 1, d.ring - slot);
      run_pointwise_nhwc(expand_b, count * W, p.x + ((n * d.in_h + r) * W) * in_channels, p.bias_e, nullptr,
                         act_expand, ring + slot * row, nullptr);
      r += count;
    }
  }

  // Bands [t0, t1) of image n (output rows from t0 * band).
  void run_bands(const BlockDims& d, const BlockData& p, int64_t n, int64_t t0, int64_t t1) const {
    const int64_t E = mid_channels, row = d.in_w * E;
    float* ring = kernels::thread_scratch_floats(static_cast<size_t>(d.ring * row + (project ? d.band * d.out_w * E : 0)));
    float* band_out = ring + d.ring * row;
    // The halo: the rows of band t0's window that earlier bands add, expanded as those bands do.
    int64_t t = t0;
    while (t > 0 && band_hi(d, t - 1) >= band_lo(d, t0)) --t;
    for (; t < t0; ++t) expand_band(d, p, n, t, ring);
    const float* rows[kMaxRing];
    for (t = t0; t < t1; ++t) {
      expand_band(d, p, n, t, ring);
      const int64_t oh = t * d.band, b = std::min(d.band, d.out_h - oh);
      const int64_t lo = band_lo(d, t), hi = band_hi(d, t);
      for (int64_t r = lo; r <= hi; ++r) rows[r - lo] = ring + (r % d.ring) * row;
      const int64_t out_row = (n * d.out_h + oh) * d.out_w;
      kernels::DwNhwcArgs a;
      a.x_rows = rows;
      a.packed_w = static_cast<const float*>(dw_w.data);
      a.bias = p.bias_d;
      a.y = project ? band_out : p.y + out_row * E;
      a.act = act_depthwise;
      kernels::dwnhwc_f32(dw_shape(d, 1, hi - lo + 1, b, lo - (oh * window.strides[0] - d.pad_top)), a, nullptr);
      if (project)
        run_pointwise_nhwc(project_b, b * d.out_w, band_out, p.bias_p,
                           p.residual ? p.residual + out_row * out_channels : nullptr, act_project,
                           p.y + out_row * out_channels, nullptr);
    }
  }
};

bool is_pointwise(const Tensor* w) {
  return w && w->dtype() == DType::kFloat32 && w->rank() == 4 && w->dim(0) > 0 && w->dim(1) > 0 && w->dim(2) == 1 &&
         w->dim(3) == 1;
}

}  // namespace

std::unique_ptr<PreparedKernel> prepare_inverted_residual_nhwc(PrepareContext& ctx) {
  const Tensor* we = ctx.input_value(kWe);
  const Tensor* wd = ctx.input_value(kWd);
  const Tensor* wp = ctx.input_value(kWp);
  if (!is_pointwise(we) || !wd || wd->dtype() != DType::kFloat32 || wd->rank() != 4) return nullptr;
  if (ctx.has_input(kWp) && !is_pointwise(wp)) return nullptr;
  const OpSchema* schema = find_op(ctx.node().domain, ctx.node().op_type);
  if (!schema || !schema->compute || !kernels::dwnhwc_kernel_name()) return nullptr;
  const int64_t E = we->dim(0);
  const std::vector<int64_t> kernel{wd->dim(2), wd->dim(3)};
  const std::vector<int64_t> k_attr = ctx.attr_ints("kernel_shape", {});
  if (wd->dim(0) != E || wd->dim(1) != 1 || ctx.attr_int("group", 1) != E || (!k_attr.empty() && k_attr != kernel))
    return nullptr;
  if (wp && wp->dim(1) != E) return nullptr;

  auto k = std::make_unique<PreparedInvertedResidual>();
  k->reference = schema->compute;
  k->in_channels = we->dim(1), k->mid_channels = E, k->project = wp != nullptr;
  k->out_channels = wp ? wp->dim(0) : E;
  k->window = read_window_attrs(ctx, rank_of("Wd", wd->dims()), kernel, false);
  if (k->window.kernel.size() != 2) return nullptr;
  k->act_expand = read_fused_activation(ctx, "expand_");
  k->act_depthwise = read_fused_activation(ctx, "depthwise_");
  k->act_project = read_fused_activation(ctx, "project_");
  k->expand_b = pack_pointwise_nhwc(ctx, "inverted_residual expand B", we->data<float>(), E, we->dim(1));
  k->dw_w = pack_depthwise_nhwc(ctx, wd->data<float>(), E, kernel[0], kernel[1]);
  if (wp) k->project_b = pack_pointwise_nhwc(ctx, "inverted_residual project B", wp->data<float>(), wp->dim(0), E);
  k->label = "inverted_residual " + std::to_string(k->in_channels) + "->" + std::to_string(E) + " dw " +
             dims_str(kernel) + " s" + dims_str(k->window.strides) +
             (wp ? " ->" + std::to_string(k->out_channels) : std::string(" (no projection)")) + " " +
             kernels::gemm_kernel_name() + " " + kernels::dwnhwc_kernel_name();
  if (ctx.has_input(kZ)) k->label += " +residual";
  return k;
}

}  // namespace kiln::ops
