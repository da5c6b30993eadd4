// The fast float32 ai.kiln.ConvNhwc (conv_nhwc.cpp), prepared once per session. Forms:
//   - pointwise (1x1, one group, no padding): a GEMM whose A is the activations as they lie, one row of C
//     channels per pixel (M = pixels of every image, K = C), and whose B is W^T packed once (N = M channels):
//     the orientation the GEMM runs best in, with the bias per column, the residual and the activation as its
//     epilogue. At a stride, the sampled pixels are gathered into the thread's scratch first;
//   - pointwise on planes declared 1x1 (a squeeze-excitation FC after the global pool): a matrix-vector product
//     per image, as Conv's (a pixel's channels are the same vector in either layout);
//   - depthwise (one input and one output channel per group): kernels/dwnhwc, each tap of a vector of channels
//     one load and one FMA, weights packed once in blocks of channels.
//   - pointwise with a scale S (a squeeze-excitation gate moved into the projection): where an image has many
//     more pixels than output channels, W^T's rows scaled per image (K x N floats instead of pixels x K) as the
//     GEMM's B (run_scaled_weights_gemm); else X's rows scaled a band at a time into the thread's scratch, then
//     the GEMM (run_scaled_gemm).
// Other convolutions, and inputs this kernel does not expect, run the reference.

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/dwnhwc/dwnhwc.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemv/gemv.h"
#include "kernels/thread_scratch.h"
#include "kernels/vbinary/vbinary.h"
#include "ops/conv_ops.h"
#include "ops/fused_activation.h"
#include "ops/packed_weights.h"
#include "ops/window.h"

namespace kiln::ops {
namespace {

// Scaled 1x1 (run_scaled_gemm): up to this many floats of X * S (1 MiB: a core's L2) are staged whole; larger
// inputs go in bands of about 256 KB of pixel rows (EfficientNet-B0 b8, 1 thread: bands of 64 KB 91.0 ms, 256 KB
// 90.5, 1 MB 90.0, unfused Mul 96.5; 2 threads 47.8, 46.4, 46.7, 48.5: the middle one).
constexpr int64_t kScaledStagedFloats = 262144;
constexpr int64_t kScaledBandFloats = 65536;
// Scaled 1x1: S scales W^T's K x N instead of X's pixels x K where pixels >= kScaleWeightsPixelsPerColumn * N
// (the GEMM then packs the scaled B once per image, another K x N pass). EfficientNet-B0 b1, 1 thread, the
// projections after the gates against scaling X: 12544 px x 32 -> 16 0.199 -> 0.153 ms, 3136 x 144 -> 24 0.317 ->
// 0.271, 784 x 240 -> 40 0.191 -> 0.176; 196 x 480 -> 80 even (0.156, 0.159).
constexpr int64_t kScaleWeightsPixelsPerColumn = 2;

struct NhwcDims {
  int64_t images = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0, pad_top = 0, pad_left = 0;
};

class PreparedConvNhwc final : public PreparedKernel {
 public:
  ComputeFn reference = nullptr;
  int64_t in_channels = 0, out_channels = 0;
  WindowAttrs window;
  kernels::ActivationParams act;
  kernels::PackedGemmOperand packed_b;  // pointwise: W^T, [C, M]
  std::vector<float> gemv_w;            // pointwise on 1x1 planes: kernels::gemv_pack(W)
  std::vector<float> wt;                // scaled pointwise: W^T row-major [C, M] (run_scaled_weights_gemm)
  kernels::VBinaryFn mul = kernels::vbinary_f32_ref;  // scaled pointwise: the active tier's element-wise product
  PackedBytes dw_w;                     // depthwise: kernels::dwnhwc_pack(W)
  std::string label;

