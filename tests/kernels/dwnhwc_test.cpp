// The channels-last depthwise kernels of every tier (dwnhwc_list.h) against the plain reference (dwnhwc_f32_ref),
// on random shapes: channel counts around the 8- and 16-lane vectors, kernels 1x1 to 7x7 and non-square, strides,
// dilations, pads wider than half the kernel, planes from 1x1 up, bias, residual and every activation; items split
// across calls and threads. The reference itself is checked against the NCHW oracle (dwconv_f32_ref).

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "kernels/dwconv/dwconv.h"
#include "kernels/dwnhwc/dwnhwc.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "float_test_util.h"

namespace kiln::kernels {
namespace {

constexpr ListedKernel kDwNhwcKernels[] = {
#define KILN_DWNHWC(name, tier, simd) {#name, IsaTier::tier},
#include "kernels/dwnhwc/dwnhwc_list.h"
    // The AVX-512 kernel's logic on AVX2 instructions: checked on any AVX2 CPU.
    {"dwnhwc_f32_avx512_logic", IsaTier::kAvx2},
};

// A random convolution (random_dwconv_shape's windows, sometimes a 3x5) over `channels` channels of `images`.
DwNhwcShape random_shape(std::mt19937& rng, int iter) {
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  constexpr int64_t kChannels[] = {1, 7, 8, 9, 15, 16, 17, 33, 72, 200};
  DwConvShape w = random_dwconv_shape(rng, iter % 3 == 0, iter % 2 ? 12 : 57, iter % 2 ? 9 : 31);
  if (iter % 7 == 0) {  // a non-square 3x5 window with its own pads
    w.kernel_h = 3, w.kernel_w = 5, w.dilation_h = w.dilation_w = 1, w.pad_top = pick(0, 4), w.pad_left = pick(0, 4);
    w.in_h = std::max<int64_t>(w.in_h, 3), w.in_w = std::max<int64_t>(w.in_w, 5);
    w.out_h = (w.in_h + w.pad_top + pick(0, 4) - 3) / w.stride_h + 1;
    w.out_w = (w.in_w + w.pad_left + pick(0, 4) - 5) / w.stride_w + 1;
  }
  DwNhwcShape s;
  s.images = pick(1, 3), s.channels = kChannels[pick(0, 9)];
  s.in_h = w.in_h, s.in_w = w.in_w, s.out_h = w.out_h, s.out_w = w.out_w;
  s.kernel_h = w.kernel_h, s.kernel_w = w.kernel_w, s.stride_h = w.stride_h, s.stride_w = w.stride_w;
  s.dilation_h = w.dilation_h, s.dilation_w = w.dilation_w, s.pad_top = w.pad_top, s.pad_left = w.pad_left;
  return s;
}

DwConvShape planes_of(const DwNhwcShape& s) {
  DwConvShape p;
  p.in_h = s.in_h, p.in_w = s.in_w, p.out_h = s.out_h, p.out_w = s.out_w, p.kernel_h = s.kernel_h;
  p.kernel_w = s.kernel_w, p.stride_h = s.stride_h, p.stride_w = s.stride_w, p.dilation_h = s.dilation_h;
  p.dilation_w = s.dilation_w, p.pad_top = s.pad_top, p.pad_left = s.pad_left;
  return p;
}

std::string describe(const DwNhwcShape& s) {
  return describe(planes_of(s)) + " channels " + std::to_string(s.channels) + " images " + std::to_string(s.images);
}

// [images, h, w, channels] <-> [images, channels, h, w].
std::vector<float> nhwc_to_nchw(const std::vector<float>& v, int64_t images, int64_t h, int64_t w, int64_t c) {
  std::vector<float> out(v.size());
  for (int64_t n = 0; n < images; ++n)
    for (int64_t p = 0; p < h * w; ++p)
      for (int64_t k = 0; k < c; ++k) out[static_cast<size_t>((n * c + k) * h * w + p)] = v[(n * h * w + p) * c + k];
  return out;
}

// One random convolution's inputs, with a guard zone past y that catches writes beyond it.
struct DwNhwcCase {
  DwNhwcShape s;
  std::vector<float> x, w, packed, bias, residual;
  size_t out = 0;
  DwNhwcCase(const DwNhwcShape& shape, std::mt19937& rng) : s(shape) {
    x = random_floats(static_cast<size_t>(s.images * s.in_h * s.in_w * s.channels), rng);
    w = random_floats(static_cast<size_t>(s.channels * s.kernel_h * s.kernel_w), rng);
    bias = random_floats(static_cast<size_t>(s.channels), rng);
    out = static_cast<size_t>(s.images * s.out_h * s.out_w * s.channels);
    residual = random_floats(out, rng);
    packed.assign(dwnhwc_packed_floats(s.channels, s.kernel_h, s.kernel_w), 0.0f);
    dwnhwc_pack(w.data(), s.channels, s.kernel_h, s.kernel_w, packed.data());
  }
};

class DwNhwcKernel : public ::testing::TestWithParam<ListedKernel> {};

// The function a listed kernel names: a tier's kernel, or the AVX-512 logic run on AVX2.
DwNhwcFn kernel_of(const ListedKernel& k) {
  return std::string(k.name).ends_with("_logic") ? dwnhwc_f32_avx512_logic : dwnhwc_kernel(k.tier);
}

TEST_P(DwNhwcKernel, MatchesReferenceOnRandomShapes) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const DwNhwcFn fn = kernel_of(k);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(2468);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int iter = 0; iter < 500; ++iter) {
    const DwNhwcCase c(random_shape(rng, iter), rng);
    DwNhwcShape s = c.s;
    if (iter % 2) s.band_rows = pick(1, static_cast<int>(s.out_h) + 1);  // bands of any size, even past out_h
    ASSERT_TRUE(dwnhwc_supports(s)) << describe(s);
    const bool with_bias = iter % 3 != 0, with_residual = iter % 4 < 2;
    DwNhwcArgs a;
    a.x = c.x.data(), a.packed_w = c.packed.data(), a.bias = with_bias ? c.bias.data() : nullptr;
    a.residual = with_residual ? c.residual.data() : nullptr;
    a.act = activation_of(iter);
    std::vector<float> got(c.out + 16, 7.0f), want(got.size(), 7.0f);
    a.y = got.data();
    const int64_t items = dwnhwc_items(s), mid = pick(0, static_cast<int>(items));
    fn(s, a, 0, mid);
    fn(s, a, mid, items);
    dwnhwc_f32_ref(s, c.x.data(), c.w.data(), a.bias, a.residual, want.data(), a.act);
    expect_floats_near(got, want, 1e-5f, 1e-5f,
                       std::string(k.name) + " " + describe(s) + " " + activation_name(a.act.kind) +
                           (with_bias ? " bias" : "") + (with_residual ? " residual" : ""));
    if (HasFailure()) return;
  }
}

