// The fast float32 ConvTranspose (1-D, 2-D, 3-D, grouped). Per chunk of images and group: col [Mg * kernel, positions]
// = Wᵀ_g · X_g by the packed GEMM (Wᵀ packed once as the A operand; or colᵀ = Xᵀ · W_g with W packed as B when
// the input has few positions), then col2im scatters col into Y, whose planes start at the bias. Several images
// share one GEMM (their X gathered side by side) while their col fits kColFloats, so the weights are read once
// for them. The scatter is split over images and output channels (each plane is written by its own col rows),
// so the result does not depend on the thread count. The col and X buffers are per thread and reused.

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/vbinary/vbinary.h"
#include "ops/conv_core.h"
#include "ops/conv_implicit_gemm.h"
#include "ops/conv_transpose_shape.h"
#include "ops/packed_weights.h"
#include "ops/tactic.h"

namespace kiln::ops {
namespace {

// Adds one output channel's columns into its plane y: the value of kernel offset k at input position p is
// col[k * k_stride + p * p_stride] (col laid out [Mg * ks][positions], or transposed). d is the forward view:
// d.in = Y's spatial dims, d.out = X's (see ConvProblem).
void col2im_channel(const ConvDims& d, const float* col, int64_t k_stride, int64_t p_stride, float* y) {
  const int64_t ks = d.kernel_size();
  const int64_t in_w = d.in[2], out_w = d.out[2], sw = d.stride[2];
  for (int64_t k = 0; k < ks; ++k) {
    const int64_t kd = k / (d.kernel[1] * d.kernel[2]), kh = k / d.kernel[2] % d.kernel[1], kw = k % d.kernel[2];
    const int64_t base_w = kw * d.dilation[2] - d.pad_begin[2];
    int64_t lo, hi;
    valid_output_range(base_w, sw, in_w, out_w, &lo, &hi);
    const float* src = col + k * k_stride;
    for (int64_t od = 0; od < d.out[0]; ++od) {
      const int64_t id = od * d.stride[0] + kd * d.dilation[0] - d.pad_begin[0];
      if (id < 0 || id >= d.in[0]) continue;
      for (int64_t oh = 0; oh < d.out[1]; ++oh) {
        const int64_t ih = oh * d.stride[1] + kh * d.dilation[1] - d.pad_begin[1];
        if (ih < 0 || ih >= d.in[1]) continue;
        const float* s = src + (od * d.out[1] + oh) * out_w * p_stride;
        float* row = y + (id * d.in[1] + ih) * in_w + base_w;  // row[o * sw] receives s[o] for o in [lo, hi)
        if (sw == 1 && p_stride == 1) {
          for (int64_t o = lo; o < hi; ++o) row[o] += s[o];
        } else {
          for (int64_t o = lo; o < hi; ++o) row[o * sw] += s[o * p_stride];
        }
      }
    }
  }
}

// Writes one output channel's plane y = bias + col2im, for a column stride sw > 1 and col rows of contiguous
// positions: the plane is first built with every output row split into its sw phases (column x = q * sw + r at
// [r][q]), where each kernel offset's contiguous col runs land contiguously too, so one vectorized add (the
// vbinary kernel `add`, a block of rows) takes a whole (kd, od, kh, kw) slice; then each row is stored
// interleaved with the bias. Replaces the fill with the bias and col2im_channel's scalar adds at stride sw into
// Y, which took a fifth of a DCGAN generator's time. Kernels up to kMaxKernelWidth wide.
constexpr int64_t kMaxKernelWidth = 16;
void col2im_plane_phased(const ConvDims& d, const float* col, int64_t k_stride, float bias, kernels::VBinaryFn add,
                         float* y) {
  const int64_t in_w = d.in[2], out_w = d.out[2], sw = d.stride[2], kw_n = d.kernel[2];
  const int64_t nq = ceil_div(in_w, sw), prow = sw * nq;  // positions per phase, floats per phase-split row
  // Kernel column kw adds col position o (in [lo, hi)) to output column o * sw + base = (o + shift) * sw + r.
  int64_t phase_off[kMaxKernelWidth], lo[kMaxKernelWidth], hi[kMaxKernelWidth];
  for (int64_t kw = 0; kw < kw_n; ++kw) {
    const int64_t base = kw * d.dilation[2] - d.pad_begin[2];
    const int64_t shift = base >= 0 ? base / sw : -((-base + sw - 1) / sw), r = base - shift * sw;
    phase_off[kw] = r * nq + shift;
    valid_output_range(base, sw, in_w, out_w, &lo[kw], &hi[kw]);
  }
  const int64_t out_rows = d.in[0] * d.in[1];
  thread_local std::vector<float> phase_plane;
  if (phase_plane.size() < static_cast<size_t>(out_rows * prow)) phase_plane.resize(static_cast<size_t>(out_rows * prow));
  float* acc = phase_plane.data();
  std::fill(acc, acc + out_rows * prow, 0.0f);
  for (int64_t kd = 0; kd < d.kernel[0]; ++kd)
    for (int64_t od = 0; od < d.out[0]; ++od) {
      const int64_t id = od * d.stride[0] + kd * d.dilation[0] - d.pad_begin[0];
      if (id < 0 || id >= d.in[0]) continue;
      for (int64_t kh = 0; kh < d.kernel[1]; ++kh) {
        const int64_t base_h = kh * d.dilation[1] - d.pad_begin[1];
        int64_t oh_lo, oh_hi;  // the col rows whose output row oh * stride + base_h is inside Y
        valid_output_range(base_h, d.stride[1], d.in[1], d.out[1], &oh_lo, &oh_hi);
        if (oh_lo >= oh_hi) continue;
        float* dst_rows = acc + (id * d.in[1] + oh_lo * d.stride[1] + base_h) * prow;
        const float* src_rows = col + (kd * d.kernel[1] + kh) * kw_n * k_stride + (od * d.out[1] + oh_lo) * out_w;
        for (int64_t kw = 0; kw < kw_n; ++kw) {
          if (lo[kw] >= hi[kw]) continue;
          kernels::BinaryBlock b;
          b.a = b.out = dst_rows + (phase_off[kw] + lo[kw]);  // the sum is in range, phase_off may be negative
          b.b = src_rows + kw * k_stride + lo[kw];
          b.rows = oh_hi - oh_lo, b.n = hi[kw] - lo[kw];
          b.a_row = b.out_row = d.stride[1] * prow, b.b_row = out_w;
          add(kernels::BinaryOp::kAdd, b);
        }
      }
    }
  for (int64_t r = 0; r < out_rows; ++r) {
    const float* split = acc + r * prow;
    float* row = y + r * in_w;
    if (sw == 2) {
      const float* odd = split + nq;
      const int64_t pairs = in_w / 2;
      for (int64_t q = 0; q < pairs; ++q) {
        row[2 * q] = bias + split[q];
        row[2 * q + 1] = bias + odd[q];
      }
      if (in_w % 2 != 0) row[in_w - 1] = bias + split[pairs];
    } else {
      for (int64_t x = 0; x < in_w; ++x) row[x] = bias + split[(x % sw) * nq + x / sw];
    }
  }
}

// col2im_channel for transposed col (kernel offsets contiguous, k_stride 1): position by position, each reads its
// kernel offsets as one contiguous run and adds them into its window of y. With few positions (the transposed
// orientation's case) this beats a pass per kernel offset and row: DCGAN's 1x1 and 4x4 inputs, 0.07 and 0.05 ms.
void col2im_positions(const ConvDims& d, const float* col, int64_t p_stride, float* y) {
  const int64_t in_w = d.in[2];
  for (int64_t od = 0, p = 0; od < d.out[0]; ++od)
    for (int64_t oh = 0; oh < d.out[1]; ++oh)
      for (int64_t ow = 0; ow < d.out[2]; ++ow, ++p) {
        const float* v = col + p * p_stride;
        for (int64_t kd = 0; kd < d.kernel[0]; ++kd) {
          const int64_t id = od * d.stride[0] + kd * d.dilation[0] - d.pad_begin[0];
          if (id < 0 || id >= d.in[0]) continue;
          for (int64_t kh = 0; kh < d.kernel[1]; ++kh) {
            const int64_t ih = oh * d.stride[1] + kh * d.dilation[1] - d.pad_begin[1];
            if (ih < 0 || ih >= d.in[1]) continue;
            float* row = y + (id * d.in[1] + ih) * in_w;
            const float* vk = v + (kd * d.kernel[1] + kh) * d.kernel[2];
            for (int64_t kw = 0; kw < d.kernel[2]; ++kw) {
              const int64_t iw = ow * d.stride[2] + kw * d.dilation[2] - d.pad_begin[2];
              if (iw >= 0 && iw < in_w) row[iw] += vk[kw];
            }
          }
        }
      }
}

// Sub-pixel phases (stride s dividing the kernel k on every axis, no dilation): the outputs o = s * i + a of one
// phase a receive exactly the kernel offsets k = s * u + r, r = (a + pad) mod s, u in [0, k / s), from input
// i + (a + pad) div s - u. A phase is therefore an ordinary stride-1 convolution of X with the (k / s)-wide
// sub-kernel of residue r, flipped: one implicit GEMM (M = output channels, K = Cg * (k / s)^dims, N = the phase's
// outputs) with the bias in its epilogue, written to a phase buffer and stored interleaved into Y. No col buffer
// (the kernel size times Y) and no scatter-add.
struct SubpixelPhase {
  ConvDims conv;         // the forward view of the phase's convolution: in = X's dims, out = the phase's outputs
  int64_t residue = 0;   // index of the sub-kernel (residues r0, r1, r2 in row-major order over the strides)
  int64_t a[3] = {0, 0, 0};
  int64_t positions() const { return conv.out_size(); }
};

// The phases of a resolved ConvTranspose d (forward view: d.in = Y's dims, d.out = X's), in row-major order of a;
// phases with no outputs are left out.
int64_t subpixel_phases(const ConvDims& d, int64_t Cg, SubpixelPhase* out) {
  int64_t count = 0;
  for (int64_t a0 = 0; a0 < d.stride[0]; ++a0)
    for (int64_t a1 = 0; a1 < d.stride[1]; ++a1)
      for (int64_t a2 = 0; a2 < d.stride[2]; ++a2) {
        SubpixelPhase ph;
        const int64_t a[3] = {a0, a1, a2};
        bool empty = false;
        int64_t residue = 0;
        for (int i = 0; i < 3; ++i) {
          const int64_t s = d.stride[i], kk = d.kernel[i] / s, sum = a[i] + d.pad_begin[i];
          const int64_t q = sum >= 0 ? sum / s : -((-sum + s - 1) / s), r = sum - q * s;
          ph.a[i] = a[i];
          ph.conv.in[i] = d.out[i];
          ph.conv.out[i] = d.in[i] > a[i] ? ceil_div(d.in[i] - a[i], s) : 0;
          ph.conv.kernel[i] = kk;
          ph.conv.pad_begin[i] = kk - 1 - q;
          ph.conv.pad_end[i] = (ph.conv.out[i] - 1) + kk - ph.conv.pad_begin[i] - d.out[i];
          residue = residue * s + r;
          empty |= ph.conv.out[i] == 0;
        }
        if (empty) continue;
        ph.conv.batch = 1, ph.conv.in_channels = Cg;
        ph.residue = residue;
        out[count++] = ph;
      }
  return count;
}

// X of one image's group padded with zeros on every side that some phase's window reaches past (rows and columns;
// the leading axis must be 1: 1-D and 2-D), so that a tap of a phase reads a contiguous run of nw floats for each
// output row of the phase: the fill is then one fixed-length copy per row, no bounds checks. fill_conv_columns,
// general, spent 15 % of a DCGAN generator's time on runs of 8 and 16 floats.
struct PaddedPhaseX {
  const float* xp = nullptr;  // [Cg][hp][wp]
  int64_t hp = 0, wp = 0, top = 0, left = 0;
};
struct PhaseColumns {
  const PaddedPhaseX* x;
  const ConvDims* conv;  // the phase's convolution (stride 1)
};
void fill_phase_columns(const void* ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) {
  const PhaseColumns& pc = *static_cast<const PhaseColumns*>(ctx);
  const PaddedPhaseX& px = *pc.x;
  const ConvDims& c = *pc.conv;
  const int64_t kh_n = c.kernel[1], kw_n = c.kernel[2], kk = kh_n * kw_n, nw = c.out[2], plane = px.hp * px.wp;
  const int64_t i0 = n0 / nw, j0 = n0 % nw;
  for (int64_t r = 0; r < kc; ++r) {
    const int64_t k = k0 + r, ch = k / kk, t = k % kk, th = t / kw_n, tw = t % kw_n;
    const float* base = px.xp + ch * plane + (th - c.pad_begin[1] + px.top) * px.wp + (tw - c.pad_begin[2] + px.left);
    float* out = dst + r * ld;
    int64_t i = i0, j = j0, left = nc;
    while (left > 0) {
      const int64_t run = std::min(nw - j, left);
      const float* src = base + i * px.wp + j;
      for (int64_t q = 0; q < run; ++q) out[q] = src[q];
      out += run, left -= run, j = 0, ++i;
    }
  }
}

// Fills px (its buffer `buf`) for X_g of dims d.out[1] x d.out[2] (forward view) and the phases' windows.
void pad_phase_x(const ConvDims& d, const SubpixelPhase* phases, int64_t count, int64_t Cg, const float* xg,
                 std::vector<float>* buf, PaddedPhaseX* px) {
  const int64_t H = d.out[1], W = d.out[2];
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  for (int64_t p = 0; p < count; ++p) {
    const ConvDims& c = phases[p].conv;
    top = std::max(top, c.pad_begin[1]), left = std::max(left, c.pad_begin[2]);
    bottom = std::max(bottom, c.out[1] - 1 + c.kernel[1] - 1 - c.pad_begin[1] - (H - 1));
    right = std::max(right, c.out[2] - 1 + c.kernel[2] - 1 - c.pad_begin[2] - (W - 1));
  }
  px->top = top, px->left = left, px->hp = top + H + bottom, px->wp = left + W + right;
  const int64_t plane = px->hp * px->wp;
  if (buf->size() < static_cast<size_t>(Cg * plane)) buf->resize(static_cast<size_t>(Cg * plane));
  float* out = buf->data();
  std::fill(out, out + Cg * plane, 0.0f);
  for (int64_t ch = 0; ch < Cg; ++ch)
    for (int64_t h = 0; h < H; ++h)
      std::memcpy(out + ch * plane + (top + h) * px->wp + left, xg + (ch * H + h) * W, static_cast<size_t>(W) * sizeof(float));
  px->xp = out;
}

// Stores channel m's phase results into its plane y of dims d.in, interleaved: phase p's results are
// [channels][its positions] at buf + p * phase_block. The common 2-D stride-2 case pairs the two column phases of a row.
void store_subpixel_plane(const ConvDims& d, const SubpixelPhase* phases, int64_t count, const float* buf,
                          int64_t phase_block, int64_t m, float* y) {
  const int64_t Y1 = d.in[1], Y2 = d.in[2];
  if (d.stride[0] == 1 && d.stride[1] == 2 && d.stride[2] == 2 && count == 4 && d.in[0] == 1 && Y2 % 2 == 0 &&
      Y1 % 2 == 0) {
    const int64_t w = Y2 / 2, h = Y1 / 2;
    for (int64_t a = 0; a < 2; ++a) {
      const float* even = buf + (2 * a) * phase_block + m * h * w;
      const float* odd = buf + (2 * a + 1) * phase_block + m * h * w;
      for (int64_t i = 0; i < h; ++i) {
        float* row = y + (2 * i + a) * Y2;
        const float* e = even + i * w;
        const float* o = odd + i * w;
        for (int64_t j = 0; j < w; ++j) {
          row[2 * j] = e[j];
          row[2 * j + 1] = o[j];
        }
      }
    }
    return;
  }
  for (int64_t p = 0; p < count; ++p) {
    const SubpixelPhase& ph = phases[p];
    const float* src = buf + p * phase_block + m * ph.positions();
    for (int64_t i0 = 0; i0 < ph.conv.out[0]; ++i0)
      for (int64_t i1 = 0; i1 < ph.conv.out[1]; ++i1) {
        float* row = y + ((i0 * d.stride[0] + ph.a[0]) * Y1 + i1 * d.stride[1] + ph.a[1]) * Y2 + ph.a[2];
        for (int64_t i2 = 0; i2 < ph.conv.out[2]; ++i2) row[i2 * d.stride[2]] = *src++;
      }
  }
}

// Input positions below which col is computed transposed, colᵀ [positions][Mg * ks] = Xᵀ · W with W packed as
// the B operand: the GEMM's rows are then the few positions (a generator's 1x1 or 4x4 first layers) instead of
// its columns, which a micro-kernel pads to 16. Measured on a DCGAN generator's layers (Zen 2, 1 thread): 1x1
// input 0.64 -> 0.25 ms, 4x4 1.8 -> 1.3 ms; at 8x8 (64 positions) the usual orientation was 10-20 % faster.
constexpr int64_t kTransposedBelow = 64;

// Floats of col (1 MiB) up to which images share one GEMM: col stays in L2 for the col2im that reads it right
// after (at 8 MiB, batch 8 of a DCGAN generator took 1.2x the time of one GEMM per image).
constexpr int64_t kColFloats = int64_t{256} << 10;

// Sub-pixel phases apply with no dilation and every stride dividing its kernel (and at most kMaxPhases phases);
// they pay with enough output channels to fill the micro-kernel's rows (M = Mg).
constexpr int64_t kMaxPhases = 16;
constexpr int64_t kSubpixelMinChannels = 16;
bool subpixel_applies(const TransposeAttrs& attrs, const std::vector<int64_t>& kernel) {
  int64_t phases = 1;
  for (size_t i = 0; i < kernel.size(); ++i) {
    const int64_t s = attrs.w.strides[i];
    if (attrs.w.dilations[i] != 1 || s < 1 || kernel[i] % s != 0) return false;
    phases *= s;
  }
  return phases > 1 && phases <= kMaxPhases;
}

// Packs W [C][Mg][kernel...] per group and residue r (row-major over the strides) as the A operand of its phases'
// GEMM: A[m][c * kk + j] = W[c][m][k], kk = the sub-kernel's size, k_i = s_i * (kernel_i / s_i - 1 - j_i) + r_i
// (the sub-kernel flipped, so the phase is a forward convolution).
void pack_subpixel(PrepareContext& ctx, const Tensor& w, int64_t group, const std::vector<int64_t>& kernel_v,
                   const std::vector<int64_t>& strides_v, std::vector<kernels::PackedGemmOperand>* packed) {
  const size_t lead = 3 - kernel_v.size();
  int64_t kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
  for (size_t i = 0; i < kernel_v.size(); ++i) kernel[lead + i] = kernel_v[i], stride[lead + i] = strides_v[i];
  const int64_t sub[3] = {kernel[0] / stride[0], kernel[1] / stride[1], kernel[2] / stride[2]};
  const int64_t kk = sub[0] * sub[1] * sub[2], ks = kernel[0] * kernel[1] * kernel[2];
  const int64_t C = w.dim(0), Mg = w.dim(1), Cg = C / group, K = Cg * kk;
  const float* wd = w.data<float>();
  std::vector<float> a;
  for (int64_t gi = 0; gi < group; ++gi)
    for (int64_t r0 = 0; r0 < stride[0]; ++r0)
      for (int64_t r1 = 0; r1 < stride[1]; ++r1)
        for (int64_t r2 = 0; r2 < stride[2]; ++r2) {
          const std::string what = "conv_transpose subpixel W g" + std::to_string(gi) + " r" + std::to_string(r0) +
                                   "," + std::to_string(r1) + "," + std::to_string(r2);
          packed->push_back(pack_gemm_weights(ctx, what, kernels::GemmSide::kA, Mg, K, [&] {
            a.assign(static_cast<size_t>(Mg * K), 0.0f);
            for (int64_t m = 0; m < Mg; ++m)
              for (int64_t c = 0; c < Cg; ++c) {
                const float* wc = wd + ((gi * Cg + c) * Mg + m) * ks;
                float* row = a.data() + m * K + c * kk;
                for (int64_t j0 = 0; j0 < sub[0]; ++j0)
                  for (int64_t j1 = 0; j1 < sub[1]; ++j1)
                    for (int64_t j2 = 0; j2 < sub[2]; ++j2) {
                      const int64_t k0 = stride[0] * (sub[0] - 1 - j0) + r0, k1 = stride[1] * (sub[1] - 1 - j1) + r1,
                                    k2 = stride[2] * (sub[2] - 1 - j2) + r2;
                      row[(j0 * sub[1] + j1) * sub[2] + j2] = wc[(k0 * kernel[1] + k1) * kernel[2] + k2];
                    }
              }
            return kernels::MatrixRef{a.data(), K, false};
          }));
        }
}

class PreparedConvTranspose final : public PreparedKernel {
 public:
  size_t spatial = 0;
  int64_t in_channels = 0, out_channels = 0, group = 1;
  TransposeAttrs attrs;
  bool transposed = false;                         // col computed transposed (few input positions)
  bool phased = false;                             // col2im_plane_phased (usual orientation, a strided last axis)
  bool subpixel = false;                           // one implicit GEMM per sub-pixel phase (packed: per group,
                                                   // then per residue, the flipped sub-kernel as A, Mg x Cg * ks/s)
  kernels::VBinaryFn add = nullptr;                // the active tier's vbinary kernel (col2im_plane_phased)
  std::vector<kernels::PackedGemmOperand> packed;  // per group: Wᵀ_g as A, (Mg * kernel) x Cg; or W_g as B
  std::string label;