  void run(KernelContext& ctx) const override {
    NhwcDims d;
    if (!resolve(ctx, &d)) return reference(ctx);
    const float* x = ctx.input(0).data<float>();
    const float* bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
    const float* residual = ctx.has_input(3) ? ctx.input(3).data<float>() : nullptr;
    float* y = ctx.output(0).data<float>();
    if (ctx.has_input(4)) {  // scaled X: the plain 1x1 form only
      if (!packed_b.empty() && d.pad_top == 0 && d.pad_left == 0 && d.in_h == d.out_h && d.in_w == d.out_w) {
        if (!wt.empty() && d.in_h * d.in_w >= kScaleWeightsPixelsPerColumn * out_channels)
          return run_scaled_weights_gemm(d, x, ctx.input(4).data<float>(), bias, residual, y, ctx.threads());
        return run_scaled_gemm(d, x, ctx.input(4).data<float>(), bias, residual, y, ctx.threads());
      }
      return reference(ctx);
    }
    if (dw_w.data) {
      if (!run_depthwise(d, x, bias, residual, y, ctx.threads())) reference(ctx);
      return;
    }
    if (!gemv_w.empty()) {
      if (d.in_h * d.in_w != 1) return reference(ctx);
      return run_conv_gemv(gemv_w.data(), d.images, in_channels, out_channels, x, bias, residual, y, act,
                           ctx.threads());
    }
    if (d.pad_top != 0 || d.pad_left != 0) return reference(ctx);
    if (d.in_h != d.out_h || d.in_w != d.out_w) x = subsample(d, x, ctx.threads());
    run_gemm(d, x, bias, residual, y, ctx.threads());
  }

  size_t packed_bytes() const override {
    return packed_b.bytes() + (gemv_w.size() + wt.size()) * sizeof(float) + dw_w.size;
  }
  std::string describe() const override { return label; }

 private:
  // The sizes of this run, checked; false when the reference should run the node instead.
  bool resolve(KernelContext& ctx, NhwcDims* d) const {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || x.rank() != 4 || x.dim(3) != in_channels || x.numel() == 0) return false;
    d->images = x.dim(0), d->in_h = x.dim(1), d->in_w = x.dim(2);
    const WindowAxis h = resolve_window_axis(window, 0, d->in_h), w = resolve_window_axis(window, 1, d->in_w);
    if (h.out <= 0 || w.out <= 0 || h.pad_begin < 0 || w.pad_begin < 0) return false;
    d->out_h = h.out, d->out_w = w.out, d->pad_top = h.pad_begin, d->pad_left = w.pad_begin;
    if (!ctx.output_allocated(0)) return false;
    // Y's (and Z's) dims checked one by one: a run allocates nothing.
    const int64_t want[4] = {d->images, d->out_h, d->out_w, out_channels};
    auto has_want_dims = [&](const Tensor& t) {
      return t.dtype() == DType::kFloat32 && t.rank() == 4 && std::equal(want, want + 4, t.dims().begin());
    };
    if (!has_want_dims(ctx.output(0))) return false;
    if (ctx.has_input(2)) {
      const Tensor& b = ctx.input(2);
      if (b.dtype() != DType::kFloat32 || b.rank() != 1 || b.dim(0) != out_channels) return false;
    }
    if (ctx.has_input(3)) {
      if (!has_want_dims(ctx.input(3))) return false;
    }
    if (ctx.has_input(4)) {
      const Tensor& sc = ctx.input(4);
      const int64_t scale_dims[4] = {d->images, 1, 1, in_channels};
      if (sc.dtype() != DType::kFloat32 || sc.rank() != 4 || !std::equal(scale_dims, scale_dims + 4, sc.dims().begin()))
        return false;
    }
    return true;
  }

  bool run_depthwise(const NhwcDims& d, const float* x, const float* bias, const float* residual, float* y,
                     kernels::ThreadPool* pool) const {
    kernels::DwNhwcShape s;
    s.images = d.images, s.channels = in_channels, s.in_h = d.in_h, s.in_w = d.in_w, s.out_h = d.out_h;
    s.out_w = d.out_w, s.kernel_h = window.kernel[0], s.kernel_w = window.kernel[1];
    s.stride_h = window.strides[0], s.stride_w = window.strides[1];
    s.dilation_h = window.dilations[0], s.dilation_w = window.dilations[1];
    s.pad_top = d.pad_top, s.pad_left = d.pad_left;
    kernels::DwNhwcArgs a;
    a.x = x, a.packed_w = static_cast<const float*>(dw_w.data), a.bias = bias, a.residual = residual, a.y = y;
    a.act = act;
    return kernels::dwnhwc_f32(s, a, pool);
  }

