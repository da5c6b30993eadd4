// Winograd F(2x2, 3x3) or F(4x4, 3x3) (winograd_tile) as a convolution tactic. Each image's output tiles, in
// row-major order, are cut into panels of nr (the GEMM kernel's panel width: 16 with AVX2, 32 with AVX-512; a
// panel may cover several tile rows, never two images: an image's results are then the same bits alone or in any
// batch, which a server batching requests relies on) and panels into groups. Per group, on one
// thread: the input transform writes V [points][panel][C][nr] (each point's C x nr block is a packed GEMM B panel;
// 16 points for F(2x2, 3x3), 36 for F(4x4, 3x3)), the point products U_t · V_t run on the GEMM micro-kernel's
// tiles (kernels::winograd_points_gemm) into M [points][panel][M][nr], and the output transform writes Y with bias, residual and activation. No step repacks
// anything, and a group's V and M stay in L2 where U does too. Groups are spread over the pool; the grouping
// depends on the sizes only, so the result does not depend on the thread count.
//
// Accuracy, measured against float64 (tests/kernels/winograd_test.cpp, inputs and weights uniform in [-1, 1]):
// - F(2x2, 3x3) on ResNet's layers from 64 channels at 56x56 to 512 at 7x7: rel-L2 error 2.6e-7 to 3.6e-7 and
//   largest error 3.6e-7 to 4.5e-7 of the largest output, where the direct float32 sum gives 2.8e-7 and 3.3e-7 to
//   5.3e-7 (channels summed in blocks of 128: one chain of 512 gave 6.7e-7). Test bound: rel-L2 1e-6, max 1e-5.
// - F(4x4, 3x3) with the points 0, ±1, 1/2, -2: rel-L2 7.7e-7 (32 -> 9 channels), 1.06e-6 to 1.08e-6 (64 ->
//   32 and 64), 1.50e-6 (128 at 28x28), 1.45e-6 (256 at 14x14), largest error 1.8e-6 to 3.4e-6: 3 to 5 times
//   F(2x2, 3x3)'s. Test bound: rel-L2 2e-6, max 1e-5. Lavin's points 0, ±1, ±2 gave 1.5x more in a float32
//   simulation (numpy: 1.8e-6 at 64 channels, 3.2e-6 at 256). In whole networks against ONNX Runtime (the model
//   tests' limit is 1e-5): ResNet-18 2.0e-6 and 2.9e-6 (F(2x2, 3x3) only: 1.0e-6, 1.4e-6), the super-resolution
//   net 1.3e-6 (4.0e-7). The error grows with the channels, hence the limit of 128 (winograd_tile).

#include "ops/conv_winograd.h"

#include "ops/packed_weights.h"

#include <algorithm>
#include <memory>

