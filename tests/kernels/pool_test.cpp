// Prepared MaxPool / AveragePool / GlobalMaxPool / GlobalAveragePool (kernels/pool) against the reference
// compute, at every ISA tier this CPU has, on 1 and 2 threads: random shapes with ragged widths, 1-sized dims,
// pads, strides, dilations, ceil_mode, auto_pad, count_include_pad both ways, NaNs, empty tensors.

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "../unit/nn_test_util.h"
#include "prepared_test_util.h"

namespace kiln::testing {
namespace {

using namespace kiln::testing::prepared;
// prepared_node.h (another file of a unity batch) has a kiln::testing::IsaCapGuard too: this file means its own.
using prepared::IsaCapGuard;

class PoolPrepared : public TierTest {};
KILN_INSTANTIATE_TIERS(PoolPrepared);

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;
  bool ceil = false;
  std::string auto_pad;
};

/// Output length of one axis, or -1 when the window does not fit (such cases are skipped).
int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil) {
  const int64_t span = in + pb + pe - ((k - 1) * d + 1);
  if (span < 0) return -1;
  return (ceil ? (span + s - 1) / s : span / s) + 1;
}

Window random_window(std::mt19937& rng, size_t spatial, const std::vector<int64_t>& in) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (;;) {
    Window w;
    w.pads.assign(2 * spatial, 0);
    for (size_t d = 0; d < spatial; ++d) {
      w.kernel.push_back(pick(1, 4));
      w.strides.push_back(pick(1, 3));
      w.dilations.push_back(pick(1, 4) == 4 ? 2 : 1);
      w.pads[d] = pick(0, static_cast<int>(w.kernel[d]) - 1);
      w.pads[d + spatial] = pick(0, static_cast<int>(w.kernel[d]) - 1);
    }
    w.ceil = pick(0, 1) == 1;
    const int ap = pick(0, 9);
    if (ap == 0) w.auto_pad = "SAME_UPPER";
    if (ap == 1) w.auto_pad = "SAME_LOWER";
    if (ap == 2) w.auto_pad = "VALID";
    bool fits = true;
    for (size_t d = 0; d < spatial && w.auto_pad.empty(); ++d)
      fits = fits && out_len(in[d], w.kernel[d], w.strides[d], w.dilations[d], w.pads[d], w.pads[d + spatial], w.ceil) > 0;
    for (size_t d = 0; d < spatial && w.auto_pad == "VALID"; ++d) fits = fits && in[d] >= (w.kernel[d] - 1) * w.dilations[d] + 1;
    if (fits) return w;
  }
}

void add_window(PreparedCall& call, const Window& w) {
  call.attr("kernel_shape", w.kernel).attr("strides", w.strides).attr("dilations", w.dilations);
  if (w.auto_pad.empty()) call.attr("pads", w.pads);
  else call.attr("auto_pad", w.auto_pad);
  if (w.ceil) call.attr("ceil_mode", int64_t{1});
}

Tensor random_input(std::mt19937& rng, std::vector<int64_t> dims) { return random_tensor(std::move(dims), rng); }

TEST_P(PoolPrepared, RandomWindowsMatchReference) {
  std::mt19937 rng(1234);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 160; ++trial) {
    const size_t spatial = pick(0, 3) == 0 ? 1 : 2;
    std::vector<int64_t> dims{pick(1, 2), pick(1, 3)};
    std::vector<int64_t> in;
    for (size_t d = 0; d < spatial; ++d) in.push_back(pick(0, 4) == 0 ? 1 : pick(1, 41));
    dims.insert(dims.end(), in.begin(), in.end());
    const Window w = random_window(rng, spatial, in);
    const bool is_max = trial % 2 == 0;
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " x " << dims_str(dims) << " kernel "
                                    << dims_str(w.kernel) << " strides " << dims_str(w.strides) << " dilations "
                                    << dims_str(w.dilations) << " pads " << dims_str(w.pads) << " ceil " << w.ceil
                                    << " auto_pad '" << w.auto_pad << "'");
    if (is_max) {
      PreparedCall call("MaxPool", 12);
      add_window(call, w);
      expect_prepared_matches(tier(), call, {random_input(rng, dims)}, MatchOptions().hidden_shapes(trial % 3 == 0));
    } else {
      // AveragePool-19 is the first with dilations.
      PreparedCall call("AveragePool", 19);
      add_window(call, w);
      call.attr("count_include_pad", int64_t{trial % 4 == 1});
      expect_prepared_matches(tier(), call, {random_input(rng, dims)}, MatchOptions().tol(1e-5, 1e-6));
    }
  }
}

