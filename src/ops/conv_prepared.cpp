// The fast float32 path of Conv and ai.kiln.FusedConv (1-D, 2-D, 3-D). Prepared once per session: the weights of
// each group are packed as the GEMM's A operand, or kept for the direct kernel. Per run the tactic follows
// the resolved sizes:
//   - direct (2-D, depthwise or at most kDirectMaxGroupIn input channels per group): kernels/dwconv, vectorised
//     along the output width;
//   - pointwise (1x1, stride 1, no padding): a plain GEMM straight on the NCHW input, batched over images;
//   - otherwise an implicit GEMM (conv_implicit_gemm.h): input windows gathered per block while B is packed.
// Bias (per output channel = per GEMM row), the residual Z and the activation are the GEMM's epilogue (or the
// direct kernel's), so Y is written once. Inputs this kernel does not expect (another dtype or rank, channel
// mismatches, bad bias or residual shapes, empty tensors) go to the op's reference compute, which reports them.

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/dwchan/dwchan.h"
#include "kernels/dwconv/dwconv.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemv/gemv.h"
#include "kernels/stemconv/stemconv.h"
#include "kernels/thread_scratch.h"
#include "kernels/winograd/winograd.h"
#include "ops/conv_implicit_gemm.h"
#include "ops/conv_ops.h"
#include "ops/conv_winograd.h"
#include "ops/fused_activation.h"
#include "ops/packed_weights.h"
#include "ops/tactic.h"
#include "ops/window.h"

namespace kiln::ops {
namespace {

// Input channels per group up to which the direct kernel runs a 2-D convolution (depthwise: 1; an RGB stem: 3;
// ResNeXt: 4): with so few, the implicit GEMM's K is too short for its tiles (measured: see prepare_conv).
constexpr int64_t kDirectMaxGroupIn = 4;
// ... except a patch embedding (kernel = stride: ViT's 16x16 stride 16, Swin's 4x4 stride 4), whose windows do
// not overlap: the implicit GEMM's fill only rearranges the input once, and its K (3 x kernel area) is long.
// Measured, 3 channels at 224x224, 1 thread, Zen 2: 4x4 -> 96 channels 0.62 -> 0.49 ms, 8x8 -> 192 0.98 -> 0.74,
// 16x16 -> 192 0.95 -> 0.78 (ViT-tiny's, in the network 1.15 -> 0.83); an overlapping 11x11 stride 4 stays
// direct (2.25 ms against 2.52).
bool patch_embedding(const std::vector<int64_t>& kernel, const WindowAttrs& w) {
  return kernel.size() == 2 && kernel[0] > 1 && w.strides == kernel && w.dilations == std::vector<int64_t>{1, 1};
}

// A 1x1 unpadded convolution with a stride is a pointwise one on the input's samples at the stride: they are
// gathered once into the calling thread's scratch (per image: channels x output positions, a quarter of the input
// at stride 2) and run as the plain GEMM, instead of the implicit GEMM's per-panel fill, which took a third of
// the time of ResNet-50's stride-2 downsamples (62-75 GFLOP/s on Zen 2, AVX2).
bool subsampled_pointwise(const ConvDims& d) {
  for (int i = 0; i < 3; ++i)
    if (d.kernel[i] != 1 || d.pad_begin[i] != 0 || d.pad_end[i] != 0) return false;
  return !d.pointwise();
}

// x's samples at d's strides, [batch, in_channels, out positions], and d as the pointwise convolution over them.
const float* subsample(const float* x, ConvDims* d, kernels::ThreadPool* pool) {
  const int64_t planes = d->batch * d->in_channels, is = d->in_size(), os = d->out_size();
  float* xs = kernels::thread_scratch_floats(static_cast<size_t>(planes * os));
  const ConvDims s = *d;
  kernels::parallel_for(pool, static_cast<size_t>(planes), [&](size_t p) {
    const float* src = x + static_cast<int64_t>(p) * is;
    float* dst = xs + static_cast<int64_t>(p) * os;
    for (int64_t od = 0; od < s.out[0]; ++od)
      for (int64_t oh = 0; oh < s.out[1]; ++oh) {
        const float* row = src + (od * s.stride[0] * s.in[1] + oh * s.stride[1]) * s.in[2];
        for (int64_t ow = 0; ow < s.out[2]; ++ow) *dst++ = row[ow * s.stride[2]];
      }
  });
  for (int i = 0; i < 3; ++i) d->in[i] = d->out[i], d->stride[i] = 1;
  return xs;
}

class PreparedConv final : public PreparedKernel {
 public:
  ComputeFn reference = nullptr;  // the node's reference compute (Conv's or FusedConv's)
  size_t spatial = 0;
  int64_t in_channels = 0, out_channels = 0, group = 1;
  WindowAttrs window;
  kernels::ActivationParams act;
  bool direct = false;
  std::vector<kernels::PackedGemmOperand> packed;  // per group: Mg x (Cg * kernel size)
  std::vector<float> dw_weights;                   // direct: W as it is, [M, C / group, kernel_h, kernel_w]
  std::unique_ptr<WinogradConv> winograd;          // 3x3 stride 1 (then `packed` is empty)
  std::vector<float> gemv_w;                       // pointwise on declared 1x1 planes: kernels::gemv_pack(W)
  std::string label;