namespace kiln::ops {
namespace {

// Panels per group. Where the packed U (points x M x C floats) fits L2 beside a panel's V and M, one panel: V and M
// stay in L2 too. Larger layers stream U from L3 once per group, so a group takes kWidePanels panels (U's
// elements each serve 4 x nr tiles), and their V and M go to L3 (each of their elements serves M or C FMAs).
constexpr int64_t kUBytesInL2 = 256 << 10;
constexpr int64_t kWidePanels = 4;

// F(4x4, 3x3) up to this many input and output channels (its error grows with C: see the top of this file), on
// images of at least kF4MinSize rows and columns when the sizes are known at prepare. Its 36 transformed weight
// matrices take 4x the filters' bytes (F(2x2, 3x3): 1.8x), and in a network they come from memory for every
// image: a 14x14 image has only 16 tiles of 4x4 to use each weight on, too few to hide that (ResNet-50's 256-channel
// 14x14 layers: 0.83x F(2x2, 3x3)'s time alone, weights in cache, but no faster in the network); 28x28 has 49.
constexpr int64_t kF4MaxChannels = 128;
constexpr int64_t kF4MinSize = 24;

struct Buffers {
  std::vector<float> v, m, scratch;
  std::vector<int64_t> counts;
};
thread_local Buffers tl_buffers;

template <typename T> T* grow(std::vector<T>& b, int64_t n) {
  if (b.size() < static_cast<size_t>(n)) b.resize(static_cast<size_t>(n));
  return b.data();
}

}  // namespace

bool winograd_f4_accurate(int64_t M, int64_t C) { return C <= kF4MaxChannels && M <= kF4MaxChannels; }

int winograd_tile(int64_t M, int64_t C, int64_t height, int64_t width) {
  if (!winograd_f4_accurate(M, C)) return 2;
  // Small images: few tiles per weight (above), and 4x4 tiles waste more on padding (ResNet's 7x7 layers: 2.0x
  // F(2x2, 3x3)'s time).
  if ((height >= 0 && height < kF4MinSize) || (width >= 0 && width < kF4MinSize)) return 2;
  return 4;
}

WinogradConv::WinogradConv(PrepareContext& ctx, const float* w, int64_t M, int64_t C, int tile)
    : M_(M), C_(C), tile_(tile) {
  const int points = tile == 4 ? kernels::kWinogradF4Points : kernels::kWinogradPoints;
  // Transformed on the first point that must be packed here (none from a matching engine). Not zero-filled
  // first: the transform writes all of it, and ResNet-18's 512-channel layers hold 16 MiB each.
  std::unique_ptr<float[]> u;
  auto transformed = [&]() -> const float* {
    if (u) return u.get();
    u.reset(new float[static_cast<size_t>(points * M * C)]);
    if (tile == 4) {
      kernels::winograd_f4k3_weights(w, M, C, u.get());
    } else {
      kernels::winograd_f2k3_weights(w, M, C, u.get());
    }
    return u.get();
  };
  for (int t = 0; t < points; ++t)
    u_.push_back(pack_gemm_weights(ctx, "winograd" + std::to_string(tile) + " U" + std::to_string(t),
                                   kernels::GemmSide::kA, M, C,
                                   [&] { return kernels::MatrixRef{transformed() + t * M * C, C, false}; }));
  nr_ = kernels::winograd_panel_width(u_[0]);
  const kernels::IsaTier tier = kernels::winograd_tier_for(u_[0]);
  // The tiered transforms write 2 vectors of their tier per segment: that must be the kernel's panel width.
  const int64_t lanes = tier == kernels::IsaTier::kAvx512 ? 16 : tier == kernels::IsaTier::kAvx2 ? 8 : 0;
  if (2 * lanes == nr_) {
    input_ = kernels::winograd_input_kernel(tier, tile);
    output_ = kernels::winograd_output_kernel(tier, tile);
  }
}

size_t WinogradConv::bytes() const {
  size_t b = 0;
  for (const auto& p : u_) b += p.bytes();
  return b;
}

void WinogradConv::run(const ConvDims& d, const float* x, const float* bias, const float* residual, float* y,
                       int64_t y_image, const kernels::ActivationParams& act, kernels::ThreadPool* pool) const {
  const int64_t points = static_cast<int64_t>(u_.size());
  kernels::WinogradShape s;
  s.tile = tile_;
  s.in_h = d.in[1], s.in_w = d.in[2], s.out_h = d.out[1], s.out_w = d.out[2];
  s.pad_top = d.pad_begin[1], s.pad_left = d.pad_begin[2];
  const int64_t per_image = s.tiles_h() * s.tiles_w(), is = d.in_size(), os = d.out_size();
  // Panels: nr consecutive tiles of one image in row-major order (a panel may cover several tile rows; the last
  // panel of an image may be partial).
  const int64_t image_panels = (per_image + nr_ - 1) / nr_, panels = d.batch * image_panels;
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
  int64_t group = points * M_ * C_ * static_cast<int64_t>(sizeof(float)) <= kUBytesInL2 ? 1 : kWidePanels;
  // Fewer groups than threads but panels that share out evenly (ResNet-18's 28x28 layers at batch 1: 2 panels,
  // one group of 4): a group per thread, with whole panels and all channels (below). Measured (Zen 4, 2 threads):
  // ResNet-18's three 128-channel F(4x4, 3x3) layers 2.25 -> 1.64 ms, the model 14.9 -> 14.3 ms. Unevenly (3
  // panels on 2 threads), one thread would run twice the other's panels: the channel split below is better.
  if ((panels + group - 1) / group < threads && panels % threads == 0) group = panels / threads;
  const int64_t groups = (panels + group - 1) / group;
  // Work items: each group's output channels in `parts` ranges of whole row panels of U. With at least as many
  // groups as threads, one range (all channels). With fewer (a small layer at batch 1: fewer panels than
  // threads), enough ranges for every thread, each item running the whole pipeline for its channels: it
  // transforms the group's whole input (the cheap step: C x tiles transforms against M x C x tiles products in the
  // GEMM), multiplies its rows of U and writes its output channels, so no item waits for or reads what another
  // thread wrote. Splitting each stage over the pool instead, with a wait between stages, scaled 1.19-1.31x at 2
  // threads on SqueezeNet's 13x13 and 27x27 layers. Where there are enough panels, splitting by panels beats
  // splitting by channels: no input is transformed twice. Neither the rows a range computes nor the panels a
  // group holds change any panel's sums: the bits do not depend on the threads.
  const int64_t mr = kernels::winograd_row_panel(u_[0]), row_panels = (M_ + mr - 1) / mr;
  const int64_t parts = groups >= threads ? 1 : std::min(row_panels, (threads + groups - 1) / groups);
  auto run_item = [&](int64_t gi, int64_t part) {
    // Groups of equal size give or take a panel (13 panels in groups of at most 4: 4, 3, 3, 3, not 4, 4, 4, 1,
    // which left one of two threads 8 panels against 5).
    const int64_t first = gi * panels / groups, count = (gi + 1) * panels / groups - first;
    const int64_t m0 = row_panels * part / parts * mr, m1 = std::min(M_, row_panels * (part + 1) / parts * mr);
    Buffers& buf = tl_buffers;
    // Point after point (winograd_point_stride); one vector of slack past each buffer: the transforms read (m)
    // whole vectors past a panel's last lanes.
    const int64_t ldv = kernels::winograd_point_stride(count * C_ * nr_);
    const int64_t ldm = kernels::winograd_point_stride(count * M_ * nr_);
    float* v = grow(buf.v, points * ldv + nr_);
    float* m = grow(buf.m, points * ldm + nr_);
    float* scratch = grow(buf.scratch, static_cast<int64_t>(kernels::kWinogradInputScratchFloats));
    int64_t* counts = grow(buf.counts, count);
    for (int64_t p = 0; p < count; ++p) counts[p] = std::min(nr_, per_image - (first + p) % image_panels * nr_);
    // Panel p is one segment of one image, (first + p) / image_panels (ldc = nr, ldt = ld).
    auto segment = [&](int64_t p, int64_t ld) {
      kernels::WinogradSegment seg;
      seg.first = (first + p) % image_panels * nr_, seg.count = counts[p], seg.lane0 = 0;
      seg.ldc = nr_, seg.ldt = ld;
      return seg;
    };
    for (int64_t p = 0; p < count; ++p) {
      const int64_t n = (first + p) / image_panels;
      input_(s, x + n * C_ * is, C_, segment(p, ldv), v + p * C_ * nr_, scratch);
    }
    kernels::winograd_points_gemm(u_.data(), static_cast<int>(points), M_, C_, v, ldv, count, counts, m, ldm, m0, m1);
    for (int64_t p = 0; p < count; ++p) {
      const int64_t n = (first + p) / image_panels, at = (n * M_ + m0) * os;
      output_(s, m + (p * M_ + m0) * nr_, m1 - m0, segment(p, ldm), bias ? bias + m0 : nullptr,
              residual ? residual + at : nullptr, y + n * y_image + m0 * os, act);
    }
  };
  kernels::parallel_for(pool, static_cast<size_t>(groups * parts), [&](size_t item) {
    run_item(static_cast<int64_t>(item) / parts, static_cast<int64_t>(item) % parts);
  });
}

}  // namespace kiln::ops
