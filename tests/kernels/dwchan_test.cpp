// The channel-blocked depthwise kernels of every tier (dwchan_list.h) against the plain reference (dwconv_f32_ref),
// on random shapes: channel counts around the 8- and 16-lane blocks, ragged and narrow widths, strides,
// dilations, asymmetric pads, every activation, with and without bias; items split across calls and threads.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/dwchan/dwchan.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "float_test_util.h"

namespace kiln::kernels {
namespace {

constexpr ListedKernel kDwChanKernels[] = {
#define KILN_DWCHAN(name, tier, simd) {#name, IsaTier::tier},
#include "kernels/dwchan/dwchan_list.h"
    // The AVX-512 kernel's logic on AVX2 instructions: checked on any AVX2 CPU.
    {"dwchan_f32_avx512_logic", IsaTier::kAvx2},
};

class DwChanKernel : public ::testing::TestWithParam<ListedKernel> {};

TEST_P(DwChanKernel, MatchesReferenceOnRandomShapes) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const DwChanFn fn = std::string(k.name).ends_with("_logic") ? dwchan_f32_avx512_logic
                                                              : dwchan_kernel(k.tier);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(4321);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 400; ++iter) {
    const DwConvShape s = random_dwconv_shape(rng, iter % 3 == 0, 20, iter % 2 ? 12 : 40);
    DwConvArgs a;
    a.images = pick(1, 2);
    a.channels = a.in_channels = a.groups = iter % 4 == 0 ? pick(1, 3) : pick(1, 40);
    a.act = activation_of(iter);
    ASSERT_TRUE(dwchan_supports(s, a));
    const auto x = random_floats(static_cast<size_t>(a.images * a.channels * s.in_h * s.in_w), rng);
    const auto w = random_floats(static_cast<size_t>(a.channels * s.kernel_h * s.kernel_w), rng);
    const auto bias = random_floats(static_cast<size_t>(a.channels), rng);
    const size_t out = static_cast<size_t>(a.images * a.channels * s.out_h * s.out_w);
    // A guard zone past the planes catches writes beyond them.
    std::vector<float> got(out + 16, 7.0f), want(got.size(), 7.0f);
    a.x = x.data(), a.w = w.data(), a.bias = iter % 3 ? bias.data() : nullptr, a.y = got.data();
    // Two calls sharing a scratch full of garbage, the first ending at a random item: nothing carries over.
    std::vector<float> scratch(dwchan_scratch_floats(s), 1e30f);
    const int64_t items = dwchan_items(s, a), mid = pick(0, static_cast<int>(items));
    fn(s, a, 0, mid, scratch.data());
    fn(s, a, mid, items, scratch.data());
    a.y = want.data();
    dwconv_f32_ref(s, a, 0, a.items(), nullptr);
    expect_floats_near(got, want, 1e-5f, 1e-5f, std::string(k.name) + " " + describe(s) + " channels " + std::to_string(a.channels) +
                               " images " + std::to_string(a.images) + " " + activation_name(a.act.kind));
    if (HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Tiers, DwChanKernel, ::testing::ValuesIn(kDwChanKernels),
                         [](const ::testing::TestParamInfo<ListedKernel>& i) { return std::string(i.param.name); });

TEST(DwChan, RefusesWhatItDoesNotCover) {
  DwConvShape s;
  s.in_h = s.in_w = 8, s.kernel_h = s.kernel_w = 3, s.out_h = s.out_w = 6;
  DwConvArgs a;
  a.in_channels = a.channels = a.groups = 4;
  EXPECT_TRUE(dwchan_supports(s, a));
  float z = 0;
  a.residual = &z;  // a residual: dwconv's kernels take it
  EXPECT_FALSE(dwchan_supports(s, a));
  a.residual = nullptr;
  a.channels = 8;  // a channel multiplier
  EXPECT_FALSE(dwchan_supports(s, a));
}

TEST(DwChan, DispatchGivesTheSameResultOnAnyThreadCount) {
  if (!dwchan_kernel_name()) GTEST_SKIP() << "no channel-blocked kernel at " << isa_name(active_isa());
  std::mt19937 rng(7);
  DwConvShape s;  // 112-wide rows: several row bands per channel block
  s.in_h = 40, s.in_w = 112, s.kernel_h = s.kernel_w = 3, s.stride_h = s.stride_w = 2;
  s.pad_top = s.pad_left = 1, s.out_h = 20, s.out_w = 56;
  DwConvArgs a;
  a.images = 2, a.channels = a.in_channels = a.groups = 37;
  const auto x = random_floats(static_cast<size_t>(a.images * a.channels * s.in_h * s.in_w), rng);
  const auto w = random_floats(static_cast<size_t>(a.channels * 9), rng);
  const auto bias = random_floats(static_cast<size_t>(a.channels), rng);
  const size_t out = static_cast<size_t>(a.images * a.channels * s.out_h * s.out_w);
  std::vector<float> one(out), two(out), want(out);
  a.x = x.data(), a.w = w.data(), a.bias = bias.data(), a.y = one.data();
  a.act.kind = Activation::kHardSwish;
  ASSERT_TRUE(dwchan_f32(s, a, nullptr));
  ThreadPool pool(2);
  a.y = two.data();
  ASSERT_TRUE(dwchan_f32(s, a, &pool));
  EXPECT_EQ(one, two);
  a.y = want.data();
  dwconv_f32_ref(s, a, 0, a.items(), nullptr);
  expect_floats_near(one, want, 1e-5f, 1e-5f, std::string("dwchan_f32 ") + dwchan_kernel_name());
}

}  // namespace
}  // namespace kiln::kernels
