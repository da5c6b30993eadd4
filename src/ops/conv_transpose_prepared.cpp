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
// row_stride: floats between the runs of consecutive kernel rows (kd, kh) of a position (kernel[2] when col is
// [positions][Mg * ks]; the kernel-row-major layout's [kh][positions][Mg * kw] has cols_n * Mg * kw).
void col2im_positions(const ConvDims& d, const float* col, int64_t p_stride, int64_t row_stride, float* y) {
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
            const float* vk = v + (kd * d.kernel[1] + kh) * row_stride;
            for (int64_t kw = 0; kw < d.kernel[2]; ++kw) {
              const int64_t iw = ow * d.stride[2] + kw * d.dilation[2] - d.pad_begin[2];
              if (iw >= 0 && iw < in_w) row[iw] += vk[kw];
            }
          }
        }
      }
}

// Input positions below which col is computed transposed, colᵀ [positions][Mg * ks] = Xᵀ · W with W packed as
// the B operand: the GEMM's rows are then the few positions (a generator's 1x1 or 4x4 first layers) instead of
// its columns, which a micro-kernel pads to 16. Measured on a DCGAN generator's layers (Zen 2, 1 thread): 1x1
// input 0.64 -> 0.25 ms, 4x4 1.8 -> 1.3 ms; at 8x8 (64 positions) the usual orientation was 10-20 % faster.
constexpr int64_t kTransposedBelow = 64;
// With the per-kernel-row form (run_kernel_rows: rows outside Y skipped, col2im channels last) the transposed
// orientation also pays at 8x8: DCGAN's 256 -> 128 alone (Zen 4, min of 3 alternating rounds), usual ->
// transposed: batch 1 0.683 -> 0.622 ms (1 thread), 0.347 -> 0.314 (2); batch 8 5.37 -> 5.05, 2.68 -> 2.52. At
// 16x16 (128 -> 64) it lost: 0.667 -> 0.737, 0.344 -> 0.372.
constexpr int64_t kRowsTransposedBelow = 128;

// Floats of col (1 MiB) up to which images share one GEMM: col stays in L2 for the col2im that reads it right
// after (at 8 MiB, batch 8 of a DCGAN generator took 1.2x the time of one GEMM per image).
constexpr int64_t kColFloats = int64_t{256} << 10;

// Positions per image below which the per-kernel-row GEMMs of several images take every position in one GEMM
// rather than one batch entry per image (which streams W_kh once per image: a generator's 1x1 first layer at
// batch 8 took 1.8x as long).
constexpr int64_t kMinRowsPerImage = 8;

// Output channels per group from which the per-kernel-row GEMMs are split in two parts (one per thread at batch
// 1): four GEMMs each split over the threads took 0.455 ms, in parts 0.308 (DCGAN's 512 -> 256 at 4x4, 2 threads;
// main's one GEMM 0.397). Elsewhere the parts did not pay: the transposed orientation in one GEMM measured 3 %
// slower on 2 threads than the GEMM's own split (0.399 -> 0.410 ms), the usual one the same at batch 1 and 2.4 %
// slower at batch 8 (DCGAN, 2 threads, 8.77 -> 8.98 ms: each part packs the chunk's X again).
constexpr int64_t kSplitMinChannels = 8;

class PreparedConvTranspose final : public PreparedKernel {
 public:
  size_t spatial = 0;
  int64_t in_channels = 0, out_channels = 0, group = 1;
  TransposeAttrs attrs;
  bool transposed = false;                         // col computed transposed (few input positions)
  bool phased = false;                             // col2im_plane_phased (usual orientation, a strided last axis)
  int64_t parts = 1;                               // each group's output channels in this many parts, each its
                                                   // own packed operands (so that threads split the channels)
  int64_t kernel_rows = 1;                         // transposed 2-D: W_g packed per kernel row (see run_item)
  kernels::VBinaryFn add = nullptr;                // the active tier's vbinary kernel (col2im_plane_phased)
  std::vector<kernels::PackedGemmOperand> packed;  // per group and part: Wᵀ_g's rows as A, or W_g's columns as B
  std::string label;