  // The pixels a strided 1x1 convolution reads, [images, out_h, out_w, C], in the calling thread's scratch.
  const float* subsample(const NhwcDims& d, const float* x, kernels::ThreadPool* pool) const {
    const int64_t C = in_channels, sh = window.strides[0], sw = window.strides[1];
    float* xs = kernels::thread_scratch_floats(static_cast<size_t>(d.images * d.out_h * d.out_w * C));
    kernels::parallel_for(pool, static_cast<size_t>(d.images * d.out_h), [&](size_t r) {
      const int64_t n = static_cast<int64_t>(r) / d.out_h, oh = static_cast<int64_t>(r) % d.out_h;
      const float* src = x + ((n * d.in_h + oh * sh) * d.in_w) * C;
      float* dst = xs + static_cast<int64_t>(r) * d.out_w * C;
      for (int64_t ow = 0; ow < d.out_w; ++ow) std::copy_n(src + ow * sw * C, C, dst + ow * C);
    });
    return xs;
  }

  // X scaled per image and channel (a squeeze-excitation gate), then the GEMM. Small inputs (the whole batch's
  // X * S within kScaledStagedFloats) are scaled into the calling thread's scratch and multiplied over the pool
  // (the GEMM splits small planes by output channels: each thread reads half of the weights). Larger ones go in
  // bands of pixel rows, each scaled into its thread's scratch and multiplied there, so X * S never goes to
  // memory. The choice and the bands depend on the sizes alone: the bits do not depend on the thread count.
  void run_scaled_gemm(const NhwcDims& d, const float* x, const float* scale, const float* bias,
                       const float* residual, float* y, kernels::ThreadPool* pool) const {
    const int64_t C = in_channels, pixels = d.in_h * d.in_w;
    auto scale_rows = [&](int64_t n, int64_t p0, int64_t p1, float* dst) {
      kernels::BinaryBlock b;  // dst[p][c] = x[p][c] * s[c]
      b.a = x + (n * pixels + p0) * C, b.b = scale + n * C, b.out = dst;
      b.rows = p1 - p0, b.n = C, b.a_row = C, b.b_row = 0, b.out_row = C;
      mul(kernels::BinaryOp::kMul, b);
    };
    if (d.images * pixels * C <= kScaledStagedFloats) {
      float* xs = kernels::thread_scratch_floats(static_cast<size_t>(d.images * pixels * C));
      const int64_t chunk = std::clamp<int64_t>(kScaledBandFloats / C, 1, pixels), chunks = (pixels + chunk - 1) / chunk;
      kernels::parallel_for(pool, static_cast<size_t>(d.images * chunks), [&](size_t item) {
        const int64_t n = static_cast<int64_t>(item) / chunks, p0 = static_cast<int64_t>(item) % chunks * chunk;
        scale_rows(n, p0, std::min(pixels, p0 + chunk), xs + (n * pixels + p0) * C);
      });
      return run_gemm(d, xs, bias, residual, y, pool);
    }
    const int64_t band = std::clamp<int64_t>(kScaledBandFloats / C, 1, pixels), bands = (pixels + band - 1) / band;
    kernels::parallel_for(pool, static_cast<size_t>(d.images * bands), [&](size_t item) {
      const int64_t n = static_cast<int64_t>(item) / bands, p0 = static_cast<int64_t>(item) % bands * band;
      const int64_t p1 = std::min(pixels, p0 + band), first = n * pixels + p0;
      float* xs = kernels::thread_scratch_floats(static_cast<size_t>(band * C));
      scale_rows(n, p0, p1, xs);
      run_pointwise_nhwc(packed_b, p1 - p0, xs, bias, residual ? residual + first * out_channels : nullptr, act,
                         y + first * out_channels, nullptr);
    });
  }