TEST_P(PoolPrepared, CommonNetworkWindows) {
  std::mt19937 rng(7);
  // ResNet's stem pool, a stride-1 3x3 (Inception), 2x2/2, a large-kernel average, over many planes (threads).
  struct Case { std::vector<int64_t> dims, kernel, strides, pads; };
  const Case cases[] = {{{1, 64, 56, 57}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
                        {{2, 16, 35, 35}, {3, 3}, {1, 1}, {1, 1, 1, 1}},
                        {{1, 8, 64, 66}, {2, 2}, {2, 2}, {0, 0, 0, 0}},
                        {{1, 3, 40, 300}, {5, 7}, {3, 3}, {2, 3, 2, 3}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(dims_str(c.dims) + " kernel " + dims_str(c.kernel));
    const Tensor x = random_input(rng, c.dims);
    PreparedCall mp("MaxPool", 12);
    mp.attr("kernel_shape", c.kernel).attr("strides", c.strides).attr("pads", c.pads);
    expect_prepared_matches(tier(), mp, {x});
    for (int64_t include : {0, 1}) {
      PreparedCall ap("AveragePool", 11);
      ap.attr("kernel_shape", c.kernel).attr("strides", c.strides).attr("pads", c.pads);
      ap.attr("count_include_pad", include).attr("ceil_mode", int64_t{1});
      expect_prepared_matches(tier(), ap, {x}, MatchOptions().tol(1e-5, 1e-6));
    }
  }
}

TEST_P(PoolPrepared, MaxPoolNaNsAndInfinitiesLikeTheReference) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 40; ++trial) {
    Tensor x = random_input(rng, {1, 2, 13, 29});
    for (int k = 0; k < 30; ++k) {
      const int64_t i = std::uniform_int_distribution<int64_t>(0, x.numel() - 1)(rng);
      x.data<float>()[i] = k % 3 == 0 ? std::numeric_limits<float>::infinity()
                                      : std::numeric_limits<float>::quiet_NaN();
    }
    PreparedCall call("MaxPool", 12);
    call.attr("kernel_shape", std::vector<int64_t>{3, 3})
        .attr("strides", std::vector<int64_t>{1 + trial % 2, 1 + trial % 3})
        .attr("pads", std::vector<int64_t>{1, 1, 1, 1});
    expect_prepared_matches(tier(), call, {x});
    PreparedCall global("GlobalMaxPool", 1);
    expect_prepared_matches(tier(), global, {x});
  }
}

// 3x3 stride-2 max pools over rows wide enough for one vector or several (SqueezeNet's 27, 55 and 111 columns,
// ResNet's 112 and wider): the path that carries each vector's column maxima into the next, with the overlapping
// last vector, an odd width's last output taken by that vector (17: too narrow for it; 19, 27, 55), NaNs and
// infinities anywhere, pads and ceil_mode.
TEST_P(PoolPrepared, WideStride2MaxPoolRows) {
  std::mt19937 rng(2024);
  for (int64_t width : {17, 19, 27, 37, 55, 64, 66, 111, 112, 131, 200}) {
    for (int trial = 0; trial < 4; ++trial) {
      Tensor x = random_input(rng, {1, 2, 7, width});
      for (int k = 0; k < (trial == 0 ? 0 : 12); ++k) {
        const int64_t i = std::uniform_int_distribution<int64_t>(0, x.numel() - 1)(rng);
        x.data<float>()[i] = k % 3 == 0 ? -std::numeric_limits<float>::infinity()
                                        : std::numeric_limits<float>::quiet_NaN();
      }
      const int64_t pad = trial % 2;
      SCOPED_TRACE(::testing::Message() << "width " << width << " pad " << pad << " ceil " << trial / 2);
      PreparedCall call("MaxPool", 12);
      call.attr("kernel_shape", std::vector<int64_t>{3, 3}).attr("strides", std::vector<int64_t>{2, 2});
      call.attr("pads", std::vector<int64_t>{pad, pad, pad, pad}).attr("ceil_mode", int64_t{trial / 2});
      expect_prepared_matches(tier(), call, {x});
    }
  }
}