  void run(KernelContext& ctx) const override {
    ConvDims d;
    const int64_t y_image_stride = ctx.output_image_stride();
    if (!resolve(ctx, &d)) {
      // The plan places images apart only where the shapes it knew resolve: the reference writes them packed.
      if (y_image_stride) fail(ErrorCode::kInternal, "Conv: output images placed apart, but the sizes do not resolve");
      return reference(ctx);
    }
    const float* x = ctx.input(0).data<float>();
    const float* bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
    const float* residual = ctx.has_input(3) ? ctx.input(3).data<float>() : nullptr;
    float* y = ctx.output(0).data<float>();
    if (direct) return run_direct(d, x, bias, residual, y, ctx.threads());
    if (!gemv_w.empty()) {
      if (!d.pointwise() || d.in_size() != 1) return reference(ctx);
      return run_conv_gemv(gemv_w.data(), d.batch, in_channels, out_channels, x, bias, residual, y, act,
                           ctx.threads());
    }
    const int64_t y_image = y_image_stride ? y_image_stride : out_channels * d.out_size();
    if (winograd) return winograd->run(d, x, bias, residual, y, y_image, act, ctx.threads());
    if (subsampled_pointwise(d)) x = subsample(x, &d, ctx.threads());
    run_gemm(d, x, bias, residual, y, y_image, ctx.threads());
  }

  // The GEMM and Winograd tactics write each image at a given stride (an in-place Concat's slice at batch > 1).
  bool writes_strided_images() const override { return !direct && gemv_w.empty(); }

  size_t packed_bytes() const override {
    size_t bytes = (dw_weights.size() + gemv_w.size()) * sizeof(float) + (winograd ? winograd->bytes() : 0);
    for (const auto& p : packed) bytes += p.bytes();
    return bytes;
  }

  std::string describe() const override { return label; }

 private:
  // The sizes of this run, checked; false when the reference should run the node instead.
  bool resolve(KernelContext& ctx, ConvDims* d) const {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || x.rank() != spatial + 2 || x.dim(1) != in_channels || x.numel() == 0)
      return false;
    d->batch = x.dim(0);
    d->in_channels = in_channels;
    d->out_channels = out_channels;
    d->group = group;
    const size_t lead = 3 - spatial;
    for (size_t i = 0; i < spatial; ++i) {
      const WindowAxis a = resolve_window_axis(window, i, x.dim(2 + i));
      if (a.out <= 0) return false;
      d->in[lead + i] = x.dim(2 + i);
      d->out[lead + i] = a.out;
      d->kernel[lead + i] = window.kernel[i];
      d->stride[lead + i] = window.strides[i];
      d->dilation[lead + i] = window.dilations[i];
      d->pad_begin[lead + i] = a.pad_begin;
      d->pad_end[lead + i] = a.pad_end;
    }
    if (!ctx.output_allocated(0)) return false;
    const Tensor& y = ctx.output(0);
    if (y.dtype() != DType::kFloat32 || y.rank() != x.rank() || y.dim(0) != d->batch || y.dim(1) != out_channels)
      return false;
    for (size_t i = 0; i < spatial; ++i)
      if (y.dim(2 + i) != d->out[lead + i]) return false;
    if (ctx.has_input(2)) {
      const Tensor& b = ctx.input(2);
      if (b.dtype() != DType::kFloat32 || b.rank() != 1 || b.dim(0) != out_channels) return false;
    }
    if (ctx.has_input(3)) {
      const Tensor& z = ctx.input(3);
      if (z.dtype() != DType::kFloat32 || z.dims() != y.dims()) return false;
    }
    return true;
  }

