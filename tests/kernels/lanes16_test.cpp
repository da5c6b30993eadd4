// The AVX-512 kernels cannot run on a CPU without AVX-512, but their logic is the templates of pool_impl.h and
// resize_impl.h instantiated with 16 lanes. This test instantiates those same templates with a portable
// 16-lane wrapper (plain C++, the semantics of the AVX-512 instructions the real wrapper uses) and checks them
// against the AVX2 kernels, which the other tests check against the references: a lane-count mistake (a
// buffer sized for 8 lanes, an overlap rule, a permute window) fails here on any CPU. The AVX-512 intrinsics
// themselves are covered by the tier tests on CPUs that have them.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kernels/pool/pool_impl.h"
#include "kernels/resize/resize_impl.h"
#include "lanes16_emulation.h"

namespace kiln::testing {
namespace {

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::vector<float> v(n);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& x : v) x = u(rng);
  return v;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size() && bad < 5; ++i)
    if (!(std::isnan(want[i]) ? std::isnan(got[i]) : (got[i] == want[i] || std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i]))))) {
      ++bad;
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", 8-lane kernel " << want[i];
    }
}

TEST(Lanes16, PoolTemplatesAgreeWithTheAvx2Kernels) {
  if (!kernels::isa_available(kernels::IsaTier::kAvx2)) GTEST_SKIP() << "the AVX2 kernels are the comparison; this CPU lacks AVX2";
  std::mt19937 rng(31);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 300; ++trial) {
    kernels::Pool2dShape s;
    s.in_h = pick(1, 12), s.in_w = pick(1, 70);
    s.kernel_h = pick(1, 4), s.kernel_w = pick(1, 4), s.stride_h = pick(1, 3), s.stride_w = pick(1, 3);
    s.dilation_h = pick(1, 2), s.dilation_w = pick(1, 2);
    s.pad_top = pick(0, 2), s.pad_bottom = pick(0, 2), s.pad_left = pick(0, 3), s.pad_right = pick(0, 3);
    s.count_include_pad = pick(0, 1);
    const int64_t eh = (s.kernel_h - 1) * s.dilation_h + 1, ew = (s.kernel_w - 1) * s.dilation_w + 1;
    if (s.in_h + s.pad_top + s.pad_bottom < eh || s.in_w + s.pad_left + s.pad_right < ew) continue;
    s.out_h = (s.in_h + s.pad_top + s.pad_bottom - eh) / s.stride_h + 1;
    s.out_w = (s.in_w + s.pad_left + s.pad_right - ew) / s.stride_w + 1;
    std::vector<float> x = random_floats(static_cast<size_t>(s.in_h * s.in_w), rng);
    // A few NaNs in every third trial: rows with one take max pooling's first-tap path, the others skip it.
    for (int k = 0; trial % 3 == 0 && k < 3; ++k)
      x[std::uniform_int_distribution<size_t>(0, x.size() - 1)(rng)] = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> scratch(kernels::pool2d_scratch_floats(s));
    for (bool is_max : {true, false}) {
      std::vector<float> y16(static_cast<size_t>(s.out_h * s.out_w)), y8(y16.size());
      if (is_max) {
        kernels::pool_impl::maxpool2d<Lanes16>(s, x.data(), y16.data(), 0, s.out_h, scratch.data());
        kernels::maxpool2d_f32_avx2(s, x.data(), y8.data(), 0, s.out_h, scratch.data());
      } else {
        kernels::pool_impl::avgpool2d<Lanes16>(s, x.data(), y16.data(), 0, s.out_h, scratch.data());
        kernels::avgpool2d_f32_avx2(s, x.data(), y8.data(), 0, s.out_h, scratch.data());
      }
      expect_near(y16, y8, is_max ? 0.0f : 1e-6f, std::string(is_max ? "max" : "avg") + " trial " + std::to_string(trial));
    }
  }
  for (int64_t size : {1, 15, 16, 17, 49, 100, 3136}) {
    const std::vector<float> x = random_floats(static_cast<size_t>(3 * size), rng);
    std::vector<float> a(3), b(3);
    kernels::pool_impl::global_avgpool<Lanes16>(x.data(), a.data(), 3, size);
    kernels::global_avgpool_f32_avx2(x.data(), b.data(), 3, size);
    expect_near(a, b, 1e-5f, "global average");
    kernels::pool_impl::global_maxpool<Lanes16>(x.data(), a.data(), 3, size);
    kernels::global_maxpool_f32_avx2(x.data(), b.data(), 3, size);
    expect_near(a, b, 0.0f, "global max");
  }
}