  // Output channels [part_begin(p), part_begin(p + 1)) of a group.
  int64_t part_begin(int64_t p) const { return out_channels / group * p / parts; }

  void run(KernelContext& ctx) const override {
    ConvDims d;
    if (!resolve(ctx, &d)) return compute_conv_transpose(ctx);
    Work w;
    w.d = &d;
    w.x = ctx.input(0).data<float>();
    w.bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
    w.y = ctx.output(0).data<float>();
    const int64_t Mg = out_channels / group, ks = d.kernel_size(), xs = d.out_size();
    // Images in chunks whose col fits kColFloats: one GEMM per chunk and group streams the weights once for all
    // its images (a generator's weights are megabytes: once per image, they dominated batch 8). An even number
    // of equal chunks (not depending on the thread count: neither do the bits), so that 2 threads share them.
    w.chunk = std::clamp<int64_t>(kColFloats / std::max<int64_t>(Mg * ks * xs, 1), 1, d.batch);
    int64_t chunks = ceil_div(d.batch, w.chunk);
    if (chunks > 1 && chunks % 2 != 0) ++chunks;
    w.chunk = ceil_div(d.batch, chunks);
    chunks = ceil_div(d.batch, w.chunk);
    // Work items: (chunk, group, part of the output channels). With at least one per thread (and a whole number
    // per thread, or two), each runs on one thread, its GEMM and then the col2im of its own planes: the col it
    // reads is the one its thread just wrote, in that core's L2 (spread, the col2im read the other core's half;
    // DCGAN batch 8 scaled 1.28x on 2 threads). Otherwise each item's GEMM and col2im use the whole pool.
    const int64_t items = chunks * group * parts;
    kernels::ThreadPool* pool = ctx.threads();
    const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
    if (threads > 1 && items >= threads && (items % threads == 0 || items >= 2 * threads)) {
      kernels::parallel_for(pool, static_cast<size_t>(items),
                            [&](size_t i) { run_item(w, static_cast<int64_t>(i), nullptr); });
    } else {
      for (int64_t i = 0; i < items; ++i) run_item(w, i, pool);
    }
  }

  size_t packed_bytes() const override {
    size_t bytes = 0;
    for (const auto& p : packed) bytes += p.bytes();
    return bytes;
  }
  std::string describe() const override { return label; }

 private:
  struct Work {
    const ConvDims* d = nullptr;
    const float* x = nullptr;
    const float* bias = nullptr;
    float* y = nullptr;
    int64_t chunk = 1;  // images per chunk
  };

