// The depthwise plane kernels of every tier (dwconv_list.h) against the plain reference, on random shapes:
// ragged widths, 1-sized dims, strides, dilations, asymmetric pads, every activation, bias and residual.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/dwconv/dwconv.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "float_test_util.h"

namespace kiln::kernels {
namespace {

constexpr ListedKernel kDwConvKernels[] = {
#define KILN_DWCONV(name, tier, simd) {#name, IsaTier::tier},
#include "kernels/dwconv/dwconv_list.h"
};

class DwConvKernel : public ::testing::TestWithParam<ListedKernel> {};

TEST_P(DwConvKernel, MatchesReferenceOnRandomShapes) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const DwConvFn fn = dwconv_kernel(k.tier);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(1234);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 400; ++iter) {
    const DwConvShape s = random_dwconv_shape(rng, false, 24, 70);
    // Half depthwise (one input and one output channel per group), half few-channel groups.
    DwConvArgs a;
    a.images = pick(1, 2), a.groups = pick(1, 3);
    const int64_t cg = iter % 2 ? 1 : pick(1, 5), mg = iter % 2 ? 1 : pick(1, 9);
    a.in_channels = a.groups * cg, a.channels = a.groups * mg;
    a.act = activation_of(iter);
    const int64_t out_planes = a.images * a.channels;
    const auto x = random_floats(static_cast<size_t>(a.images * a.in_channels * s.in_h * s.in_w), rng);
    const auto w = random_floats(static_cast<size_t>(a.channels * cg * s.kernel_h * s.kernel_w), rng);
    const auto bias = random_floats(static_cast<size_t>(a.channels), rng);
    const auto res = random_floats(static_cast<size_t>(out_planes * s.out_h * s.out_w), rng);
    // A guard zone past the planes catches writes beyond them.
    std::vector<float> got(res.size() + 16, 7.0f), want(got.size(), 7.0f);
    a.x = x.data(), a.w = w.data(), a.bias = iter % 3 ? bias.data() : nullptr;
    a.residual = iter % 4 < 2 ? res.data() : nullptr, a.y = got.data();
    // Two calls sharing the scratch, the first ending mid-group: each must split what it needs.
    std::vector<float> scratch(dwconv_scratch_floats(s, a), 0.0f);
    const int64_t mid = pick(0, static_cast<int>(a.items()));
    fn(s, a, 0, mid, scratch.data());
    fn(s, a, mid, a.items(), scratch.data());
    a.y = want.data();
    dwconv_f32_ref(s, a, 0, a.items(), nullptr);
    expect_floats_near(got, want, 1e-5f, 1e-5f, std::string(k.name) + " " + describe(s) + " groups " + std::to_string(a.groups) + " of " +
                               std::to_string(cg) + " -> " + std::to_string(mg) + " " + activation_name(a.act.kind));
    if (HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, DwConvKernel, ::testing::ValuesIn(kDwConvKernels),
                         [](const ::testing::TestParamInfo<ListedKernel>& i) { return std::string(i.param.name); });

TEST(DwConv, DispatchCoversImagesMultipliersAndThreadCounts) {
  std::mt19937 rng(99);
  DwConvShape s;
  s.in_h = 13, s.in_w = 17, s.kernel_h = 3, s.kernel_w = 3, s.stride_h = 2, s.stride_w = 2;
  s.pad_top = 1, s.pad_left = 1, s.out_h = 7, s.out_w = 9;
  // Depthwise with a channel multiplier of 2, then an RGB-stem-like group of 3 channels to 10.
  for (auto [groups, cg, mg] : {std::tuple<int64_t, int64_t, int64_t>{3, 1, 2}, {1, 3, 10}}) {
    DwConvArgs a;
    a.images = 2, a.groups = groups, a.in_channels = groups * cg, a.channels = groups * mg;
    const auto x = random_floats(static_cast<size_t>(a.images * a.in_channels * s.in_h * s.in_w), rng);
    const auto w = random_floats(static_cast<size_t>(a.channels * cg * 9), rng);
    const auto bias = random_floats(static_cast<size_t>(a.channels), rng);
    const size_t out = static_cast<size_t>(a.images * a.channels * s.out_h * s.out_w);
    std::vector<float> one(out), two(out), want(out);
    a.x = x.data(), a.w = w.data(), a.bias = bias.data(), a.y = one.data();
    a.act.kind = Activation::kRelu;
    dwconv_f32(s, a, nullptr);
    ThreadPool pool(2);
    a.y = two.data();
    dwconv_f32(s, a, &pool);
    EXPECT_EQ(one, two);
    a.y = want.data();
    dwconv_f32_ref(s, a, 0, a.items(), nullptr);
    expect_floats_near(one, want, 1e-5f, 1e-5f, "dwconv_f32 " + std::string(dwconv_kernel_name()));
  }
}

}  // namespace
}  // namespace kiln::kernels