// DwNhwcArgs::x_rows (a fused block's ring of rows): the rows copied to scattered places, in reverse order, and
// read through their pointers give the bits the tensor gives.
TEST_P(DwNhwcKernel, RowPointersReadTheSameRows) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const DwNhwcFn fn = kernel_of(k);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(1357);
  for (int iter = 0; iter < 100; ++iter) {
    const DwNhwcCase c(random_shape(rng, iter), rng);
    const DwNhwcShape& s = c.s;
    const int64_t rows = s.images * s.in_h, row = s.in_w * s.channels;
    std::vector<float> scattered(static_cast<size_t>(rows * (row + 3)));
    std::vector<const float*> pointers(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = scattered.data() + (rows - 1 - r) * (row + 3) + r % 4;  // reversed, not aligned alike
      std::copy_n(c.x.data() + r * row, row, dst);
      pointers[static_cast<size_t>(r)] = dst;
    }
    DwNhwcArgs a;
    a.x = c.x.data(), a.packed_w = c.packed.data(), a.bias = c.bias.data(), a.act = activation_of(iter);
    std::vector<float> want(c.out), got(c.out);
    a.y = want.data();
    fn(s, a, 0, dwnhwc_items(s));
    a.x = nullptr, a.x_rows = pointers.data(), a.y = got.data();
    fn(s, a, 0, dwnhwc_items(s));
    EXPECT_EQ(got, want) << k.name << " " << describe(s);
    if (HasFailure()) return;
  }
}

// Two images of a square window (kernel x kernel, stride and pad the same on both axes).
DwNhwcShape square_window(int64_t channels, int64_t in_h, int64_t in_w, int64_t kernel, int64_t stride, int64_t pad) {
  DwNhwcShape s;
  s.images = 2, s.channels = channels, s.in_h = in_h, s.in_w = in_w;
  s.kernel_h = s.kernel_w = kernel, s.stride_h = s.stride_w = stride, s.pad_top = s.pad_left = pad;
  s.out_h = (in_h + 2 * pad - kernel) / stride + 1, s.out_w = (in_w + 2 * pad - kernel) / stride + 1;
  return s;
}

