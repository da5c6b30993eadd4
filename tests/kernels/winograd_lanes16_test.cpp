// The AVX-512 Winograd transforms cannot run on a CPU without AVX-512, but their logic is winograd_impl.h's
// templates with 16 lanes. As tests/kernels/lanes16_test.cpp does for pooling and resizing, this instantiates those
// templates with a portable 16-lane wrapper (plain C++, only what the transforms use, with the semantics of the
// AVX-512 instructions behind simd::Avx512 and simd::Interleave<Avx512>) and checks them against the reference on
// segments of up to 32 tiles (the 12x32 kernel's panel): a lane-count mistake (a scratch row sized for 8 lanes, a
// store past the panel) fails here on any CPU.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/winograd/winograd_f4_impl.h"
#include "kernels/winograd/winograd_impl.h"
#include "lanes16_emulation.h"

namespace kiln::kernels::simd {
template <> struct Interleave<kiln::testing::Lanes16> {
  using V = kiln::testing::Lanes16::V;
  static void deinterleave(const float* p, V* even, V* odd) {
    for (int i = 0; i < 16; ++i) even->v[i] = p[2 * i], odd->v[i] = p[2 * i + 1];
  }
  static void interleave(V even, V odd, float* p) {
    for (int i = 0; i < 16; ++i) p[2 * i] = even.v[i], p[2 * i + 1] = odd.v[i];
  }
  static void split4(const V x[4], V q[4]) {
    for (int i = 0; i < 64; ++i) q[i % 4].v[i / 4] = x[i / 16].v[i % 16];
  }
  static void merge4(const V q[4], V x[4]) {
    for (int i = 0; i < 64; ++i) x[i / 16].v[i % 16] = q[i % 4].v[i / 4];
  }
};
}  // namespace kiln::kernels::simd

namespace kiln::testing {
namespace {

using kernels::WinogradSegment;
using kernels::WinogradShape;

template <int kTile> void check_transforms() {
  constexpr int64_t nr = 32;
  const int points = kTile == 4 ? kernels::kWinogradF4Points : kernels::kWinogradPoints;
  const auto input = kTile == 4 ? kernels::winograd_f4_detail::input<Lanes16> : kernels::winograd_detail::input<Lanes16>;
  const auto output = kTile == 4 ? kernels::winograd_f4_detail::output<Lanes16> : kernels::winograd_detail::output<Lanes16>;
  const auto input_ref = kernels::winograd_input_kernel(kernels::IsaTier::kRef, kTile);
  const auto output_ref = kernels::winograd_output_kernel(kernels::IsaTier::kRef, kTile);
  std::mt19937 rng(17);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int iter = 0; iter < 300 && !::testing::Test::HasFailure(); ++iter) {
    WinogradShape s;
    s.tile = kTile;
    s.in_h = pick(1, 20), s.in_w = pick(1, iter % 2 ? 75 * kTile : 12), s.pad_top = pick(0, 2), s.pad_left = pick(0, 2);
    s.out_h = std::max<int64_t>(1, s.in_h + s.pad_top + pick(0, 2) - 2);
    s.out_w = std::max<int64_t>(1, s.in_w + s.pad_left + pick(0, 2) - 2);
    const int64_t channels = pick(1, 3), tiles = s.tiles_h() * s.tiles_w();
    WinogradSegment seg;
    seg.first = pick(0, tiles - 1), seg.count = pick(1, std::min(nr, tiles - seg.first));
    seg.lane0 = pick(0, nr - seg.count);
    seg.ldc = nr, seg.ldt = channels * nr + pick(0, 5);
    const std::string what = "in " + std::to_string(s.in_h) + "x" + std::to_string(s.in_w) + " tiles " +
                             std::to_string(seg.first) + "+" + std::to_string(seg.count) + " at lane " +
                             std::to_string(seg.lane0);
    std::vector<float> x(static_cast<size_t>(channels * s.in_h * s.in_w));
    for (float& v : x) v = u(rng);
    std::vector<float> scratch(kernels::kWinogradInputScratchFloats);
    std::vector<float> got(static_cast<size_t>(points * seg.ldt + nr), 0.0f), want(got);
    input(s, x.data(), channels, seg, got.data(), scratch.data());
    input_ref(s, x.data(), channels, seg, want.data(), nullptr);
    for (int t = 0; t < points; ++t)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t i = 0; i < seg.count; ++i) {
          const size_t at = static_cast<size_t>(t * seg.ldt + c * seg.ldc + seg.lane0 + i);
          ASSERT_NEAR(got[at], want[at], 1e-5f * (1 + std::abs(want[at]))) << what << " input point " << t << " channel " << c << " tile " << i;
        }
    kernels::ActivationParams act;
    act.kind = iter % 3 == 0 ? kernels::Activation::kRelu : iter % 3 == 1 ? kernels::Activation::kNone
                                                                           : kernels::Activation::kSigmoid;
    std::vector<float> m(got.size()), bias(static_cast<size_t>(channels));
    for (float& v : m) v = u(rng);
    for (float& v : bias) v = u(rng);
    std::vector<float> res(static_cast<size_t>(channels * s.out_h * s.out_w));
    for (float& v : res) v = u(rng);
    // Outputs outside the segment keep their 3.0: the kernel must not write them.
    std::vector<float> y(res.size(), 3.0f), y_ref(y);
    output(s, m.data(), channels, seg, bias.data(), iter % 2 ? res.data() : nullptr, y.data(), act);
    output_ref(s, m.data(), channels, seg, bias.data(), iter % 2 ? res.data() : nullptr, y_ref.data(), act);
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(y[i], y_ref[i], 1e-5f * (1 + std::abs(y_ref[i]))) << what << " output element " << i;
  }
}

TEST(Lanes16, WinogradTransformsMatchTheReference) { check_transforms<2>(); }
TEST(Lanes16, WinogradF4TransformsMatchTheReference) { check_transforms<4>(); }

}  // namespace
}  // namespace kiln::testing
