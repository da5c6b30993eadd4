// The fast float32 ConvTranspose (1-D, 2-D, 3-D, grouped). Per image and group: col [Mg * kernel, input positions]
// = Wᵀ_g · X_g by the packed GEMM (Wᵀ packed once as the A operand), then col2im scatters col into Y, whose planes
// start at the bias. The scatter is split over output channels (each channel's plane is written by its own col
// rows), so the result does not depend on the thread count. The col buffer is per thread and reused.

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "ops/conv_core.h"
#include "ops/conv_implicit_gemm.h"
#include "ops/conv_transpose_shape.h"

namespace kiln::ops {
namespace {

// Adds col rows [m * ks, (m + 1) * ks) (one output channel) into that channel's plane y. d is the forward view:
// d.in = Y's spatial dims, d.out = X's (see ConvProblem).
void col2im_channel(const ConvDims& d, const float* col, float* y) {
  const int64_t ks = d.kernel_size(), xs = d.out_size();
  const int64_t in_w = d.in[2], out_w = d.out[2], sw = d.stride[2];
  for (int64_t k = 0; k < ks; ++k) {
    const int64_t kd = k / (d.kernel[1] * d.kernel[2]), kh = k / d.kernel[2] % d.kernel[1], kw = k % d.kernel[2];
    const int64_t base_w = kw * d.dilation[2] - d.pad_begin[2];
    int64_t lo, hi;
    valid_output_range(base_w, sw, in_w, out_w, &lo, &hi);
    const float* src = col + k * xs;
    for (int64_t od = 0; od < d.out[0]; ++od) {
      const int64_t id = od * d.stride[0] + kd * d.dilation[0] - d.pad_begin[0];
      if (id < 0 || id >= d.in[0]) continue;
      for (int64_t oh = 0; oh < d.out[1]; ++oh) {
        const int64_t ih = oh * d.stride[1] + kh * d.dilation[1] - d.pad_begin[1];
        if (ih < 0 || ih >= d.in[1]) continue;
        const float* s = src + (od * d.out[1] + oh) * out_w;
        float* row = y + (id * d.in[1] + ih) * in_w + base_w;  // row[o * sw] receives s[o] for o in [lo, hi)
        if (sw == 1) {
          for (int64_t o = lo; o < hi; ++o) row[o] += s[o];
        } else {
          for (int64_t o = lo; o < hi; ++o) row[o * sw] += s[o];
        }
      }
    }
  }
}

class PreparedConvTranspose final : public PreparedKernel {
 public:
  size_t spatial = 0;
  int64_t in_channels = 0, out_channels = 0, group = 1;
  TransposeAttrs attrs;
  std::vector<kernels::PackedGemmOperand> packed;  // per group: (Mg * kernel) x Cg
  std::string label;

  void run(KernelContext& ctx) const override {
    ConvDims d;
    if (!resolve(ctx, &d)) return compute_conv_transpose(ctx);
    const float* x = ctx.input(0).data<float>();
    const float* bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
    float* y = ctx.output(0).data<float>();
    const int64_t Cg = in_channels / group, Mg = out_channels / group, ks = d.kernel_size();
    const int64_t xs = d.out_size(), ys = d.in_size();
    thread_local std::vector<float> col;
    if (col.size() < static_cast<size_t>(Mg * ks * xs)) col.resize(static_cast<size_t>(Mg * ks * xs));
    for (int64_t n = 0; n < d.batch; ++n) {
      for (int64_t gi = 0; gi < group; ++gi) {
        kernels::GemmArgs g;
        g.M = Mg * ks, g.N = xs, g.K = Cg;
        g.packed_a = &packed[static_cast<size_t>(gi)];
        g.b = {x + (n * in_channels + gi * Cg) * xs, xs, false};
        g.c = col.data();
        g.ldc = xs;
        kernels::gemm_f32(g, ctx.threads());
        float* yg = y + (n * out_channels + gi * Mg) * ys;
        const float* cols = col.data();
        kernels::parallel_for(ctx.threads(), static_cast<size_t>(Mg), [&](size_t mi) {
          const int64_t m = static_cast<int64_t>(mi);
          float* plane = yg + m * ys;
          std::fill(plane, plane + ys, bias ? bias[gi * Mg + m] : 0.0f);
          col2im_channel(d, cols + m * ks * xs, plane);
        });
      }
    }
  }

