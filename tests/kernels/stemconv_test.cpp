// The few-input-channel convolution kernels of every tier (stemconv_list.h) against the plain reference
// (dwconv_f32_ref), on random shapes: 1 to 4 input channels, output channel counts around the 16-channel blocks,
// ragged and narrow widths, strides, dilations, asymmetric pads, every activation, with and without bias; items
// split across calls and threads.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/stemconv/stemconv.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "float_test_util.h"

namespace kiln::kernels {
namespace {

constexpr ListedKernel kStemConvKernels[] = {
#define KILN_STEMCONV(name, tier, simd) {#name, IsaTier::tier},
#include "kernels/stemconv/stemconv_list.h"
    // The AVX-512 kernel's logic on AVX2 instructions: checked on any AVX2 CPU.
    {"stemconv_f32_avx512_logic", IsaTier::kAvx2},
};

StemConvFn kernel_of(const ListedKernel& k) {
  return std::string(k.name).ends_with("_logic") ? stemconv_f32_avx512_logic : stemconv_kernel(k.tier);
}

class StemConvKernel : public ::testing::TestWithParam<ListedKernel> {};

TEST_P(StemConvKernel, MatchesReferenceOnRandomShapes) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const StemConvFn fn = kernel_of(k);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(4321);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int iter = 0; iter < 400; ++iter) {
    const DwConvShape s = random_dwconv_shape(rng, iter % 3 == 0, 20, iter % 2 ? 12 : 40);
    DwConvArgs a;
    a.images = pick(1, 2);
    a.groups = 1, a.in_channels = pick(1, 4), a.channels = iter % 4 == 0 ? pick(1, 3) : pick(1, 40);
    a.act = activation_of(iter);
    ASSERT_TRUE(stemconv_supports(s, a));
    const auto x = random_floats(static_cast<size_t>(a.images * a.in_channels * s.in_h * s.in_w), rng);
    const auto w = random_floats(static_cast<size_t>(a.channels * a.in_channels * s.kernel_h * s.kernel_w), rng);
    const auto bias = random_floats(static_cast<size_t>(a.channels), rng);
    const size_t out = static_cast<size_t>(a.images * a.channels * s.out_h * s.out_w);
    // A guard zone past the planes catches writes beyond them.
    std::vector<float> got(out + 16, 7.0f), want(got.size(), 7.0f);
    a.x = x.data(), a.w = w.data(), a.bias = iter % 3 ? bias.data() : nullptr, a.y = got.data();
    // Two calls sharing a scratch full of garbage, the first ending at a random item: nothing carries over.
    std::vector<float> scratch(stemconv_scratch_floats(s, a), 1e30f);
    const int64_t items = stemconv_items(s, a), mid = pick(0, static_cast<int>(items));
    fn(s, a, 0, mid, scratch.data());
    fn(s, a, mid, items, scratch.data());
    a.y = want.data();
    dwconv_f32_ref(s, a, 0, a.items(), nullptr);
    expect_floats_near(got, want, 1e-5f, 1e-5f, std::string(k.name) + " " + describe(s) + " channels " + std::to_string(a.channels) +
                               " images " + std::to_string(a.images) + " " + activation_name(a.act.kind));
    if (HasFailure()) return;
  }
}