  // Per image: B = diag(S) W^T in the calling thread's scratch, then the GEMM over the pool with that B (packed
  // by the GEMM). The sizes alone choose this form: the bits do not depend on the thread count.
  void run_scaled_weights_gemm(const NhwcDims& d, const float* x, const float* scale, const float* bias,
                               const float* residual, float* y, kernels::ThreadPool* pool) const {
    const int64_t K = in_channels, N = out_channels, pixels = d.in_h * d.in_w;
    float* bs = kernels::thread_scratch_floats(static_cast<size_t>(K * N));
    for (int64_t n = 0; n < d.images; ++n) {
      kernels::BinaryBlock b;  // bs[k][m] = wt[k][m] * s[k]
      b.a = wt.data(), b.b = scale + n * K, b.out = bs;
      b.rows = K, b.n = N, b.a_row = N, b.b_row = 1, b.out_row = N, b.b_col = false;
      mul(kernels::BinaryOp::kMul, b);
      kernels::GemmArgs g;
      g.M = pixels, g.K = K, g.N = N;
      g.a = {x + n * pixels * K, K, false};
      g.b = {bs, N, false};
      g.c = y + n * pixels * N, g.ldc = N;
      g.epilogue.bias = bias;
      g.epilogue.bias_axis = kernels::GemmEpilogue::BiasAxis::kPerColumn;
      g.epilogue.residual = residual ? residual + n * pixels * N : nullptr;
      g.epilogue.ldr = N;
      g.epilogue.activation = act;
      kernels::gemm_f32(g, pool);
    }
  }

  void run_gemm(const NhwcDims& d, const float* x, const float* bias, const float* residual, float* y,
                kernels::ThreadPool* pool) const {
    run_pointwise_nhwc(packed_b, d.images * d.out_h * d.out_w, x, bias, residual, act, y, pool);
  }
};

// True when X's planes are declared 1x1 ([N, 1, 1, C]).
bool declared_single_pixel(const Shape& x) {
  return x.rank_known && x.rank() == 4 && x.dims[1].is_known() && x.dims[1].value() == 1 && x.dims[2].is_known() &&
         x.dims[2].value() == 1;
}

// True when X's planes are declared with fewer than `pixels` pixels (run_scaled_weights_gemm never runs then).
bool declared_fewer_pixels(const Shape& x, int64_t pixels) {
  return x.rank_known && x.rank() == 4 && x.dims[1].is_known() && x.dims[2].is_known() &&
         x.dims[1].value() * x.dims[2].value() < pixels;
}

}  // namespace

void run_pointwise_nhwc(const kernels::PackedGemmOperand& b, int64_t rows, const float* a, const float* bias,
                        const float* residual, const kernels::ActivationParams& act, float* c,
                        kernels::ThreadPool* pool) {
  kernels::GemmArgs g;
  g.M = rows, g.K = b.rows(), g.N = b.cols();
  g.a = {a, g.K, false};
  g.packed_b = &b;
  g.c = c, g.ldc = g.N;
  g.epilogue.bias = bias;
  g.epilogue.bias_axis = kernels::GemmEpilogue::BiasAxis::kPerColumn;
  g.epilogue.residual = residual;
  g.epilogue.ldr = g.N;
  g.epilogue.activation = act;
  kernels::gemm_f32(g, pool);
}

kernels::PackedGemmOperand pack_pointwise_nhwc(PrepareContext& ctx, const char* what, const float* w, int64_t M,
                                               int64_t K) {
  // B = W^T: logical element (k, m) is W[m, k], the transpose of W's [M, K] rows.
  return pack_gemm_weights(ctx, what, kernels::GemmSide::kB, K, M, [&] { return kernels::MatrixRef{w, K, true}; });
}

