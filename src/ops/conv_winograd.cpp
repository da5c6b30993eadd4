// Winograd F(2x2, 3x3) as a convolution tactic. The output is cut into bands of whole tile rows (about
// kBandTiles tiles each); per band: the input transform writes V [16][C][tiles], 16 GEMMs U_t · V_t give
// M [16][M][tiles], the output transform writes Y with bias, residual and activation. Bands are independent:
// with enough of them they are spread over the pool (one parallel region per image), otherwise each band's
// steps are (three regions per band; few regions matter when the cores are shared and a region waits for
// its last thread). The band split depends on the sizes only, so the result does not depend on the threads.
//
// Accuracy, measured against float64 (tests/kernels/winograd_test.cpp, inputs and weights uniform in [-1, 1],
// ResNet's 3x3 layers from 64 channels at 56x56 to 512 at 7x7): rel-L2 error 2.6e-7 to 5.0e-7 and largest error
// 3.6e-7 to 6.7e-7 of the largest output, where the direct float32 sum gives 2.8e-7 and 3.8e-7 to 5.3e-7. The
// test holds it under rel-L2 1e-6 and max 1e-5. F(4x4, 3x3) would cut the multiplies 4x, but a float32
// simulation of Lavin's F(4x4, 3x3) (numpy, 64 channels at 16x16 and 256 at 8x8) gave rel-L2 1.4e-6 to 2.1e-6
// and max 3.2e-6 to 4.7e-6, 5 to 7 times F(2x2, 3x3)'s in the same run: over 1e-6 per layer, too much for the
// model tests' 1e-5 across a network, so it is not used.

#include "ops/conv_winograd.h"

#include <algorithm>

#include "kernels/winograd/winograd.h"

namespace kiln::ops {
namespace {

// Tiles per band: enough columns for the GEMMs to run near their best, few enough that V and M of a band
// (16 x (C + M) x tiles floats) stay a few MiB at most.
constexpr int64_t kBandTiles = 256;

struct Buffers {
  std::vector<float> v, m, scratch;
};
thread_local Buffers tl_buffers;

float* grow(std::vector<float>& b, int64_t floats) {
  if (b.size() < static_cast<size_t>(floats)) b.resize(static_cast<size_t>(floats));
  return b.data();
}

}  // namespace

WinogradConv::WinogradConv(const float* w, int64_t M, int64_t C) : M_(M), C_(C) {
  std::vector<float> u(static_cast<size_t>(kernels::kWinogradPoints * M * C));
  kernels::winograd_f2k3_weights(w, M, C, u.data());
  for (int t = 0; t < kernels::kWinogradPoints; ++t)
    u_.push_back(kernels::pack_gemm_operand(kernels::GemmSide::kA, {u.data() + t * M * C, C, false}, M, C));
}

size_t WinogradConv::bytes() const {
  size_t b = 0;
  for (const auto& p : u_) b += p.bytes();
  return b;
}

void WinogradConv::run(const ConvDims& d, const float* x, const float* bias, const float* residual, float* y,
                       const kernels::ActivationParams& act, kernels::ThreadPool* pool) const {
  kernels::WinogradShape s;
  s.in_h = d.in[1], s.in_w = d.in[2], s.out_h = d.out[1], s.out_w = d.out[2];
  s.pad_top = d.pad_begin[1], s.pad_left = d.pad_begin[2];
  const int64_t th = s.tiles_h(), tw = s.tiles_w();
  const int64_t rows = std::clamp<int64_t>((kBandTiles + tw - 1) / tw, 1, th), bands = (th + rows - 1) / rows;
  const kernels::WinogradInputFn input = kernels::winograd_input_kernel(kernels::active_isa());
  const kernels::WinogradOutputFn output = kernels::winograd_output_kernel(kernels::active_isa());
  const int64_t is = d.in_size(), os = d.out_size();
  const bool spread = pool && bands >= static_cast<int64_t>(pool->threads());
  for (int64_t n = 0; n < d.batch; ++n) {
    const float* xn = x + n * C_ * is;
    float* yn = y + n * M_ * os;
    const float* rn = residual ? residual + n * M_ * os : nullptr;
    // Band b. With a pool, its three steps are each spread over the pool: the transforms by channel ranges,
    // the 16 GEMMs one per task (three parallel regions per band, whatever the GEMM's own splitting).
    auto band = [&](int64_t b, kernels::ThreadPool* band_pool) {
      const int64_t tr0 = b * rows, r = std::min(rows, th - tr0), tiles = r * tw;
      const int64_t ld = (tiles + 16 + 15) / 16 * 16;  // WinogradBand::ldc: a vector of slack past the tiles
      Buffers& buf = tl_buffers;
      float* v = grow(buf.v, kernels::kWinogradPoints * C_ * ld);
      float* m = grow(buf.m, kernels::kWinogradPoints * M_ * ld);
      const size_t scratch = kernels::winograd_input_scratch_floats(s, r);
      const int64_t parts = band_pool ? 2 * static_cast<int64_t>(band_pool->threads()) : 1;
      kernels::parallel_for(band_pool, static_cast<size_t>(parts), [&](size_t p) {
        const int64_t c0 = C_ * static_cast<int64_t>(p) / parts, c1 = C_ * static_cast<int64_t>(p + 1) / parts;
        input(s, xn + c0 * is, c1 - c0, {tr0, r, ld, C_ * ld}, v + c0 * ld,
              grow(tl_buffers.scratch, static_cast<int64_t>(scratch)));
      });
      kernels::parallel_for(band_pool, kernels::kWinogradPoints, [&](size_t t) {
        kernels::GemmArgs g;
        g.M = M_, g.N = tiles, g.K = C_;
        g.packed_a = &u_[t];
        g.b = {v + static_cast<int64_t>(t) * C_ * ld, ld, false};
        g.c = m + static_cast<int64_t>(t) * M_ * ld;
        g.ldc = ld;
        kernels::gemm_f32(g, nullptr);
      });
      kernels::parallel_for(band_pool, static_cast<size_t>(parts), [&](size_t p) {
        const int64_t k0 = M_ * static_cast<int64_t>(p) / parts, k1 = M_ * static_cast<int64_t>(p + 1) / parts;
        output(s, m + k0 * ld, k1 - k0, {tr0, r, ld, M_ * ld}, bias ? bias + k0 : nullptr,
               rn ? rn + k0 * os : nullptr, yn + k0 * os, act);
      });
    };
    if (spread) {
      kernels::parallel_for(pool, static_cast<size_t>(bands), [&](size_t b) { band(static_cast<int64_t>(b), nullptr); });
    } else {
      for (int64_t b = 0; b < bands; ++b) band(b, pool);
    }
  }
}

}  // namespace kiln::ops