  // Item i = (chunk, group, part): its GEMM into this thread's col, then its planes' col2im; both over `pool`
  // (null: this thread).
  void run_item(const Work& w, int64_t i, kernels::ThreadPool* pool) const {
    const ConvDims& d = *w.d;
    const int64_t Cg = in_channels / group, Mg = out_channels / group, ks = d.kernel_size();
    const int64_t xs = d.out_size(), ys = d.in_size();
    const int64_t part = i % parts, gi = i / parts % group, n0 = i / parts / group * w.chunk;
    const int64_t nb = std::min(w.chunk, d.batch - n0), cols_n = nb * xs;  // GEMM columns (or rows) of the chunk
    const int64_t m0 = part_begin(part), mp = part_begin(part + 1) - m0, rows = mp * ks;
    thread_local std::vector<float> col, xbuf;
    if (col.size() < static_cast<size_t>(rows * cols_n)) col.resize(static_cast<size_t>(rows * cols_n));
    // X_g of the chunk as one [Cg][nb * positions] matrix: in place for one image, else gathered.
    const float* xg = w.x + (n0 * in_channels + gi * Cg) * xs;
    if (nb > 1) {
      if (xbuf.size() < static_cast<size_t>(Cg * cols_n)) xbuf.resize(static_cast<size_t>(Cg * cols_n));
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t n = 0; n < nb; ++n)
          std::memcpy(xbuf.data() + c * cols_n + n * xs, xg + (n * in_channels + c) * xs,
                      static_cast<size_t>(xs) * sizeof(float));
      xg = xbuf.data();
    }
    if (kernel_rows > 1) return run_kernel_rows(w, n0, gi, part, nb, xg, col.data(), pool);
    const kernels::PackedGemmOperand* wp = &packed[static_cast<size_t>(gi * parts + part)];
    kernels::GemmArgs g;
    g.K = Cg;
    g.c = col.data();
    if (transposed) {  // colᵀ = Xᵀ · W_g: X_g is stored [Cg][positions]
      g.M = cols_n, g.N = rows;
      g.a = {xg, cols_n, true};
      g.packed_b = wp;
      g.ldc = rows;
    } else {  // col = W_gᵀ · X_g
      g.M = rows, g.N = cols_n;
      g.packed_a = wp;
      g.b = {xg, cols_n, false};
      g.ldc = cols_n;
    }
    kernels::gemm_f32(g, pool);
    const int64_t k_stride = transposed ? 1 : cols_n, p_stride = transposed ? rows : 1;
    const float* col_data = col.data();  // this thread's buffer (a name in the lambda is the worker's own)
    kernels::parallel_for(pool, static_cast<size_t>(nb * mp), [&](size_t item) {
      const int64_t n = static_cast<int64_t>(item) / mp, m = static_cast<int64_t>(item) % mp;
      float* plane = w.y + ((n0 + n) * out_channels + gi * Mg + m0 + m) * ys;
      const float b = w.bias ? w.bias[gi * Mg + m0 + m] : 0.0f;
      // Image n's first position is column (or row) n * xs of col.
      const float* cols = col_data + m * ks * k_stride + n * xs * p_stride;
      if (phased) {
        col2im_plane_phased(d, cols, k_stride, b, add, plane);
        return;
      }
      std::fill(plane, plane + ys, b);
      if (transposed) {
        col2im_positions(d, cols, p_stride, d.kernel[2], plane);
      } else {
        col2im_channel(d, cols, k_stride, p_stride, plane);
      }
    });
  }

  // The transposed orientation in 2-D, one GEMM per kernel row kh: colᵀ_kh [positions][kw * mp] = Xᵀ · W[:, part,
  // kh] into col laid out [kh][positions][kw][mp]. The GEMM of kh takes only the input rows whose output row for
  // kh lies inside Y (one batch entry per image): with 4x4 inputs and a 4x4 kernel of stride 2 and pad 1 (DCGAN's
  // 512 -> 256), 12 of 16 positions for the first and last kernel rows, an eighth of the multiply-adds, and those
  // GEMMs fill the 12-row micro-kernel exactly. Zen 4, that layer alone, min of 3-4 alternating rounds, main ->
  // this: batch 1 0.729 -> 0.610 ms (1 thread), 0.397 -> 0.308 (2 threads: parts of the channels, each thread its
  // own col); batch 8 5.75 -> 5.12, 2.83 -> 2.52.
  void run_kernel_rows(const Work& w, int64_t n0, int64_t gi, int64_t part, int64_t nb, const float* xg, float* col,
                       kernels::ThreadPool* pool) const {
    const ConvDims& d = *w.d;
    const int64_t Cg = in_channels / group, Mg = out_channels / group, m0 = part_begin(part);
    const int64_t mp = part_begin(part + 1) - m0, kw_n = d.kernel[2], nk = mp * kw_n;
    const int64_t xs = d.out_size(), ys = d.in_size(), cols_n = nb * xs, kh_stride = cols_n * nk;
    for (int64_t kh = 0; kh < kernel_rows; ++kh) {
      int64_t lo, hi;
      valid_output_range(kh * d.dilation[1] - d.pad_begin[1], d.stride[1], d.in[1], d.out[1], &lo, &hi);
      int64_t p0 = lo * d.out[2], p1 = std::max(lo, hi) * d.out[2];
      if (p0 >= p1) continue;
      kernels::GemmArgs g;
      if (nb > 1 && (p1 - p0 == xs || p1 - p0 < kMinRowsPerImage)) {
        p0 = 0, p1 = cols_n;  // every position of the chunk, one GEMM (the rows outside Y are not read)
      } else {
        g.batch = nb, g.stride_a = xs, g.stride_c = xs * nk;  // one batch entry per image: its positions p0..p1
      }
      g.M = p1 - p0, g.N = nk, g.K = Cg;
      g.a = {xg + p0, cols_n, true};
      g.packed_b = &packed[static_cast<size_t>((gi * parts + part) * kernel_rows + kh)];
      g.c = col + kh * kh_stride + p0 * nk;
      g.ldc = nk;
      kernels::gemm_f32(g, pool);
    }
    // col2im channels last: each (position, kernel row, kernel column) adds the part's mp channels, contiguous in
    // col ([kw][m]) and in this thread's [output position][m] buffer, one vectorized add per (position, kernel
    // row) over its kernel columns inside Y; then the buffer is stored into the planes, transposed, with the bias.
    // Scattering col plane by plane, 16 scalar adds a position, took 8 % of DCGAN's 512 -> 256 layer.
    thread_local std::vector<float> cl;
    if (cl.size() < static_cast<size_t>(ys * mp)) cl.resize(static_cast<size_t>(ys * mp));
    float* const acc = cl.data();
    const int64_t in_w = d.in[2], dw = d.dilation[2];
    for (int64_t n = 0; n < nb; ++n) {
      std::fill(acc, acc + ys * mp, 0.0f);
      for (int64_t oh = 0, p = 0; oh < d.out[1]; ++oh)
        for (int64_t ow = 0; ow < d.out[2]; ++ow, ++p) {
          const int64_t iw0 = ow * d.stride[2] - d.pad_begin[2];  // kernel column kw writes column iw0 + kw * dw
          const int64_t kw_lo = iw0 >= 0 ? 0 : (-iw0 + dw - 1) / dw;
          const int64_t kw_hi = iw0 >= in_w ? 0 : std::min(kw_n, (in_w - 1 - iw0) / dw + 1);
          if (kw_lo >= kw_hi) continue;
          for (int64_t kh = 0; kh < kernel_rows; ++kh) {
            const int64_t ih = oh * d.stride[1] + kh * d.dilation[1] - d.pad_begin[1];
            if (ih < 0 || ih >= d.in[1]) continue;
            kernels::BinaryBlock b;
            b.a = b.out = acc + (ih * in_w + iw0 + kw_lo * dw) * mp;
            b.b = col + kh * kh_stride + (n * xs + p) * nk + kw_lo * mp;
            b.rows = kw_hi - kw_lo, b.n = mp;
            b.a_row = b.out_row = dw * mp, b.b_row = mp;
            if (dw == 1) b.n *= b.rows, b.rows = 1;  // the kernel columns' channels are one run on both sides
            add(kernels::BinaryOp::kAdd, b);
          }
        }
      float* yn = w.y + ((n0 + n) * out_channels + gi * Mg + m0) * ys;
      const float* bias = w.bias ? w.bias + gi * Mg + m0 : nullptr;
      constexpr int64_t kBlock = 8;  // planes written together: each position's 8 channels are one read
      kernels::parallel_for(pool, static_cast<size_t>(ceil_div(mp, kBlock)), [&](size_t blk) {
        const int64_t mb = static_cast<int64_t>(blk) * kBlock, me = std::min(mp, mb + kBlock);
        for (int64_t m = mb; m < me; ++m) {
          const float bm = bias ? bias[m] : 0.0f;
          float* plane = yn + m * ys;
          for (int64_t q = 0; q < ys; ++q) plane[q] = bm + acc[q * mp + m];
        }
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
  // The transposed orientation runs per kernel row where the declared input height shows a kernel row writing
  // part of its rows outside Y (2-D, kernels more than one row high).
  bool rows_outside = false;
  if (k->spatial == 2 && kernel[0] > 1 && xs.rank_known && xs.rank() == 4 && xs.dims[2].is_known()) {
    const int64_t h = xs.dims[2].value();
    const WindowAxis a = resolve_transpose_axis(k->attrs, 0, h);
    for (int64_t kh = 0; kh < kernel[0] && a.out > 0; ++kh) {
      int64_t lo, hi;
      valid_output_range(kh * k->attrs.w.dilations[0] - a.pad_begin, k->attrs.w.strides[0], a.out, h, &lo, &hi);
      rows_outside |= hi - lo < h;
    }
  }
  bool rule_transposed = false;
  if (xs.rank_known && xs.rank() == k->spatial + 2) {
    int64_t positions = 1;
    for (size_t i = 2; i < xs.rank() && positions > 0; ++i) positions = xs.dims[i].is_known() ? positions * xs.dims[i].value() : 0;
    rule_transposed = positions > 0 && (positions < kTransposedBelow || (rows_outside && positions < kRowsTransposedBelow));
  }
  static const std::vector<std::string> kOrientations = {"gemm-wT.x", "gemm-xT.w"};
  k->transposed = choose_tactic(ctx, kOrientations, rule_transposed ? 1 : 0) == 1;
  k->phased = !k->transposed && k->attrs.w.strides.back() > 1 && kernel.back() <= kMaxKernelWidth;
  const bool by_kernel_rows = k->transposed && rows_outside;
  k->parts = by_kernel_rows && Mg >= kSplitMinChannels ? 2 : 1;
  const int64_t ks = rows / Mg;
  if (by_kernel_rows) {  // W_g per part and kernel row kh: B [Cg][kw * channels of the part]
    k->kernel_rows = kernel[0];
    const int64_t kw_n = kernel[1];
    std::vector<float> b;
    for (int64_t gi = 0; gi < k->group; ++gi)
      for (int64_t p = 0; p < k->parts; ++p)
        for (int64_t kh = 0; kh < kernel[0]; ++kh) {
          const int64_t m0 = k->part_begin(p), mp = k->part_begin(p + 1) - m0, nk = mp * kw_n;
          const std::string what = "conv_transpose W g" + std::to_string(gi) + " part" + std::to_string(p) + " kh" +
                                   std::to_string(kh);
          k->packed.push_back(pack_gemm_weights(ctx, what, kernels::GemmSide::kB, Cg, nk, [&] {
            b.resize(static_cast<size_t>(Cg * nk));
            for (int64_t c = 0; c < Cg; ++c)  // columns [kw][m]: a kernel column's channels contiguous
              for (int64_t m = 0; m < mp; ++m)
                for (int64_t kw = 0; kw < kw_n; ++kw)
                  b[static_cast<size_t>(c * nk + kw * mp + m)] =
                      w->data<float>()[(gi * Cg + c) * rows + ((m0 + m) * kernel[0] + kh) * kw_n + kw];
            return kernels::MatrixRef{b.data(), nk, false};
          }));
        }
  }
  for (int64_t gi = 0; gi < k->group && k->kernel_rows == 1; ++gi)  // W_g is stored Cg x rows; part p is its columns of channels [m0, m1)
    for (int64_t p = 0; p < k->parts; ++p) {
      const int64_t m0 = k->part_begin(p), pr = (k->part_begin(p + 1) - m0) * ks;
      const float* wg = w->data<float>() + gi * Cg * rows + m0 * ks;
      const std::string what = "conv_transpose W g" + std::to_string(gi) + (k->parts > 1 ? " part" + std::to_string(p) : "");
      k->packed.push_back(k->transposed ? pack_gemm_weights(ctx, what, kernels::GemmSide::kB, Cg, pr,
                                                            [&] { return kernels::MatrixRef{wg, rows, false}; })
                                        : pack_gemm_weights(ctx, what, kernels::GemmSide::kA, pr, Cg,
                                                            [&] { return kernels::MatrixRef{wg, rows, true}; }));
    }
  k->label = "conv_transpose " + dims_str(kernel) + " s" + dims_str(k->attrs.w.strides) +
             (k->group != 1 ? " g" + std::to_string(k->group) : "") +
             (k->transposed ? k->kernel_rows > 1 ? " gemm(xT.w) per kernel row " : " gemm(xT.w) " : " gemm(wT.x) ") +
             kernels::gemm_kernel_name() +
             " + col2im" +
             (k->transposed ? "-positions" : k->phased ? "-phased" : "") +
             (ctx.has_input(2) ? " +bias" : "");
  return k;
}

}  // namespace kiln::ops