  void run(KernelContext& ctx) const override {
    ConvDims d;
    if (!resolve(ctx, &d)) return compute_conv_transpose(ctx);
    const float* x = ctx.input(0).data<float>();
    const float* bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
    float* y = ctx.output(0).data<float>();
    if (subpixel) return run_subpixel(ctx, d, x, bias, y);
    const int64_t Cg = in_channels / group, Mg = out_channels / group, ks = d.kernel_size();
    const int64_t xs = d.out_size(), ys = d.in_size();
    // Images in chunks whose col fits kColFloats: one GEMM per chunk and group streams the weights once for all
    // its images (a generator's weights are megabytes: once per image, they dominated batch 8).
    const int64_t chunk = std::clamp<int64_t>(kColFloats / std::max<int64_t>(Mg * ks * xs, 1), 1, d.batch);
    thread_local std::vector<float> col, xbuf;
    if (col.size() < static_cast<size_t>(Mg * ks * xs * chunk)) col.resize(static_cast<size_t>(Mg * ks * xs * chunk));
    if (chunk > 1 && xbuf.size() < static_cast<size_t>(Cg * xs * chunk)) xbuf.resize(static_cast<size_t>(Cg * xs * chunk));
    for (int64_t n0 = 0; n0 < d.batch; n0 += chunk) {
      const int64_t nb = std::min(chunk, d.batch - n0), cols_n = nb * xs;  // GEMM columns (or rows) of the chunk
      for (int64_t gi = 0; gi < group; ++gi) {
        // X_g of the chunk as one [Cg][nb * positions] matrix: in place for one image, else gathered.
        const float* xg = x + (n0 * in_channels + gi * Cg) * xs;
        if (nb > 1) {
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t n = 0; n < nb; ++n)
              std::memcpy(xbuf.data() + c * cols_n + n * xs, xg + (n * in_channels + c) * xs,
                          static_cast<size_t>(xs) * sizeof(float));
          xg = xbuf.data();
        }
        kernels::GemmArgs g;
        g.K = Cg;
        g.c = col.data();
        if (transposed) {  // colᵀ = Xᵀ · W_g: X_g is stored [Cg][positions]
          g.M = cols_n, g.N = Mg * ks;
          g.a = {xg, cols_n, true};
          g.packed_b = &packed[static_cast<size_t>(gi)];
          g.ldc = Mg * ks;
        } else {  // col = W_gᵀ · X_g
          g.M = Mg * ks, g.N = cols_n;
          g.packed_a = &packed[static_cast<size_t>(gi)];
          g.b = {xg, cols_n, false};
          g.ldc = cols_n;
        }
        kernels::gemm_f32(g, ctx.threads());
        const int64_t k_stride = transposed ? 1 : cols_n, p_stride = transposed ? Mg * ks : 1;
        const float* col_data = col.data();  // this thread's buffer (a name in the lambda is the worker's own)
        kernels::parallel_for(ctx.threads(), static_cast<size_t>(nb * Mg), [&](size_t item) {
          const int64_t n = static_cast<int64_t>(item) / Mg, m = static_cast<int64_t>(item) % Mg;
          float* plane = y + ((n0 + n) * out_channels + gi * Mg + m) * ys;
          const float b = bias ? bias[gi * Mg + m] : 0.0f;
          // Image n's first position is column (or row) n * xs of col.
          const float* cols = col_data + m * ks * k_stride + n * xs * (transposed ? Mg * ks : 1);
          if (phased) {
            col2im_plane_phased(d, cols, k_stride, b, add, plane);
            return;
          }
          std::fill(plane, plane + ys, b);
          if (transposed) {
            col2im_positions(d, cols, p_stride, plane);
          } else {
            col2im_channel(d, cols, k_stride, p_stride, plane);
          }
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
  // Per image and group: one single-threaded GEMM per phase over the pool when there are at least two per thread
  // (else each GEMM over the pool), into this thread's phase buffer, then the planes stored interleaved over the
  // pool. A GEMM's result does not depend on its thread count, so neither does the output.
  void run_subpixel(KernelContext& ctx, const ConvDims& d, const float* x, const float* bias, float* y) const {
    const int64_t Cg = in_channels / group, Mg = out_channels / group, xs = d.out_size(), ys = d.in_size();
    SubpixelPhase phases[kMaxPhases];
    const int64_t count = subpixel_phases(d, Cg, phases);
    int64_t block = 0;
    for (int64_t p = 0; p < count; ++p) block = std::max(block, Mg * phases[p].positions());
    thread_local std::vector<float> buf;
    if (buf.size() < static_cast<size_t>(block * count)) buf.resize(static_cast<size_t>(block * count));
    float* const out = buf.data();
    kernels::ThreadPool* pool = ctx.threads();
    // 1-D and 2-D (the leading axis of one): taps read X padded once per image and group (fill_phase_columns).
    const bool padded_fill = d.in[0] == 1 && d.out[0] == 1 && d.kernel[0] == 1 && d.stride[0] == 1;
    thread_local std::vector<float> xpad;
    PaddedPhaseX px;
    const int64_t residues = static_cast<int64_t>(packed.size()) / group;
    for (int64_t n = 0; n < d.batch; ++n)
      for (int64_t gi = 0; gi < group; ++gi) {
        const float* xg = x + (n * in_channels + gi * Cg) * xs;
        if (padded_fill) pad_phase_x(d, phases, count, Cg, xg, &xpad, &px);
        auto call = [&](int64_t p, kernels::ThreadPool* gemm_pool) {
          const SubpixelPhase& ph = phases[p];
          kernels::GemmArgs g;
          g.M = Mg, g.N = ph.positions(), g.K = Cg * ph.conv.kernel_size();
          g.packed_a = &packed[static_cast<size_t>(gi * residues + ph.residue)];
          g.c = out + p * block;
          g.ldc = g.N;
          g.epilogue.bias_axis = kernels::GemmEpilogue::BiasAxis::kPerRow;
          g.epilogue.bias = bias ? bias + gi * Mg : nullptr;
          const ConvColumns columns(xg, ph.conv);
          const PhaseColumns phase_columns{&px, &ph.conv};
          const kernels::GemmBSource source = padded_fill ? kernels::GemmBSource{fill_phase_columns, &phase_columns}
                                                          : kernels::GemmBSource{fill_conv_columns, &columns};
          g.b_source = &source;
          kernels::gemm_f32(g, gemm_pool);
        };
        if (pool && count >= 2 * static_cast<int64_t>(pool->threads())) {
          kernels::parallel_for(pool, static_cast<size_t>(count), [&](size_t p) { call(static_cast<int64_t>(p), nullptr); });
        } else {
          for (int64_t p = 0; p < count; ++p) call(p, pool);
        }
        float* yg = y + (n * out_channels + gi * Mg) * ys;
        kernels::parallel_for(pool, static_cast<size_t>(Mg), [&](size_t m) {
          store_subpixel_plane(d, phases, count, out, block, static_cast<int64_t>(m), yg + static_cast<int64_t>(m) * ys);
        });
      }
  }

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
  k->add = kernels::vbinary_kernel_for(kernels::active_isa());
  if (!k->add) k->add = kernels::vbinary_f32_ref;
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
  // The orientation follows the input positions when the declared shape tells them (either is right for any):
  // that is the rule; the two orientations are the candidate tactics kiln build times at the opt shape.
  const Shape& xs = ctx.input(0).shape;
  bool rule_transposed = false;
  if (xs.rank_known && xs.rank() == k->spatial + 2) {
    int64_t positions = 1;
    for (size_t i = 2; i < xs.rank() && positions > 0; ++i) positions = xs.dims[i].is_known() ? positions * xs.dims[i].value() : 0;
    rule_transposed = positions > 0 && positions < kTransposedBelow;
  }
  // Where sub-pixel phases apply they are a third candidate, the rule's unless the input is transposed or the
  // output channels are too few to fill the micro-kernel's rows.
  static const std::vector<std::string> kOrientations = {"gemm-wT.x", "gemm-xT.w"};
  static const std::vector<std::string> kWithPhases = {"gemm-wT.x", "gemm-xT.w", "subpixel"};
  const bool phases_apply = subpixel_applies(k->attrs, kernel);
  const size_t rule = rule_transposed ? 1 : phases_apply && Mg >= kSubpixelMinChannels ? 2 : 0;
  const size_t tactic = choose_tactic(ctx, phases_apply ? kWithPhases : kOrientations, rule);
  k->transposed = tactic == 1;
  k->subpixel = tactic == 2;
  k->phased = !k->transposed && !k->subpixel && k->attrs.w.strides.back() > 1 && kernel.back() <= kMaxKernelWidth;
  if (k->subpixel) {
    pack_subpixel(ctx, *w, k->group, kernel, k->attrs.w.strides, &k->packed);
  }
  for (int64_t gi = 0; gi < k->group && !k->subpixel; ++gi) {  // W_g is stored Cg x rows
    const float* wg = w->data<float>() + gi * Cg * rows;
    const std::string what = "conv_transpose W g" + std::to_string(gi);
    k->packed.push_back(k->transposed ? pack_gemm_weights(ctx, what, kernels::GemmSide::kB, Cg, rows,
                                                          [&] { return kernels::MatrixRef{wg, rows, false}; })
                                      : pack_gemm_weights(ctx, what, kernels::GemmSide::kA, rows, Cg,
                                                          [&] { return kernels::MatrixRef{wg, rows, true}; }));
  }
  const std::string form = k->subpixel      ? " subpixel-phases implicit-gemm "
                           : k->transposed  ? " gemm(xT.w) "
                                            : " gemm(wT.x) ";
  k->label = "conv_transpose " + dims_str(kernel) + " s" + dims_str(k->attrs.w.strides) +
             (k->group != 1 ? " g" + std::to_string(k->group) : "") + form + kernels::gemm_kernel_name() +
             (k->subpixel ? "" : " + col2im") + (k->transposed ? "-positions" : k->phased ? "-phased" : "") +
             (ctx.has_input(2) ? " +bias" : "");
  return k;
}

}  // namespace kiln::ops