PackedBytes pack_depthwise_nhwc(PrepareContext& ctx, const float* w, int64_t channels, int64_t kernel_h,
                                int64_t kernel_w) {
  const size_t bytes = kernels::dwnhwc_packed_floats(channels, kernel_h, kernel_w) * sizeof(float);
  return ctx.packed({"dwnhwc W", "dwnhwc", {channels, kernel_h, kernel_w}}, bytes, [&](void* dst, size_t) {
    kernels::dwnhwc_pack(w, channels, kernel_h, kernel_w, static_cast<float*>(dst));
  });
}

std::unique_ptr<PreparedKernel> prepare_conv_nhwc(PrepareContext& ctx) {
  const Tensor* w = ctx.input_value(1);
  if (!w || w->dtype() != DType::kFloat32 || w->rank() != 4) return nullptr;
  const OpSchema* schema = find_op(ctx.node().domain, ctx.node().op_type);
  if (!schema || !schema->compute) return nullptr;
  const int64_t group = ctx.attr_int("group", 1), M = w->dim(0), Cg = w->dim(1);
  const std::vector<int64_t> kernel{w->dim(2), w->dim(3)};
  const std::vector<int64_t> k_attr = ctx.attr_ints("kernel_shape", {});
  if (M == 0 || Cg == 0 || (!k_attr.empty() && k_attr != kernel)) return nullptr;
  const bool pointwise = group == 1 && kernel == std::vector<int64_t>{1, 1};
  const bool depthwise = Cg == 1 && group == M;
  if (!pointwise && !depthwise) return nullptr;

  auto k = std::make_unique<PreparedConvNhwc>();
  k->reference = schema->compute;
  k->in_channels = Cg * group, k->out_channels = M;
  k->window = read_window_attrs(ctx, rank_of("W", w->dims()), kernel, false);
  k->act = read_fused_activation(ctx);
  const float* wd = w->data<float>();
  std::string form;
  if (depthwise && !pointwise) {
    k->dw_w = pack_depthwise_nhwc(ctx, wd, M, kernel[0], kernel[1]);
    const char* name = kernels::dwnhwc_kernel_name();
    form = std::string("depthwise ") + (name ? name : "reference");
  } else {
    if (k->window.auto_pad != AutoPad::kNotSet && k->window.auto_pad != AutoPad::kValid) return nullptr;
    if (std::any_of(k->window.pads.begin(), k->window.pads.end(), [](int64_t p) { return p != 0; })) return nullptr;
    if (k->window.dilations != std::vector<int64_t>{1, 1}) return nullptr;
    if (declared_single_pixel(ctx.input(0).shape) && k->window.strides == std::vector<int64_t>{1, 1}) {
      k->gemv_w = kernels::gemv_pack(wd, M, Cg);
      form = std::string("gemv ") + kernels::gemv_kernel_name();
    } else {
      k->packed_b = pack_pointwise_nhwc(ctx, "conv_nhwc B", wd, M, Cg);
      if (kernels::VBinaryFn fn = kernels::vbinary_kernel_for(kernels::active_isa())) k->mul = fn;
      if (ctx.has_input(4) && !declared_fewer_pixels(ctx.input(0).shape, kScaleWeightsPixelsPerColumn * M)) {
        k->wt.resize(static_cast<size_t>(Cg * M));
        for (int64_t m = 0; m < M; ++m)
          for (int64_t c = 0; c < Cg; ++c) k->wt[c * M + m] = wd[m * Cg + c];
      }
      const bool strided = k->window.strides != std::vector<int64_t>{1, 1};
      form = std::string(strided ? "gemm-subsampled " : "gemm ") + kernels::gemm_kernel_name();
    }
  }
  k->label = "conv_nhwc " + dims_str(kernel) + " s" + dims_str(k->window.strides) + " " + form;
  if (ctx.has_input(2)) k->label += " +bias";
  if (ctx.has_input(3)) k->label += " +residual";
  if (ctx.has_input(4)) k->label += " +scale";
  if (k->act.kind != kernels::Activation::kNone) k->label += std::string(" +") + kernels::activation_name(k->act.kind);
  return k;
}

}  // namespace kiln::ops
