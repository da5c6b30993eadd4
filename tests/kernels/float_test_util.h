#pragma once
// What the tests of the raw-float kernel families (dwconv, dwchan, stemconv, gemv, winograd) share: random
// inputs, a cycle over every fused activation, random depthwise-style shapes, and an element-wise comparison that
// names the first few elements that differ.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/dwconv/dwconv.h"
#include "kernels/isa.h"

namespace kiln::kernels {

/// One row of a kernel family's list (FAMILY_list.h) as the kernel tests parametrize over it.
struct ListedKernel {
  const char* name;
  IsaTier tier;
};

inline std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

/// The i-th of the 11 fused activations (cycling), with parameters where it takes them.
inline ActivationParams activation_of(int i) {
  ActivationParams a;
  a.kind = static_cast<Activation>(i % 11);
  if (a.kind == Activation::kClip) a.alpha = -0.25f, a.beta = 0.5f;
  if (a.kind == Activation::kLeakyRelu) a.alpha = 0.1f;
  if (a.kind == Activation::kHardSigmoid) a.alpha = 0.2f, a.beta = 0.5f;
  return a;
}

/// Each element of got within atol + rtol * |want| of want (a NaN never is); reports at most five.
inline void expect_floats_near(const float* got, const float* want, size_t n, float atol, float rtol,
                               const std::string& what) {
  int bad = 0;
  for (size_t i = 0; i < n && bad < 5; ++i)
    if (!(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]))) {
      ++bad;
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i];
    }
}

inline void expect_floats_near(const std::vector<float>& got, const std::vector<float>& want, float atol, float rtol,
                               const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  expect_floats_near(got.data(), want.data(), got.size(), atol, rtol, what);
}

/// A random convolution window whose output is at least 1x1: kernels 1..7, strides 1..3, dilations 1..2, pads
/// 0..3 on each side, inputs up to max_in_h x max_in_w (grown where the window needs it). `common` draws the
/// 3x3 / 5x5, stride 1 / 2, dilation 1 windows that the kernels' specialised loops take.
inline DwConvShape random_dwconv_shape(std::mt19937& rng, bool common, int max_in_h, int max_in_w) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  DwConvShape s;
  s.kernel_h = common ? (pick(0, 1) ? 3 : 5) : pick(1, 7);
  s.kernel_w = common ? s.kernel_h : pick(1, 7);
  s.stride_h = pick(1, 3), s.stride_w = common ? pick(1, 2) : pick(1, 3);
  s.dilation_h = common ? 1 : pick(1, 2), s.dilation_w = common ? 1 : pick(1, 2);
  s.pad_top = pick(0, 3), s.pad_left = pick(0, 3);
  const int64_t pad_bottom = pick(0, 3), pad_right = pick(0, 3);
  const int64_t eff_h = (s.kernel_h - 1) * s.dilation_h + 1, eff_w = (s.kernel_w - 1) * s.dilation_w + 1;
  s.in_h = std::max<int64_t>(pick(1, max_in_h), eff_h - s.pad_top - pad_bottom);
  s.in_w = std::max<int64_t>(pick(1, max_in_w), eff_w - s.pad_left - pad_right);
  s.out_h = (s.in_h + s.pad_top + pad_bottom - eff_h) / s.stride_h + 1;
  s.out_w = (s.in_w + s.pad_left + pad_right - eff_w) / s.stride_w + 1;
  return s;
}

inline std::string describe(const DwConvShape& s) {
  return "in " + std::to_string(s.in_h) + "x" + std::to_string(s.in_w) + " k " + std::to_string(s.kernel_h) + "x" +
         std::to_string(s.kernel_w) + " s " + std::to_string(s.stride_h) + "," + std::to_string(s.stride_w) +
         " d " + std::to_string(s.dilation_h) + "," + std::to_string(s.dilation_w) + " pad " +
         std::to_string(s.pad_top) + "," + std::to_string(s.pad_left) + " out " + std::to_string(s.out_h) + "x" +
         std::to_string(s.out_w);
}

}  // namespace kiln::kernels