// fn on a random case of `s` (bias, residual, `act`) against the reference; y's guard zone must stay untouched.
void expect_matches_reference(const ListedKernel& k, DwNhwcFn fn, const DwNhwcShape& s, const ActivationParams& act,
                              std::mt19937& rng) {
  const DwNhwcCase c(s, rng);
  DwNhwcArgs a;
  a.x = c.x.data(), a.packed_w = c.packed.data(), a.bias = c.bias.data(), a.residual = c.residual.data();
  a.act = act;
  std::vector<float> got(c.out + 16, 7.0f), want(got.size(), 7.0f);
  a.y = got.data();
  fn(s, a, 0, dwnhwc_items(s));
  dwnhwc_f32_ref(s, c.x.data(), c.w.data(), a.bias, a.residual, want.data(), a.act);
  expect_floats_near(got, want, 1e-5f, 1e-5f, std::string(k.name) + " " + describe(s));
}

// 3x3 stride 2 (MobileNets' downsampling layers, AVX2's strips of 6 with the filter in registers): every output
// width from 1 to 13 (so every mix of strips of 6, 4, 2, 1 and border pixels), both pads, odd and even input widths,
// ragged channels, two images.
TEST_P(DwNhwcKernel, Stride2ThreeByThreeEveryWidth) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const DwNhwcFn fn = kernel_of(k);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(4242);
  for (int64_t in_w = 1; in_w <= 26; ++in_w)
    for (int64_t pad = 0; pad <= 1; ++pad) {
      if (in_w + 2 * pad < 3) continue;
      const DwNhwcShape s = square_window(in_w % 3 == 0 ? 24 : 19, 5, in_w, 3, 2, pad);
      expect_matches_reference(k, fn, s, activation_of(static_cast<int>(in_w)), rng);
      if (HasFailure()) return;
    }
}

// 3x3 stride 1 (on AVX-512 whole rows in strips of 14, then 7, 4, 2, 1, those reaching into the padding
// clipped): every output width from 1 to 32 (every mix of those strips, several strips of 14 per row), pads 0 to
// 2, ragged channels, tap rows above and below the input.
TEST_P(DwNhwcKernel, Stride1ThreeByThreeEveryWidth) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const DwNhwcFn fn = kernel_of(k);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(3131);
  for (int64_t in_w = 1; in_w <= 32; ++in_w)
    for (int64_t pad = 0; pad <= 2; ++pad) {
      if (in_w + 2 * pad < 3) continue;
      const DwNhwcShape s = square_window(in_w % 3 == 0 ? 32 : 23, 4, in_w, 3, 1, pad);
      expect_matches_reference(k, fn, s, activation_of(static_cast<int>(in_w + pad)), rng);
      if (HasFailure()) return;
    }
}

// 5x5 at strides 1 and 2 (MobileNet-v3's and EfficientNet's; on AVX2 strips of 8 with one tap row in registers
// at a time, at stride 1 also over the border pixels, clipped): every output width from 1 to 20 (every mix of
// strips of 8, 4, 2, 1 and border pixels), pads 0 to 2, ragged channels, tap rows above and below the input.
TEST_P(DwNhwcKernel, FiveByFiveEveryWidth) {
  const ListedKernel k = GetParam();
  if (!isa_available(k.tier)) GTEST_SKIP() << k.name << ": this CPU lacks " << isa_name(k.tier);
  const DwNhwcFn fn = kernel_of(k);
  ASSERT_NE(fn, nullptr);
  std::mt19937 rng(5555);
  for (int64_t stride = 1; stride <= 2; ++stride)
    for (int64_t in_w = 1; in_w <= 24 * stride; ++in_w)
      for (int64_t pad = 0; pad <= 2; ++pad) {
        if (in_w + 2 * pad < 5) continue;
        const DwNhwcShape s = square_window(in_w % 3 == 0 ? 16 : 21, 6, in_w, 5, stride, pad);
        if (s.out_w > 20) continue;
        expect_matches_reference(k, fn, s, activation_of(static_cast<int>(in_w + pad)), rng);
        if (HasFailure()) return;
      }
}