  void run_direct(const ConvDims& d, const float* x, const float* bias, const float* residual, float* y,
                  kernels::ThreadPool* pool) const {
    kernels::DwConvShape s;
    s.in_h = d.in[1], s.in_w = d.in[2], s.out_h = d.out[1], s.out_w = d.out[2];
    s.kernel_h = d.kernel[1], s.kernel_w = d.kernel[2];
    s.stride_h = d.stride[1], s.stride_w = d.stride[2];
    s.dilation_h = d.dilation[1], s.dilation_w = d.dilation[2];
    s.pad_top = d.pad_begin[1], s.pad_left = d.pad_begin[2];
    kernels::DwConvArgs a;
    a.x = x, a.w = dw_weights.data(), a.bias = bias, a.residual = residual, a.y = y;
    a.images = d.batch, a.in_channels = in_channels, a.channels = out_channels, a.groups = group;
    a.act = act;
    kernels::dwconv_f32(s, a, pool);
  }

  // One GEMM per group (pointwise: batched over images; otherwise per image, an implicit GEMM). With at least two
  // GEMMs per thread they are spread over the pool, each on one thread: one parallel region instead of one or
  // two per GEMM. The GEMM's result does not depend on its thread count, so neither does the convolution's.
  // y's images are y_image floats apart (the residual's are packed).
  void run_gemm(const ConvDims& d, const float* x, const float* bias, const float* residual, float* y,
                int64_t y_image, kernels::ThreadPool* pool) const {
    const int64_t Cg = in_channels / group, Mg = out_channels / group;
    const int64_t is = d.in_size(), os = d.out_size();
    const bool pointwise = d.pointwise();
    const int64_t calls = pointwise ? group : d.batch * group;
    auto call = [&](int64_t i, kernels::ThreadPool* gemm_pool) {
      const int64_t n = pointwise ? 0 : i / group, gi = i % group;
      const int64_t in_offset = (n * in_channels + gi * Cg) * is, out_offset = (n * out_channels + gi * Mg) * os;
      kernels::GemmArgs g;
      g.M = Mg, g.N = os, g.K = Cg * d.kernel_size();
      g.packed_a = &packed[static_cast<size_t>(gi)];
      g.c = y + n * y_image + gi * Mg * os;
      g.ldc = os;
      g.epilogue.bias_axis = kernels::GemmEpilogue::BiasAxis::kPerRow;
      g.epilogue.bias = bias ? bias + gi * Mg : nullptr;
      g.epilogue.residual = residual ? residual + out_offset : nullptr;
      g.epilogue.ldr = os;
      g.epilogue.activation = act;
      if (pointwise) {  // B is the group's input planes as they lie: [Cg, positions], batched over images
        g.b = {x + in_offset, is, false};
        g.batch = d.batch;
        g.stride_b = in_channels * is;
        g.stride_c = y_image;
        g.stride_residual = out_channels * os;
        return kernels::gemm_f32(g, gemm_pool);
      }
      // Column stride 2: the group's rows split into even and odd columns first, so the fill copies runs.
      const float* xg = x + in_offset;
      int64_t phase_width = 0;
      if (d.stride[2] == 2) {
        thread_local std::vector<float> split;
        if (split.size() < static_cast<size_t>(Cg * is)) split.resize(static_cast<size_t>(Cg * is));
        // Over the GEMM's threads, each a range of rows (into this thread's buffer: named inside the loop, the
        // thread_local would be each worker's own). Zen 4, 2 threads, ResNet-50's 3x3 stride-2 layers alone:
        // 56x56 128 -> 128 1.32 -> 1.29 ms, 28x28 1.36 -> 1.35, 14x14 1.44 -> 1.42.
        const int64_t rows = Cg * d.in[0] * d.in[1], width = d.in[2];
        const size_t parts = gemm_pool ? gemm_pool->threads() : 1;
        float* const dst = split.data();
        kernels::parallel_for(gemm_pool, parts, [&](size_t p) {
          const int64_t r0 = rows * static_cast<int64_t>(p) / static_cast<int64_t>(parts);
          const int64_t r1 = rows * static_cast<int64_t>(p + 1) / static_cast<int64_t>(parts);
          split_column_phases(xg + r0 * width, r1 - r0, width, dst + r0 * width);
        });
        xg = dst, phase_width = (width + 1) / 2;
      }
      const ConvColumns columns(xg, d, phase_width);
      const kernels::GemmBSource source{fill_conv_columns, &columns};
      g.b_source = &source;
      kernels::gemm_f32(g, gemm_pool);
    };
    if (pool && calls >= 2 * static_cast<int64_t>(pool->threads())) {
      kernels::parallel_for(pool, static_cast<size_t>(calls), [&](size_t i) { call(static_cast<int64_t>(i), nullptr); });
    } else {
      for (int64_t i = 0; i < calls; ++i) call(i, pool);
    }
  }
};

// Winograd F(2x2, 3x3) where it applies (3x3, stride 1, no dilation, one group) and pays: with 8 or more input and
// output channels it was faster than the implicit GEMM on every layer measured (1.2x at 16 -> 64 channels, 1.6x
// to 2.2x from 8 channels up to ResNet's 512; Zen 2, AVX2), with 3 input channels (an RGB stem) 1.5x slower.
// Its error stays within 2x the direct float32 sum's (winograd_test.cpp: rel-L2 below 1e-6 against float64).
bool winograd_applies(const PreparedConv& k, const std::vector<int64_t>& kernel) {
  const WindowAttrs& w = k.window;
  if (k.spatial != 2 || k.group != 1 || kernel != std::vector<int64_t>{3, 3}) return false;
  return w.strides == std::vector<int64_t>{1, 1} && w.dilations == std::vector<int64_t>{1, 1};
}
bool use_winograd(const PreparedConv& k, const std::vector<int64_t>& kernel) {
  return winograd_applies(k, kernel) && k.in_channels >= 8 && k.out_channels >= 8;
}

// Where Winograd applies, the candidate tactics (kiln build times them at the opt shape and the engine records the
// fastest; a session of the ONNX file follows the rules above): F(4x4, 3x3) where its error is within bounds
// (winograd_f4_accurate: an accuracy limit, kept), F(2x2, 3x3) and the implicit GEMM. The rules guess from the
// channels and the declared image size (unknown at prepare for a dynamic one); the build measures at the opt
// shape on this CPU. It times a node alone, its weights warm in cache after the first run, which flatters the
// tactics with more weight bytes (F(4x4, 3x3): 4x the filter's) where a large network streams them from memory
// (conv_winograd.cpp's 14x14 note). Returns the tile to use: 4, 2, or 0 for the implicit GEMM.
int conv_tactic(PrepareContext& ctx, const PreparedConv& k, const std::vector<int64_t>& kernel) {
  const Shape& xs = ctx.input(0).shape;  // the image's size, when the plan knows it already
  auto dim = [&](size_t i) { return xs.rank_known && xs.rank() == 4 ? xs.dims[i].value() : int64_t{-1}; };
  const int rule_tile = use_winograd(k, kernel) ? winograd_tile(k.out_channels, k.in_channels, dim(2), dim(3)) : 0;
  std::vector<std::string> names;
  std::vector<int> tiles;
  if (winograd_f4_accurate(k.out_channels, k.in_channels)) names.push_back("winograd-f4"), tiles.push_back(4);
  names.push_back("winograd-f2"), tiles.push_back(2);
  names.push_back("implicit-gemm"), tiles.push_back(0);
  const size_t rule = static_cast<size_t>(std::find(tiles.begin(), tiles.end(), rule_tile) - tiles.begin());
  return tiles[choose_tactic(ctx, names, rule)];
}

// The plane size of a 1x1 stride-1 unpadded one-group convolution whose input's spatial dims are declared numbers;
// 0 otherwise.
int64_t declared_pointwise_positions(const PreparedConv& k, const std::vector<int64_t>& kernel, const Shape& x) {
  const WindowAttrs& w = k.window;
  if (k.group != 1 || !x.rank_known || x.dims.size() != k.spatial + 2 || w.auto_pad != AutoPad::kNotSet) return 0;
  if (!std::all_of(w.pads.begin(), w.pads.end(), [](int64_t v) { return v == 0; })) return 0;
  int64_t positions = 1;
  for (size_t i = 0; i < k.spatial; ++i) {
    if (kernel[i] != 1 || w.strides[i] != 1 || !x.dims[2 + i].is_known()) return 0;
    positions *= x.dims[2 + i].value();
  }
  return positions;
}

// A 1x1 stride-1 unpadded convolution, one group, whose input planes are declared 1x1 (a squeeze-excitation
// block's FCs after GlobalAveragePool): the GEMM would run it with N = 1 in 16-column panels; a matrix-vector
// product streams W once (MobileNet-v3's 960 -> 240 FC: see kernels/gemv's commit). Small planes that are not
// 1x1 (7x7: 49 columns) run the GEMM, whose column tiles take the last panel's few columns; a transposed form
// (Y^T = X^T W^T, then a transpose copy) was 7-16 % faster before those tiles and is slower since (MobileNet-v2
// and EfficientNet-b0 at 2 threads: 7-9 % slower with it, equal at 1 thread).
bool use_gemv(const PreparedConv& k, const std::vector<int64_t>& kernel, const Shape& x) {
  return declared_pointwise_positions(k, kernel, x) == 1;
}

std::string describe_conv(const PreparedConv& k, const std::vector<int64_t>& kernel, bool has_bias, bool has_residual) {
  std::string s = "conv " + dims_str(kernel) + " s" + dims_str(k.window.strides);
  if (k.group != 1) s += " g" + std::to_string(k.group);
  if (k.direct) {
    // Without a residual, depthwise and stems run the channel-blocked kernels (kernels/dwchan, kernels/stemconv)
    // where the tier has them.
    const bool depthwise = k.group == k.in_channels && k.group == k.out_channels && !has_residual;
    const bool stem = k.group == 1 && k.in_channels <= kernels::kStemConvMaxIn && !has_residual;
    const char* chan = depthwise ? kernels::dwchan_kernel_name() : stem ? kernels::stemconv_kernel_name() : nullptr;
    s += std::string(" direct ") + (chan ? chan : kernels::dwconv_kernel_name());
  } else if (!k.gemv_w.empty()) {
    s += std::string(" gemv ") + kernels::gemv_kernel_name();
  } else if (k.winograd) {
    s += std::string(" winograd ") + kernels::winograd_kernel_name(k.winograd->tile()) + " + " + kernels::gemm_kernel_name();
  } else {
    // 1x1, no pads: the input planes (at a stride: their samples) are B as they lie (decided per run; the
    // attributes tell already).
    const WindowAttrs& w = k.window;
    bool pointwise = std::all_of(kernel.begin(), kernel.end(), [](int64_t v) { return v == 1; });
    if (w.auto_pad == AutoPad::kNotSet)
      pointwise = pointwise && std::all_of(w.pads.begin(), w.pads.end(), [](int64_t v) { return v == 0; });
    const bool strided = !std::all_of(w.strides.begin(), w.strides.end(), [](int64_t v) { return v == 1; });
    s += std::string(!pointwise ? " implicit-gemm " : strided ? " gemm-subsampled " : " gemm ") +
         kernels::gemm_kernel_name();
  }
  if (has_bias) s += " +bias";
  if (has_residual) s += " +residual";
  if (k.act.kind != kernels::Activation::kNone) s += std::string(" +") + kernels::activation_name(k.act.kind);
  return s;
}

}  // namespace