  size_t packed_bytes() const override {
    size_t bytes = 0;
    for (const auto& p : packed) bytes += p.bytes();
    return bytes;
  }
  std::string describe() const override { return label; }

 private:
  bool resolve(KernelContext& ctx, ConvDims* d) const {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || x.rank() != spatial + 2 || x.dim(1) != in_channels || x.numel() == 0)
      return false;
    d->batch = x.dim(0);
    d->in_channels = in_channels, d->out_channels = out_channels, d->group = group;
    const size_t lead = 3 - spatial;
    for (size_t i = 0; i < spatial; ++i) {
      const WindowAxis a = resolve_transpose_axis(attrs, i, x.dim(2 + i));
      if (a.out <= 0) return false;
      d->in[lead + i] = a.out;  // the forward view: Y is the input of the convolution that maps back to X
      d->out[lead + i] = x.dim(2 + i);
      d->kernel[lead + i] = attrs.w.kernel[i];
      d->stride[lead + i] = attrs.w.strides[i];
      d->dilation[lead + i] = attrs.w.dilations[i];
      d->pad_begin[lead + i] = a.pad_begin;
      d->pad_end[lead + i] = a.pad_end;
    }
    if (!ctx.output_allocated(0)) return false;
    const Tensor& y = ctx.output(0);
    if (y.dtype() != DType::kFloat32 || y.rank() != x.rank() || y.dim(0) != d->batch || y.dim(1) != out_channels)
      return false;
    for (size_t i = 0; i < spatial; ++i)
      if (y.dim(2 + i) != d->in[lead + i]) return false;
    if (ctx.has_input(2)) {
      const Tensor& b = ctx.input(2);
      if (b.dtype() != DType::kFloat32 || b.rank() != 1 || b.dim(0) != out_channels) return false;
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<PreparedKernel> prepare_conv_transpose(PrepareContext& ctx) {
  const Tensor* w = ctx.input_value(1);
  if (!w || w->dtype() != DType::kFloat32 || w->rank() < 3 || w->rank() > 5) return nullptr;
  const DType xt = ctx.input(0).dtype;
  if (xt != DType::kFloat32 && xt != DType::kUndefined) return nullptr;
  if (ctx.has_input(2) && ctx.input(2).dtype != DType::kFloat32 && ctx.input(2).dtype != DType::kUndefined)
    return nullptr;
  auto k = std::make_unique<PreparedConvTranspose>();
  k->spatial = w->rank() - 2;
  k->group = ctx.attr_int("group", 1);
  const int64_t C = w->dim(0), Mg = w->dim(1);
  if (k->group < 1 || C % k->group != 0 || C == 0 || Mg == 0) return nullptr;
  k->in_channels = C;
  k->out_channels = Mg * k->group;
  std::vector<int64_t> kernel(w->dims().begin() + 2, w->dims().end());
  const std::vector<int64_t> k_attr = ctx.attr_ints("kernel_shape", {});
  if (!k_attr.empty() && k_attr != kernel) return nullptr;
  k->attrs = read_transpose_attrs(ctx, rank_of("W", w->dims()), kernel);
  const int64_t Cg = C / k->group, rows = w->numel() / C;  // rows = Mg * kernel size
  for (int64_t gi = 0; gi < k->group; ++gi)  // A = W_gᵀ: W_g is stored Cg x rows
    k->packed.push_back(kernels::pack_gemm_operand(kernels::GemmSide::kA, {w->data<float>() + gi * Cg * rows, rows, true},
                                                   rows, Cg));
  k->label = "conv_transpose " + dims_str(kernel) + " s" + dims_str(k->attrs.w.strides) +
             (k->group != 1 ? " g" + std::to_string(k->group) : "") + " gemm " + kernels::gemm_kernel_name() +
             " + col2im" + (ctx.has_input(2) ? " +bias" : "");
  return k;
}

}  // namespace kiln::ops
