// ai.kiln.ConvNhwc through the op: the prepared kernel (conv_nhwc_prepared.cpp) against the op's reference compute
// (Conv's reference between two transposes) on random layers of each form it runs fast (1x1 as a GEMM, strided
// 1x1 on gathered pixels, 1x1 planes as a matrix-vector product, depthwise on kernels/dwnhwc, 1x1 of X scaled per
// image and channel), with bias, residual and every activation, at
// every ISA tier this CPU has, and with 1 and 2 threads giving the same bits. Forms it leaves to the reference
// (a padded 1x1, a 3x3 with one group) must be refused at prepare.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "prepared_node.h"
#include "../unit/nn_test_util.h"

namespace kiln::testing {
namespace {

struct NhwcCase {
  int64_t batch = 1, height = 1, width = 1, in_channels = 1, out_channels = 1, kernel = 1, stride = 1, group = 1;
  bool bias = false, residual = false, shape_known = true, scale = false;
  std::string activation;

  std::string str() const {
    return "ConvNhwc N" + std::to_string(batch) + " " + std::to_string(height) + "x" + std::to_string(width) + " C" +
           std::to_string(in_channels) + " M" + std::to_string(out_channels) + " k" + std::to_string(kernel) + " s" +
           std::to_string(stride) + " g" + std::to_string(group) + (bias ? " +bias" : "") +
           (residual ? " +residual" : "") + (scale ? " +scale" : "") + (activation.empty() ? "" : " +" + activation);
  }
  int64_t out(int64_t in) const { return (in + 2 * (kernel / 2) - kernel) / stride + 1; }
};

PreparedNode make_node(const NhwcCase& c, std::mt19937& rng) {
  PreparedNode n("ConvNhwc", 1, "ai.kiln");
  const int64_t p = c.kernel / 2;
  n.attr(int_attr("group", c.group)).attr(ints_attr("strides", {c.stride, c.stride}));
  n.attr(ints_attr("pads", {p, p, p, p}));
  if (!c.activation.empty()) n.attr(string_attr("activation", c.activation));
  if (c.activation == "Clip") n.attr(floats_attr("activation_params", {-0.3f, 0.4f}));
  n.input(random_tensor({c.batch, c.height, c.width, c.in_channels}, rng), c.shape_known);
  n.constant(random_tensor({c.out_channels, c.in_channels / c.group, c.kernel, c.kernel}, rng));
  if (c.bias) {
    n.constant(random_tensor({c.out_channels}, rng));
  } else if (c.residual || c.scale) {
    n.absent();
  }
  if (c.residual) {
    n.input(random_tensor({c.batch, c.out(c.height), c.out(c.width), c.out_channels}, rng));
  } else if (c.scale) {
    n.absent();
  }
  if (c.scale) n.input(random_tensor({c.batch, 1, 1, c.in_channels}, rng), c.shape_known);
  return n;
}

// Prepared against reference at every tier; `tactic` is a word the kernel's description must hold.
void check_case(const NhwcCase& c, uint32_t seed, const char* tactic) {
  IsaCapGuard guard;
  std::mt19937 rng(seed);
  PreparedNode n = make_node(c, rng);
  const Tensor want = n.reference()[0];
  for (kernels::IsaTier tier : {kernels::IsaTier::kAvx2, kernels::IsaTier::kAvx512}) {
    if (!kernels::isa_available(tier)) continue;
    kernels::set_isa_cap(tier);
    auto k = n.prepare();
    ASSERT_TRUE(k) << c.str();
    const std::string what = c.str() + " [" + std::string(kernels::isa_name(tier)) + ": " + k->describe() + "]";
    EXPECT_NE(k->describe().find(tactic), std::string::npos) << what << ": not the " << tactic << " form";
    const Tensor one = n.run(*k, {want.dims()}, nullptr)[0];
    expect_close_f32(one, want, what);
    kernels::ThreadPool two(2);
    EXPECT_TRUE(bitwise_equal(one, n.run(*k, {want.dims()}, &two)[0])) << what << ": 2 threads differ from 1";
  }
}

TEST(ConvNhwcPrepared, PointwiseLayersMatchReference) {
  std::mt19937 rng(31);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int i = 0; i < 60 && !HasFailure(); ++i) {
    NhwcCase c;
    c.batch = pick(1, 3), c.height = pick(1, 19), c.width = pick(1, 23);
    c.in_channels = pick(1, 70), c.out_channels = pick(1, 90);
    c.stride = i % 4 == 3 ? pick(2, 3) : 1;
    c.bias = pick(0, 2) != 0, c.residual = pick(0, 1) != 0, c.shape_known = pick(0, 3) != 0;
    c.activation = kFusedActivations[i % 11];
    if (c.height * c.width == 1 && c.shape_known) c.height = 2;  // declared 1x1 planes are the gemv form
    SCOPED_TRACE(c.str());
    check_case(c, static_cast<uint32_t>(i), c.stride > 1 ? "gemm-subsampled" : "gemm");
  }
}

TEST(ConvNhwcPrepared, SqueezeExcitationFcsRunAsMatrixVectorProducts) {
  const int64_t sizes[][3] = {{1, 960, 240}, {2, 16, 4}, {1, 72, 24}, {3, 5, 130}};
  uint32_t seed = 50;
  for (const auto& s : sizes) {
    NhwcCase c;
    c.batch = s[0], c.in_channels = s[1], c.out_channels = s[2];
    c.bias = true, c.residual = seed % 2 == 0, c.activation = seed % 2 ? "HardSigmoid" : "Relu";
    SCOPED_TRACE(c.str());
    check_case(c, seed++, "gemv");
  }
}

TEST(ConvNhwcPrepared, DepthwiseLayersMatchReference) {
  std::mt19937 rng(77);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  const int64_t channels[] = {1, 7, 8, 16, 17, 24, 40, 72, 96, 120};
  for (int i = 0; i < 40 && !HasFailure(); ++i) {
    NhwcCase c;
    c.batch = pick(1, 2), c.height = pick(1, 17), c.width = pick(1, 21);
    c.in_channels = c.out_channels = c.group = channels[i % 10];
    c.kernel = 2 * pick(1, 3) + 1, c.stride = pick(1, 2);  // 1x1 is the pointwise form
    c.bias = pick(0, 2) != 0, c.residual = pick(0, 2) == 0, c.shape_known = pick(0, 3) != 0;
    c.activation = kFusedActivations[i % 11];
    SCOPED_TRACE(c.str());
    check_case(c, static_cast<uint32_t>(300 + i), "depthwise");
  }
}

TEST(ConvNhwcPrepared, ScaledPointwiseLayersMatchReference) {
  // A squeeze-excitation gate S, in each form: images of at least twice as many pixels as output channels scale
  // W^T per image (small and large planes); fewer pixels scale X, staged whole when the batch's X is small, in
  // bands of pixel rows (some ragged) past 1 MiB of it. Planes declared or not (an undeclared size keeps W^T).
  std::mt19937 rng(404);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int i = 0; i < 32 && !HasFailure(); ++i) {
    NhwcCase c;
    c.batch = pick(1, 3);
    switch (i % 4) {
      case 0:  // weights scaled, small planes
        c.height = pick(2, 15), c.width = pick(1, 19), c.in_channels = pick(1, 70);
        c.out_channels = std::max<int64_t>(1, pick(1, static_cast<int>(c.height * c.width / 2)));
        break;
      case 1:  // X scaled, staged
        c.height = pick(1, 6), c.width = pick(1, 7), c.in_channels = pick(1, 70);
        c.out_channels = c.height * c.width / 2 + pick(1, 40);
        break;
      case 2:  // weights scaled, large planes
        c.height = pick(50, 61), c.width = pick(50, 67), c.in_channels = pick(110, 150), c.out_channels = pick(1, 40);
        break;
      default:  // X scaled in bands
        c.batch = 3, c.height = pick(20, 24), c.width = pick(20, 24), c.in_channels = pick(220, 260);
        c.out_channels = c.height * c.width / 2 + pick(1, 30);
        break;
    }
    c.bias = pick(0, 2) != 0, c.residual = pick(0, 1) != 0, c.scale = true, c.shape_known = pick(0, 3) != 0;
    c.activation = i % 3 == 0 ? "Relu" : i % 3 == 1 ? "Silu" : "";
    SCOPED_TRACE(c.str());
    check_case(c, static_cast<uint32_t>(600 + i), "+scale");
  }
}

TEST(ConvNhwcPrepared, OtherConvolutionsAreLeftToTheReference) {
  std::mt19937 rng(9);
  NhwcCase dense;  // 3x3, one group
  dense.height = dense.width = 5, dense.in_channels = 4, dense.out_channels = 6, dense.kernel = 3;
  EXPECT_EQ(make_node(dense, rng).prepare(), nullptr);
  NhwcCase grouped = dense;  // 1x1 in two groups
  grouped.kernel = 1, grouped.group = 2;
  EXPECT_EQ(make_node(grouped, rng).prepare(), nullptr);
}

}  // namespace
}  // namespace kiln::testing
