// Winograd F(2x2, 3x3): the transform kernels of every tier against the scalar reference, and the Conv tactic's
// accuracy against float64 next to the implicit GEMM's (the bound conv_winograd.cpp documents).

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "../unit/nn_test_util.h"
#include "kernels/winograd/winograd.h"
#include "float_test_util.h"
#include "prepared_node.h"

namespace kiln::kernels {
namespace {

struct WinogradListed {
  const char* name;
  IsaTier tier;
  int tile;
};
constexpr WinogradListed kWinogradKernels[] = {
#define KILN_WINOGRAD(name, tier, simd, tile) {#name, IsaTier::tier, tile},
#include "kernels/winograd/winograd_list.h"
};

class WinogradKernel : public ::testing::TestWithParam<WinogradListed> {};

TEST_P(WinogradKernel, TransformsMatchTheReference) {
  const WinogradListed k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const WinogradInputFn input = winograd_input_kernel(k.tier, k.tile);
  const WinogradOutputFn output = winograd_output_kernel(k.tier, k.tile);
  const WinogradInputFn input_ref = winograd_input_kernel(IsaTier::kRef, k.tile);
  const WinogradOutputFn output_ref = winograd_output_kernel(IsaTier::kRef, k.tile);
  const int points = k.tile == 4 ? kWinogradF4Points : kWinogradPoints;
  ASSERT_TRUE(input && output);
  const int64_t nr = k.tier == IsaTier::kAvx512 ? 32 : 16;  // 2 vectors: the segment width of the tier
  std::mt19937 rng(7);
  auto pick = [&](int64_t lo, int64_t hi) {
    return static_cast<int64_t>(std::uniform_int_distribution<int64_t>(lo, hi)(rng));
  };
  for (int iter = 0; iter < 300 && !HasFailure(); ++iter) {
    WinogradShape s;
    s.tile = k.tile;
    s.in_h = pick(1, 20), s.in_w = pick(1, iter % 2 ? 40 * k.tile : 12), s.pad_top = pick(0, 2), s.pad_left = pick(0, 2);
    s.out_h = std::max<int64_t>(1, s.in_h + s.pad_top + pick(0, 2) - 2);
    s.out_w = std::max<int64_t>(1, s.in_w + s.pad_left + pick(0, 2) - 2);
    const int64_t channels = pick(1, 3), th = s.tiles_h(), tw = s.tiles_w();
    // A segment of up to a panel of tiles, over several tile rows when the rows are short, at any lane offset.
    WinogradSegment seg;
    seg.first = pick(0, th * tw - 1), seg.count = pick(1, std::min(nr, th * tw - seg.first));
    seg.lane0 = pick(0, nr - seg.count);
    seg.ldc = nr + pick(0, 3) * 8, seg.ldt = channels * seg.ldc + pick(0, 5);
    const std::string what = std::string(k.name) + " in " + std::to_string(s.in_h) + "x" + std::to_string(s.in_w) +
                             " out " + std::to_string(s.out_h) + "x" + std::to_string(s.out_w) + " pad " +
                             std::to_string(s.pad_top) + "," + std::to_string(s.pad_left) + " tiles " +
                             std::to_string(seg.first) + "+" + std::to_string(seg.count) + " at lane " +
                             std::to_string(seg.lane0);
    const auto x = random_floats(static_cast<size_t>(channels * s.in_h * s.in_w), rng);
    std::vector<float> scratch(kWinogradInputScratchFloats);
    std::vector<float> got(static_cast<size_t>(points * seg.ldt + nr), 0.0f), want(got);
    input(s, x.data(), channels, seg, got.data(), scratch.data());
    input_ref(s, x.data(), channels, seg, want.data(), nullptr);
    for (int t = 0; t < points; ++t)
      for (int64_t c = 0; c < channels; ++c) {
        const size_t at = static_cast<size_t>(t * seg.ldt + c * seg.ldc + seg.lane0);
        expect_floats_near(got.data() + at, want.data() + at, static_cast<size_t>(seg.count), 1e-5f, 1e-5f, what + " input");
      }
    ActivationParams act;
    act.kind = static_cast<Activation>(iter % 11);
    act.alpha = act.kind == Activation::kClip ? -0.5f : 0.1f, act.beta = 0.5f;
    const auto m = random_floats(got.size(), rng), bias = random_floats(static_cast<size_t>(channels), rng);
    const auto res = random_floats(static_cast<size_t>(channels * s.out_h * s.out_w), rng);
    // Outputs outside the segment keep their 3.0: the kernel must not write them (another thread owns them).
    std::vector<float> y(res.size() + 16, 3.0f), y_ref(y);
    const float* b = iter % 3 ? bias.data() : nullptr;
    const float* r = iter % 2 ? res.data() : nullptr;
    output(s, m.data(), channels, seg, b, r, y.data(), act);
    output_ref(s, m.data(), channels, seg, b, r, y_ref.data(), act);
    expect_floats_near(y.data(), y_ref.data(), y.size(), 1e-5f, 1e-5f, what + " output " + activation_name(act.kind));
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, WinogradKernel, ::testing::ValuesIn(kWinogradKernels),
                         [](const ::testing::TestParamInfo<WinogradListed>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace kiln::kernels

namespace kiln::testing {
namespace {

struct ErrorStats {
  double rel_l2 = 0, max_rel = 0;  // max_rel: max |err| / max |want|
};

// F(4x4, 3x3)'s bound (conv_winograd.cpp states the measured figures).
constexpr double kF4RelL2Bound = 2e-6;

ErrorStats error_vs(const Tensor& got, const Tensor& want64) {
  double num = 0, den = 0, max_err = 0, max_want = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double w = want64.data<double>()[i], e = got.data<float>()[i] - w;
    num += e * e, den += w * w;
    max_err = std::max(max_err, std::abs(e)), max_want = std::max(max_want, std::abs(w));
  }
  return {std::sqrt(num / den), max_err / max_want};
}

Tensor to_double(const Tensor& t) {
  Tensor d(DType::kFloat64, t.dims());
  for (int64_t i = 0; i < t.numel(); ++i) d.data<double>()[i] = t.data<float>()[i];
  return d;
}

// 3x3 stride-1 layers of ResNet and the super-resolution net: the Winograd tactic's error against float64 next to
// the float32 reference's (im2col + the reference GEMM, the same sums as direct convolution). Layers of up to 128
// channels take F(4x4, 3x3), the others F(2x2, 3x3) (ops/conv_winograd.cpp), each held to its documented bound.
TEST(ConvWinograd, AccuracyAgainstFloat64) {
  std::mt19937 rng(11);
  struct Layer {
    int64_t C, M, size;
  };
  for (const Layer& l : {Layer{64, 64, 56}, Layer{64, 32, 64}, Layer{32, 9, 64}, Layer{128, 128, 28},
                         Layer{256, 256, 14}, Layer{512, 512, 7}}) {
    const Tensor x = random_tensor({1, l.C, l.size, l.size}, rng), w = random_tensor({l.M, l.C, 3, 3}, rng);
    const Tensor b = random_tensor({l.M}, rng);
    auto node = [&](bool dbl) {
      PreparedNode n("Conv", 22);
      n.attr(ints_attr("pads", {1, 1, 1, 1}));
      n.input(dbl ? to_double(x) : x).constant(dbl ? to_double(w) : w).constant(dbl ? to_double(b) : b);
      return n;
    };
    PreparedNode n32 = node(false), n64 = node(true);
    const Tensor want64 = n64.reference()[0], ref32 = n32.reference()[0];
    auto k = n32.prepare();
    ASSERT_TRUE(k);
    ASSERT_NE(k->describe().find("winograd"), std::string::npos) << k->describe();
    const bool f4 = k->describe().find("f4k3") != std::string::npos;
    EXPECT_EQ(f4, l.C <= 128 && l.M <= 128) << k->describe();  // sizes unknown at prepare here
    const Tensor fast = n32.run(*k, {ref32.dims()}, nullptr)[0];
    const ErrorStats e_fast = error_vs(fast, want64), e_ref = error_vs(ref32, want64);
    std::printf("  C=%lld M=%lld %lldx%lld: winograd %s rel-L2 %.2e max %.2e | direct fp32 rel-L2 %.2e max %.2e\n",
                static_cast<long long>(l.C), static_cast<long long>(l.M), static_cast<long long>(l.size),
                static_cast<long long>(l.size), f4 ? "F(4x4,3x3)" : "F(2x2,3x3)", e_fast.rel_l2, e_fast.max_rel,
                e_ref.rel_l2, e_ref.max_rel);
    EXPECT_LT(e_fast.rel_l2, f4 ? kF4RelL2Bound : 1e-6) << "Winograd's documented bound (conv_winograd.cpp)";
    EXPECT_LT(e_fast.max_rel, 1e-5);
  }
}

}  // namespace
}  // namespace kiln::testing
