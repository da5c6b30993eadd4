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

namespace kiln::testing {
namespace {

struct Wide16 {
  static constexpr int kLanes = 16;
  struct V {
    float v[16];
  };
  template <typename F> static V map(F f) {
    V r;
    for (int i = 0; i < 16; ++i) r.v[i] = f(i);
    return r;
  }
  static V zero() { return set1(0.0f); }
  static V set1(float x) { return map([&](int) { return x; }); }
  static V load(const float* p) { return map([&](int i) { return p[i]; }); }
  static void store(float* p, V a) { std::copy(a.v, a.v + 16, p); }
  static V load_partial(const float* p, int64_t n) { return map([&](int i) { return i < n ? p[i] : 0.0f; }); }
  static void store_partial(float* p, V a, int64_t n) { std::copy(a.v, a.v + n, p); }
  static V add(V a, V b) { return map([&](int i) { return a.v[i] + b.v[i]; }); }
  static V sub(V a, V b) { return map([&](int i) { return a.v[i] - b.v[i]; }); }
  static V mul(V a, V b) { return map([&](int i) { return a.v[i] * b.v[i]; }); }
  static V fmadd(V a, V b, V c) { return map([&](int i) { return std::fma(a.v[i], b.v[i], c.v[i]); }); }
  // vmaxps / vminps: the second operand when either is NaN.
  static V max(V a, V b) { return map([&](int i) { return a.v[i] > b.v[i] ? a.v[i] : b.v[i]; }); }
  static V min(V a, V b) { return map([&](int i) { return a.v[i] < b.v[i] ? a.v[i] : b.v[i]; }); }
  // What the register epilogue's Sigmoid and SiLU compile against (vunary_math.h's sigmoid, silu and exp).
  struct M {
    bool b[16];
  };
  struct VI {
    int32_t v[16];
  };
  template <typename F> static M test(F f) {
    M r;
    for (int i = 0; i < 16; ++i) r.b[i] = f(i);
    return r;
  }
  template <typename F> static VI map_i(F f) {
    VI r;
    for (int i = 0; i < 16; ++i) r.v[i] = f(i);
    return r;
  }
  static V div(V a, V b) { return map([&](int i) { return a.v[i] / b.v[i]; }); }
  static V fnmadd(V a, V b, V c) { return map([&](int i) { return std::fma(-a.v[i], b.v[i], c.v[i]); }); }
  static V abs(V a) { return map([&](int i) { return std::fabs(a.v[i]); }); }
  static V neg(V a) { return map([&](int i) { return -a.v[i]; }); }
  static V round(V a) { return map([&](int i) { return std::nearbyint(a.v[i]); }); }
  static V and_(V a, V b) { return as_float(map_i([&](int i) { return as_int(a).v[i] & as_int(b).v[i]; })); }
  static V or_(V a, V b) { return as_float(map_i([&](int i) { return as_int(a).v[i] | as_int(b).v[i]; })); }
  static M lt(V a, V b) { return test([&](int i) { return a.v[i] < b.v[i]; }); }
  static M le(V a, V b) { return test([&](int i) { return a.v[i] <= b.v[i]; }); }
  static V select(M m, V a, V b) { return map([&](int i) { return m.b[i] ? a.v[i] : b.v[i]; }); }
  static bool all(M m) { return std::all_of(m.b, m.b + 16, [](bool x) { return x; }); }
  static VI to_int(V a) { return map_i([&](int i) { return a.v[i] == a.v[i] ? static_cast<int32_t>(std::nearbyint(a.v[i])) : INT32_MIN; }); }
  static VI add_i(VI a, VI b) { return map_i([&](int i) { return a.v[i] + b.v[i]; }); }
  static VI sub_i(VI a, VI b) { return map_i([&](int i) { return a.v[i] - b.v[i]; }); }
  static VI set1_i(int32_t x) { return map_i([&](int) { return x; }); }
  template <int k> static VI shl_i(VI a) { return map_i([&](int i) { return static_cast<int32_t>(static_cast<uint32_t>(a.v[i]) << k); }); }
  template <int k> static VI sra_i(VI a) { return map_i([&](int i) { return a.v[i] >> k; }); }
  static VI as_int(V a) { return std::bit_cast<VI>(a); }
  static V as_float(VI a) { return std::bit_cast<V>(a); }
};

}  // namespace
}  // namespace kiln::testing

namespace kiln::kernels::simd {
template <> struct Interleave<kiln::testing::Wide16> {
  using V = kiln::testing::Wide16::V;
  static void deinterleave(const float* p, V* even, V* odd) {
    for (int i = 0; i < 16; ++i) even->v[i] = p[2 * i], odd->v[i] = p[2 * i + 1];
  }
  static void interleave(V even, V odd, float* p) {
    for (int i = 0; i < 16; ++i) p[2 * i] = even.v[i], p[2 * i + 1] = odd.v[i];
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
  const auto input = kTile == 4 ? kernels::winograd_f4_detail::input<Wide16> : kernels::winograd_detail::input<Wide16>;
  const auto output = kTile == 4 ? kernels::winograd_f4_detail::output<Wide16> : kernels::winograd_detail::output<Wide16>;
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