INSTANTIATE_TEST_SUITE_P(Tiers, DwNhwcKernel, ::testing::ValuesIn(kDwNhwcKernels),
                         [](const ::testing::TestParamInfo<ListedKernel>& i) { return std::string(i.param.name); });

TEST(DwNhwc, ResidualMayBeTheOutput) {
  if (!dwnhwc_kernel_name()) GTEST_SKIP() << "no channels-last kernel at " << isa_name(active_isa());
  std::mt19937 rng(11);
  DwNhwcShape s;
  s.channels = 40, s.in_h = s.in_w = s.out_h = s.out_w = 14, s.kernel_h = s.kernel_w = 3, s.pad_top = s.pad_left = 1;
  const DwNhwcCase c(s, rng);
  std::vector<float> y = c.residual, want(c.out);
  DwNhwcArgs a;
  a.x = c.x.data(), a.packed_w = c.packed.data(), a.bias = c.bias.data(), a.residual = y.data(), a.y = y.data();
  ASSERT_TRUE(dwnhwc_f32(s, a, nullptr));
  dwnhwc_f32_ref(s, c.x.data(), c.w.data(), c.bias.data(), c.residual.data(), want.data(), a.act);
  expect_floats_near(y, want, 1e-5f, 1e-5f, "in place");
}

TEST(DwNhwc, ReferenceMatchesTheNchwReference) {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 60; ++iter) {
    const DwNhwcCase c(random_shape(rng, iter), rng);
    const DwNhwcShape& s = c.s;
    const ActivationParams act = activation_of(iter);
    std::vector<float> y(c.out);
    dwnhwc_f32_ref(s, c.x.data(), c.w.data(), c.bias.data(), c.residual.data(), y.data(), act);
    const auto x_planes = nhwc_to_nchw(c.x, s.images, s.in_h, s.in_w, s.channels);
    const auto res_planes = nhwc_to_nchw(c.residual, s.images, s.out_h, s.out_w, s.channels);
    std::vector<float> want(c.out);
    DwConvArgs a;
    a.x = x_planes.data(), a.w = c.w.data(), a.bias = c.bias.data(), a.residual = res_planes.data();
    a.y = want.data(), a.images = s.images, a.in_channels = a.channels = a.groups = s.channels, a.act = act;
    dwconv_f32_ref(planes_of(s), a, 0, a.items(), nullptr);
    // The same sums in the same order: identical bits.
    EXPECT_EQ(nhwc_to_nchw(y, s.images, s.out_h, s.out_w, s.channels), want) << describe(s);
    if (HasFailure()) return;
  }
}

TEST(DwNhwc, PackPadsTheLastBlockWithZeros) {
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};  // 3 channels of a 1x2 kernel
  std::vector<float> packed(dwnhwc_packed_floats(3, 1, 2), -1.0f);
  ASSERT_EQ(packed.size(), 2 * kDwNhwcBlock);
  dwnhwc_pack(w.data(), 3, 1, 2, packed.data());
  // Tap 0 of channels 0..2, then zeros; tap 1 in the next block of floats.
  EXPECT_EQ(packed[0], 1);
  EXPECT_EQ(packed[1], 3);
  EXPECT_EQ(packed[2], 5);
  EXPECT_EQ(packed[3], 0);
  EXPECT_EQ(packed[kDwNhwcBlock], 2);
  EXPECT_EQ(packed[kDwNhwcBlock + 2], 6);
  EXPECT_EQ(packed[2 * kDwNhwcBlock - 1], 0);
}

TEST(DwNhwc, RefusesWhatItDoesNotCoverAndWritesNothing) {
  DwNhwcShape s;
  s.channels = 4, s.in_h = s.in_w = 8, s.kernel_h = s.kernel_w = 3, s.out_h = s.out_w = 6;
  std::vector<float> x(8 * 8 * 4, 1.0f), packed(dwnhwc_packed_floats(4, 3, 3), 1.0f), y(6 * 6 * 4, 7.0f);
  DwNhwcArgs a;
  a.x = x.data(), a.packed_w = packed.data(), a.y = y.data();
  EXPECT_TRUE(dwnhwc_supports(s));
  EXPECT_EQ(dwnhwc_f32(s, a, nullptr), dwnhwc_kernel_name() != nullptr);
  for (auto broken : {&DwNhwcShape::channels, &DwNhwcShape::stride_w, &DwNhwcShape::dilation_h, &DwNhwcShape::out_w}) {
    DwNhwcShape b = s;
    b.*broken = 0;
    EXPECT_FALSE(dwnhwc_supports(b));
    std::fill(y.begin(), y.end(), 7.0f);
    EXPECT_FALSE(dwnhwc_f32(b, a, nullptr));
    EXPECT_EQ(y, std::vector<float>(y.size(), 7.0f));
  }
  DwNhwcShape big = s;
  big.kernel_h = kDwNhwcMaxKernel + 1;
  EXPECT_FALSE(dwnhwc_supports(big));
  EXPECT_FALSE(dwnhwc_f32(big, a, nullptr));
  DwNhwcShape negative = s;
  negative.pad_left = -1;
  EXPECT_FALSE(dwnhwc_supports(negative));
}