// The stems the kernels compile whole (stemconv_impl.h's run: RGB 3x3 and 7x7, one-channel 5x5), which the random
// shapes above reach only by chance: each at a model's stride and pads on a small image, with ragged widths (a
// one-vector tail, a partial block), channel counts around the blocks of 6 and 8, two images.
TEST_P(StemConvKernel, MatchesReferenceOnTheCompiledStems) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const StemConvFn fn = kernel_of(k);
  ASSERT_NE(fn, nullptr);
  struct Stem {
    int64_t cin, kernel, stride, pad;
  };
  const Stem stems[] = {{3, 3, 2, 1}, {3, 7, 2, 3}, {1, 5, 1, 2}};
  std::mt19937 rng(99);
  for (const Stem& st : stems)
    for (const int64_t in_w : {9, 23, 45, 70})
      for (const int64_t channels : {1, 7, 13, 64}) {
        DwConvShape s;
        s.in_h = 11, s.in_w = in_w, s.kernel_h = s.kernel_w = st.kernel, s.stride_h = s.stride_w = st.stride;
        s.pad_top = s.pad_left = st.pad;
        s.out_h = (s.in_h + 2 * st.pad - st.kernel) / st.stride + 1;
        s.out_w = (s.in_w + 2 * st.pad - st.kernel) / st.stride + 1;
        DwConvArgs a;
        a.images = 2, a.groups = 1, a.in_channels = st.cin, a.channels = channels;
        a.act.kind = channels == 13 ? Activation::kRelu : Activation::kNone;
        ASSERT_TRUE(stemconv_supports(s, a));
        const auto x = random_floats(static_cast<size_t>(a.images * a.in_channels * s.in_h * s.in_w), rng);
        const auto w = random_floats(static_cast<size_t>(channels * st.cin * st.kernel * st.kernel), rng);
        const auto bias = random_floats(static_cast<size_t>(channels), rng);
        const size_t out = static_cast<size_t>(a.images * channels * s.out_h * s.out_w);
        std::vector<float> got(out + 16, 7.0f), want(got.size(), 7.0f);
        a.x = x.data(), a.w = w.data(), a.bias = bias.data(), a.y = got.data();
        std::vector<float> scratch(stemconv_scratch_floats(s, a), 1e30f);
        fn(s, a, 0, stemconv_items(s, a), scratch.data());
        a.y = want.data();
        dwconv_f32_ref(s, a, 0, a.items(), nullptr);
        expect_floats_near(got, want, 1e-5f, 1e-5f, std::string(k.name) + " " + describe(s) + " channels " +
                                                        std::to_string(channels));
        if (HasFailure()) return;
      }
}

INSTANTIATE_TEST_SUITE_P(Tiers, StemConvKernel, ::testing::ValuesIn(kStemConvKernels),
                         [](const ::testing::TestParamInfo<ListedKernel>& i) { return std::string(i.param.name); });

TEST(StemConv, RefusesWhatItDoesNotCover) {
  DwConvShape s;
  s.in_h = s.in_w = 8, s.kernel_h = s.kernel_w = 3, s.out_h = s.out_w = 6;
  DwConvArgs a;
  a.in_channels = 3, a.channels = 32, a.groups = 1;
  EXPECT_TRUE(stemconv_supports(s, a));
  float z = 0;
  a.residual = &z;  // a residual: dwconv's kernels take it
  EXPECT_FALSE(stemconv_supports(s, a));
  a.residual = nullptr;
  a.in_channels = 5;  // more input channels than the kernels take
  EXPECT_FALSE(stemconv_supports(s, a));
  a.in_channels = a.channels = a.groups = 3;  // groups
  EXPECT_FALSE(stemconv_supports(s, a));
}

TEST(StemConv, DispatchGivesTheSameResultOnAnyThreadCount) {
  if (!stemconv_kernel_name()) GTEST_SKIP() << "no channel-blocked kernel at " << isa_name(active_isa());
  std::mt19937 rng(7);
  DwConvShape s;  // 112-wide rows: several row bands per channel block
  s.in_h = 40, s.in_w = 111, s.kernel_h = s.kernel_w = 3, s.stride_h = s.stride_w = 2;
  s.pad_top = s.pad_left = 1, s.out_h = 20, s.out_w = 56;
  DwConvArgs a;
  a.images = 2, a.in_channels = 3, a.channels = 37, a.groups = 1;
  const auto x = random_floats(static_cast<size_t>(a.images * a.in_channels * s.in_h * s.in_w), rng);
  const auto w = random_floats(static_cast<size_t>(a.channels * 3 * 9), rng);
  const auto bias = random_floats(static_cast<size_t>(a.channels), rng);
  const size_t out = static_cast<size_t>(a.images * a.channels * s.out_h * s.out_w);
  std::vector<float> one(out), two(out), want(out);
  a.x = x.data(), a.w = w.data(), a.bias = bias.data(), a.y = one.data();
  a.act.kind = Activation::kHardSwish;
  ASSERT_TRUE(stemconv_f32(s, a, nullptr));
  ThreadPool pool(2);
  a.y = two.data();
  ASSERT_TRUE(stemconv_f32(s, a, &pool));
  EXPECT_EQ(one, two);
  a.y = want.data();
  dwconv_f32_ref(s, a, 0, a.items(), nullptr);
  expect_floats_near(one, want, 1e-5f, 1e-5f, std::string("stemconv_f32 ") + stemconv_kernel_name());
}

}  // namespace
}  // namespace kiln::kernels