void run_conv_gemv(const float* packed_w, int64_t images, int64_t in_channels, int64_t out_channels, const float* x,
                   const float* bias, const float* residual, float* y, const kernels::ActivationParams& act,
                   kernels::ThreadPool* pool) {
  for (int64_t n = 0; n < images; ++n) {
    kernels::GemvArgs g;
    g.wp = packed_w, g.x = x + n * in_channels, g.bias = bias;
    g.residual = residual ? residual + n * out_channels : nullptr;
    g.y = y + n * out_channels, g.M = out_channels, g.K = in_channels, g.act = act;
    kernels::gemv_f32(g, pool);
  }
}

std::unique_ptr<PreparedKernel> prepare_conv(PrepareContext& ctx) {
  const Tensor* w = ctx.input_value(1);
  if (!w || w->dtype() != DType::kFloat32 || w->rank() < 3 || w->rank() > 5) return nullptr;
  const DType xt = ctx.input(0).dtype;
  if (xt != DType::kFloat32 && xt != DType::kUndefined) return nullptr;
  if (ctx.has_input(2) && ctx.input(2).dtype != DType::kFloat32 && ctx.input(2).dtype != DType::kUndefined)
    return nullptr;
  const bool fused = ctx.node().domain == "ai.kiln";
  if (!fused && ctx.num_inputs() > 3) return nullptr;
  const OpSchema* schema = find_op(ctx.node().domain, ctx.node().op_type);
  if (!schema || !schema->compute) return nullptr;

  auto k = std::make_unique<PreparedConv>();
  k->reference = schema->compute;
  k->spatial = w->rank() - 2;
  k->group = ctx.attr_int("group", 1);
  const int64_t M = w->dim(0), Cg = w->dim(1);
  if (k->group < 1 || M % k->group != 0 || M == 0 || Cg == 0) return nullptr;
  k->in_channels = Cg * k->group;
  k->out_channels = M;
  std::vector<int64_t> kernel(w->dims().begin() + 2, w->dims().end());
  const std::vector<int64_t> k_attr = ctx.attr_ints("kernel_shape", {});
  if (!k_attr.empty() && k_attr != kernel) return nullptr;
  k->window = read_window_attrs(ctx, rank_of("W", w->dims()), kernel, false);
  if (fused) k->act = read_fused_activation(ctx);

  const int64_t ks = w->numel() / M / Cg, Mg = M / k->group;
  const float* wd = w->data<float>();
  k->direct = k->spatial == 2 && Cg <= kDirectMaxGroupIn && !patch_embedding(kernel, k->window) &&
              kernel[0] <= kernels::kDwConvMaxKernel && kernel[1] <= kernels::kDwConvMaxKernel &&
              k->window.strides[1] <= kernels::kDwConvMaxKernel;
  if (k->direct) {
    k->dw_weights.assign(wd, wd + w->numel());
  } else if (winograd_applies(*k, kernel)) {
    if (const int tile = conv_tactic(ctx, *k, kernel)) {
      k->winograd = std::make_unique<WinogradConv>(ctx, wd, M, Cg, tile);
      if (!k->winograd->usable()) k->winograd.reset();  // no transforms for the GEMM kernel's panels
    }
  } else if (use_gemv(*k, kernel, ctx.input(0).shape)) {
    k->gemv_w = kernels::gemv_pack(wd, M, Cg);
  }
  if (!k->direct && !k->winograd && k->gemv_w.empty()) {
    for (int64_t gi = 0; gi < k->group; ++gi)
      k->packed.push_back(pack_gemm_weights(ctx, "conv A g" + std::to_string(gi), kernels::GemmSide::kA, Mg, Cg * ks,
                                            [&] { return kernels::MatrixRef{wd + gi * Mg * Cg * ks, Cg * ks, false}; }));
  }
  k->label = describe_conv(*k, kernel, ctx.has_input(2), fused && ctx.has_input(3));
  return k;
}

}  // namespace kiln::ops