// The bands dwnhwc_f32 splits a layer into on 2 threads leave neither thread more than its even share of rows,
// where the default 32K-output bands did (28 rows in 9-row bands: 18 against 10), and are never longer.
TEST(DwNhwc, BalancedBandsShareRowsEvenly) {
  DwNhwcShape s;
  s.channels = 120, s.in_h = s.in_w = s.out_h = s.out_w = 28, s.kernel_h = s.kernel_w = 5, s.pad_top = s.pad_left = 2;
  auto busiest = [](const DwNhwcShape& d) {
    const int64_t band = dwnhwc_band_rows(d);
    return (dwnhwc_items(d) + 1) / 2 * band;
  };
  ASSERT_EQ(busiest(s), 18);  // the default: 9-row bands
  EXPECT_EQ(dwnhwc_balanced_band_rows(s, 1), dwnhwc_band_rows(s));
  for (const int64_t rows : {28, 14, 7, 56, 112}) {
    for (const int64_t channels : {16, 64, 120, 672, 960}) {
      for (const int64_t images : {1, 2, 3}) {
        DwNhwcShape d = s;
        d.images = images, d.channels = channels, d.in_h = d.in_w = d.out_h = d.out_w = rows;
        d.band_rows = dwnhwc_balanced_band_rows(d, 2);
        ASSERT_GE(d.band_rows, 1);
        const int64_t even = (images * rows + 1) / 2;
        DwNhwcShape usual = d;
        usual.band_rows = 0;
        EXPECT_EQ(busiest(d), even) << rows << "x" << rows << "x" << channels << " x" << images;
        EXPECT_LE(d.band_rows, dwnhwc_band_rows(usual)) << rows << "x" << rows << "x" << channels << " x" << images;
      }
    }
  }
  s.band_rows = 5;
  EXPECT_EQ(dwnhwc_band_rows(s), 5);
  EXPECT_EQ(dwnhwc_items(s), 6);
  s.band_rows = 100;
  EXPECT_EQ(dwnhwc_band_rows(s), 28);
}

TEST(DwNhwc, DispatchGivesTheSameBitsOnAnyThreadCount) {
  if (!dwnhwc_kernel_name()) GTEST_SKIP() << "no channels-last kernel at " << isa_name(active_isa());
  std::mt19937 rng(7);
  for (const int64_t kernel : {3, 5, 7}) {
    DwNhwcShape s;  // 112-wide rows of 72 channels: several row bands per image
    s.images = 2, s.channels = 72, s.in_h = 40, s.in_w = 112, s.kernel_h = s.kernel_w = kernel;
    s.stride_h = s.stride_w = 2, s.pad_top = s.pad_left = kernel / 2, s.out_h = 20, s.out_w = 56;
    ASSERT_GT(dwnhwc_items(s), 2 * s.images);
    const DwNhwcCase c(s, rng);
    std::vector<float> one(c.out), two(c.out), want(c.out);
    DwNhwcArgs a;
    a.x = c.x.data(), a.packed_w = c.packed.data(), a.bias = c.bias.data(), a.residual = c.residual.data();
    a.act.kind = Activation::kHardSwish, a.y = one.data();
    ASSERT_TRUE(dwnhwc_f32(s, a, nullptr));
    ThreadPool pool(2);
    a.y = two.data();
    ASSERT_TRUE(dwnhwc_f32(s, a, &pool));
    EXPECT_EQ(one, two);
    dwnhwc_f32_ref(s, c.x.data(), c.w.data(), a.bias, a.residual, want.data(), a.act);
    expect_floats_near(one, want, 1e-5f, 1e-5f, std::string("dwnhwc_f32 ") + dwnhwc_kernel_name());
  }
}

}  // namespace
}  // namespace kiln::kernels