TEST(Lanes16, ResizeTemplatesAgreeWithTheAvx2Kernels) {
  if (!kernels::isa_available(kernels::IsaTier::kAvx2)) GTEST_SKIP() << "the AVX2 kernels are the comparison; this CPU lacks AVX2";
  std::mt19937 rng(32);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t in_h = pick(1, 20), in_w = pick(1, 60), out_h = pick(1, 40), out_w = pick(1, 90);
    // Sorted (upsampling-like) or random column tables, random weights; rows likewise.
    const bool sorted = trial % 3 != 0;
    auto table = [&](int64_t in, int64_t out, bool sort, std::vector<int32_t>& i0, std::vector<int32_t>& i1,
                     std::vector<float>& w0, std::vector<float>& w1) {
      for (int64_t o = 0; o < out; ++o) {
        const int64_t a = sort ? std::min<int64_t>(in - 1, o * in / out) : pick(0, static_cast<int>(in) - 1);
        i0.push_back(static_cast<int32_t>(a)), i1.push_back(static_cast<int32_t>(std::min<int64_t>(in - 1, a + 1)));
        const float w = std::uniform_real_distribution<float>(0, 1)(rng);
        w0.push_back(1 - w), w1.push_back(trial % 5 == 0 ? 0.0f : w);
      }
    };
    std::vector<int32_t> x0, x1, y0, y1;
    std::vector<float> wx0, wx1, wy0, wy1;
    table(in_w, out_w, sorted, x0, x1, wx0, wx1);
    table(in_h, out_h, true, y0, y1, wy0, wy1);
    kernels::ResizeTables t;
    t.in_h = in_h, t.in_w = in_w, t.out_h = out_h, t.out_w = out_w;
    t.x0 = x0.data(), t.x1 = x1.data(), t.wx0 = wx0.data(), t.wx1 = wx1.data();
    t.y0 = y0.data(), t.y1 = y1.data(), t.wy0 = wy0.data(), t.wy1 = wy1.data();
    t.row_begin = pick(0, 2), t.row_end = std::max<int64_t>(t.row_begin, out_h - pick(0, 2));
    t.col_begin = pick(0, 2), t.col_end = std::max<int64_t>(t.col_begin, out_w - pick(0, 2));
    t.col_begin = std::min(t.col_begin, out_w), t.col_end = std::min(t.col_end, out_w);
    t.extrapolation = 0.25f;
    t.cols_sorted = sorted;
    // Some nearest cases upsample by a whole factor (the kernels' permute-expansion path).
    std::vector<int32_t> repeat;
    if (trial % 4 == 1) {
      const int64_t f = 1 + trial % 3 + (trial % 8 == 1);  // 2, 3 or 4 (and 1: none)
      x0.clear();
      for (int64_t o = 0; o < f * in_w; ++o) x0.push_back(static_cast<int32_t>(o / f));
      x1.assign(x0.begin(), x0.end());
      wx0.assign(x0.size(), 1.0f), wx1.assign(x0.size(), 0.0f);
      t.out_w = f * in_w;
      t.x0 = x0.data(), t.x1 = x1.data(), t.wx0 = wx0.data(), t.wx1 = wx1.data();
      t.col_begin = 0, t.col_end = t.out_w, t.cols_sorted = true;
      for (int64_t i = 0; i < 16 * f; ++i) repeat.push_back(static_cast<int32_t>(i / f));
      t.repeat_factor = f, t.repeat_index = repeat.data();
    }
    const std::vector<float> x = random_floats(static_cast<size_t>(in_h * in_w), rng);
    std::vector<float> scratch(kernels::resize_scratch_floats(t));
    std::vector<float> a(static_cast<size_t>(out_h * t.out_w)), b(a.size());
    kernels::resize_impl::resize_linear<Lanes16>(t, x.data(), a.data(), 0, out_h, scratch.data());
    kernels::resize_linear_f32_avx2(t, x.data(), b.data(), 0, out_h, scratch.data());
    expect_near(a, b, 0.0f, "linear trial " + std::to_string(trial));
    kernels::resize_impl::resize_nearest<Lanes16>(t, x.data(), a.data(), 0, out_h, scratch.data());
    kernels::resize_nearest_f32_avx2(t, x.data(), b.data(), 0, out_h, scratch.data());
    expect_near(a, b, 0.0f, "nearest trial " + std::to_string(trial));
  }
}

}  // namespace
}  // namespace kiln::testing