TEST_P(PoolPrepared, GlobalPoolsMatchReference) {
  std::mt19937 rng(5);
  const std::vector<std::vector<int64_t>> shapes = {{1, 1, 1, 1},   {1, 3, 1, 7},  {2, 5, 3, 3},     {1, 1280, 7, 7},
                                                    {1, 64, 56, 56}, {3, 2, 17},   {1, 2, 2, 3, 5}, {1, 4, 0, 3},
                                                    {0, 4, 3, 3}};
  for (const auto& dims : shapes) {
    SCOPED_TRACE(dims_str(dims));
    const Tensor x = random_input(rng, dims);
    PreparedCall gmax("GlobalMaxPool", 1);
    expect_prepared_matches(tier(), gmax, {x});
    PreparedCall gavg("GlobalAveragePool", 1);
    expect_prepared_matches(tier(), gavg, {x}, MatchOptions().tol(1e-5, 1e-6).hidden_shapes());
  }
}

TEST_P(PoolPrepared, EmptyBatchAndWindowsInPadding) {
  std::mt19937 rng(11);
  PreparedCall mp("MaxPool", 12);
  mp.attr("kernel_shape", std::vector<int64_t>{3, 3}).attr("pads", std::vector<int64_t>{1, 1, 1, 1});
  expect_prepared_matches(tier(), mp, {random_input(rng, {0, 3, 5, 5})});
  // Pads as large as the kernel: some windows hold only padding (-inf; 0 or NaN for the average).
  PreparedCall mp2("MaxPool", 12);
  mp2.attr("kernel_shape", std::vector<int64_t>{2, 2}).attr("pads", std::vector<int64_t>{2, 2, 2, 2});
  expect_prepared_matches(tier(), mp2, {random_input(rng, {1, 2, 3, 4})});
  for (int64_t include : {0, 1}) {
    PreparedCall ap("AveragePool", 11);
    ap.attr("kernel_shape", std::vector<int64_t>{2, 2}).attr("pads", std::vector<int64_t>{2, 2, 2, 2});
    ap.attr("count_include_pad", include);
    expect_prepared_matches(tier(), ap, {random_input(rng, {1, 2, 3, 4})}, MatchOptions().tol(1e-5, 1e-6));
  }
}

TEST_P(PoolPrepared, HugePadsRunTheReference) {
  // Pads and strides far beyond the data (a hostile model): the fast path would need a padded row of the pads'
  // size, so it hands the node to the reference, which walks only the valid taps.
  std::mt19937 rng(12);
  PreparedCall mp("MaxPool", 12);
  mp.attr("kernel_shape", std::vector<int64_t>{1, 1}).attr("strides", std::vector<int64_t>{1, 100000000})
      .attr("pads", std::vector<int64_t>{0, 100000000, 0, 100000000});
  expect_prepared_matches(tier(), mp, {random_input(rng, {1, 2, 3, 4})});
}

TEST_P(PoolPrepared, DeclinesWhatItDoesNotCover) {
  std::mt19937 rng(3);
  IsaCapGuard guard;
  kernels::set_isa_cap(tier());
  const Tensor x = random_input(rng, {1, 2, 5, 5});
  PreparedCall with_indices("MaxPool", 12);
  with_indices.attr("kernel_shape", std::vector<int64_t>{2, 2}).outputs(2);
  EXPECT_EQ(with_indices.prepare({x}, {}, false), nullptr);
  PreparedCall pool3d("MaxPool", 12);
  pool3d.attr("kernel_shape", std::vector<int64_t>{2, 2, 2});
  EXPECT_EQ(pool3d.prepare({random_input(rng, {1, 1, 3, 3, 3})}, {}, false), nullptr);
  PreparedCall half("AveragePool", 11);
  half.attr("kernel_shape", std::vector<int64_t>{2, 2});
  EXPECT_EQ(half.prepare({random_tensor({1, 1, 4, 4}, rng, DType::kFloat16)}, {}, false), nullptr);
}

}  // namespace
}  // namespace kiln::testing
