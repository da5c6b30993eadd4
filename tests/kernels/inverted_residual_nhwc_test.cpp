// ai.kiln.InvertedResidualNhwc through the op: the prepared kernel (inverted_residual_nhwc_prepared.cpp: banded,
// expanded rows in a ring, depthwise from the ring, projection per band; or staged for small tensors) against the op's reference (ConvNhwc's reference
// three times) on random blocks: ragged channel counts, narrow and odd widths, strides 1 and 2, kernels 3 and 5,
// with and without projection and residual, the mobile nets' activations, batches 1 and 3, at every ISA tier this
// CPU has, and 1 and 2 threads giving the same bits.

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "prepared_node.h"
#include "../unit/nn_test_util.h"

namespace kiln::testing {
namespace {

struct BlockCase {
  int64_t batch = 1, height = 1, width = 1, in_channels = 1, mid_channels = 1, out_channels = 1, kernel = 3,
          stride = 1, pad = -1;  // pad -1: kernel / 2
  bool project = true, residual = false, biases = true;
  std::string expand_act = "Clip", depthwise_act = "Clip", project_act;

  int64_t padding() const { return pad < 0 ? kernel / 2 : pad; }
  int64_t out(int64_t in) const { return (in + 2 * padding() - kernel) / stride + 1; }
  std::string str() const {
    return "InvertedResidualNhwc N" + std::to_string(batch) + " " + std::to_string(height) + "x" +
           std::to_string(width) + " C" + std::to_string(in_channels) + " E" + std::to_string(mid_channels) +
           (project ? " M" + std::to_string(out_channels) : std::string(" no-project")) + " k" +
           std::to_string(kernel) + " s" + std::to_string(stride) + " p" + std::to_string(padding()) +
           (residual ? " +residual" : "") + (biases ? "" : " no-bias") + " acts " + expand_act + "/" + depthwise_act +
           "/" + project_act;
  }
};

void activation(PreparedNode& n, const std::string& prefix, const std::string& act) {
  if (act.empty()) return;
  n.attr(string_attr(prefix + "activation", act));
  if (act == "Clip") n.attr(floats_attr(prefix + "activation_params", {0.0f, 6.0f}));
}

PreparedNode make_node(const BlockCase& c, std::mt19937& rng) {
  PreparedNode n("InvertedResidualNhwc", 1, "ai.kiln");
  const int64_t p = c.padding(), E = c.mid_channels;
  n.attr(int_attr("group", E)).attr(ints_attr("strides", {c.stride, c.stride})).attr(ints_attr("pads", {p, p, p, p}));
  activation(n, "expand_", c.expand_act);
  activation(n, "depthwise_", c.depthwise_act);
  activation(n, "project_", c.project_act);
  n.input(random_tensor({c.batch, c.height, c.width, c.in_channels}, rng));
  n.constant(random_tensor({E, c.in_channels, 1, 1}, rng));
  if (c.biases) {
    n.constant(random_tensor({E}, rng));
  } else {
    n.absent();
  }
  n.constant(random_tensor({E, 1, c.kernel, c.kernel}, rng));
  if (c.biases) {
    n.constant(random_tensor({E}, rng));
  } else if (c.project) {
    n.absent();
  }
  if (!c.project) return n;
  n.constant(random_tensor({c.out_channels, E, 1, 1}, rng));
  if (c.biases) {
    n.constant(random_tensor({c.out_channels}, rng));
  } else if (c.residual) {
    n.absent();
  }
  if (c.residual) n.input(random_tensor({c.batch, c.out(c.height), c.out(c.width), c.out_channels}, rng));
  return n;
}

void check_case(const BlockCase& c, uint32_t seed) {
  IsaCapGuard guard;
  std::mt19937 rng(seed);
  PreparedNode n = make_node(c, rng);
  const Tensor want = n.reference()[0];
  const int64_t channels = c.project ? c.out_channels : c.mid_channels;
  ASSERT_EQ(want.dims(), (std::vector<int64_t>{c.batch, c.out(c.height), c.out(c.width), channels}));
  for (kernels::IsaTier tier : {kernels::IsaTier::kAvx2, kernels::IsaTier::kAvx512}) {
    if (!kernels::isa_available(tier)) continue;
    kernels::set_isa_cap(tier);
    auto k = n.prepare();
    ASSERT_TRUE(k) << c.str();
    const std::string what = c.str() + " [" + std::string(kernels::isa_name(tier)) + ": " + k->describe() + "]";
    EXPECT_NE(k->describe().find("inverted_residual"), std::string::npos) << what;
    const Tensor one = n.run(*k, {want.dims()}, nullptr)[0];
    expect_close_f32(one, want, what);
    kernels::ThreadPool two(2);
    EXPECT_TRUE(bitwise_equal(one, n.run(*k, {want.dims()}, &two)[0])) << what << ": 2 threads differ from 1";
  }
}

const char* const kBlockActivations[] = {"Clip", "HardSwish", "Silu", "Relu", ""};

TEST(InvertedResidualNhwc, RandomBlocksMatchReference) {
  std::mt19937 rng(2026);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int i = 0; i < 48 && !HasFailure(); ++i) {
    BlockCase c;
    c.batch = i % 4 == 3 ? 3 : 1;
    c.height = pick(1, 15), c.width = 2 * pick(0, 9) + 1;
    c.in_channels = pick(1, 40), c.mid_channels = pick(1, 70), c.out_channels = pick(1, 40);
    c.kernel = i % 3 == 2 ? 5 : 3, c.stride = pick(1, 2);
    c.project = i % 5 != 4, c.residual = c.project && pick(0, 1) != 0, c.biases = i % 7 != 6;
    c.expand_act = kBlockActivations[i % 5], c.depthwise_act = kBlockActivations[(i / 5) % 5];
    c.project_act = i % 6 == 5 ? "Relu" : "";
    SCOPED_TRACE(c.str());
    check_case(c, static_cast<uint32_t>(i));
  }
}

TEST(InvertedResidualNhwc, ManyBandsThroughTheRing) {
  // Blocks whose expanded tensor exceeds the staged form's 1 MiB, so they run banded, with rows wide enough that
  // a band is a few rows: the ring wraps, bands read rows the previous band expanded, and on 2 threads each
  // image's rows split with a recomputed halo. (The small random blocks above run staged.)
  const int64_t shapes[][6] = {
      // height, width, C, E, stride, kernel
      {48, 57, 16, 96, 1, 3}, {47, 41, 24, 144, 2, 3}, {57, 39, 40, 120, 1, 5}, {41, 33, 17, 200, 2, 5}};
  uint32_t seed = 100;
  for (const auto& s : shapes) {
    for (int64_t batch : {1, 3}) {
      BlockCase c;
      c.batch = batch, c.height = s[0], c.width = s[1], c.in_channels = s[2], c.mid_channels = s[3];
      c.out_channels = s[2], c.stride = s[4], c.kernel = s[5];
      c.residual = c.stride == 1, c.expand_act = c.depthwise_act = seed % 2 ? "HardSwish" : "Clip";
      c.project = seed % 3 != 2;
      SCOPED_TRACE(c.str());
      check_case(c, seed++);
    }
  }
}

TEST(InvertedResidualNhwc, UnusualPaddingMatchesReference) {
  // No padding (every band's window inside the image) and the 5x5 kernel's pad of 2 at a 1-row image.
  BlockCase valid;
  valid.height = 9, valid.width = 11, valid.in_channels = 8, valid.mid_channels = 24, valid.out_channels = 8;
  valid.pad = 0;
  check_case(valid, 7);
  BlockCase thin = valid;
  thin.height = 1, thin.kernel = 5, thin.pad = -1, thin.stride = 2;
  check_case(thin, 8);
}

}  // namespace
}  // namespace kiln::testing
