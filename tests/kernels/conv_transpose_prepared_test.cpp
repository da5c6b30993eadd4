// ConvTranspose through the op: the prepared kernel (packed Wᵀ GEMM + col2im) against the reference compute on
// random shapes (1-D, 2-D, 3-D; groups, strides, dilations, asymmetric pads, output_padding, output_shape,
// auto_pad, bias or not), at every ISA tier this CPU has, 1 and 2 threads giving the same bits.

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <optional>
#include <random>
#include <span>
#include <string>

#include "../unit/nn_test_util.h"
#include "prepared_node.h"

namespace kiln::testing {
namespace {

struct TransposeCase {
  int64_t batch = 1, in_channels = 1, out_channels = 1, group = 1;
  std::vector<int64_t> in, kernel, strides, dilations, pads, output_padding, output_shape;
  std::string auto_pad;
  bool bias = false;
  bool shape_known = true;  // prepare sees X's shape (few positions: the transposed GEMM orientation)

  std::string str() const {
    std::string s = "ConvTranspose N" + std::to_string(batch) + " C" + std::to_string(in_channels) + " M" +
                    std::to_string(out_channels) + " g" + std::to_string(group) + " in" + dims_str(in) + " k" +
                    dims_str(kernel) + " s" + dims_str(strides) + " d" + dims_str(dilations) + " op" +
                    dims_str(output_padding);
    if (!output_shape.empty()) s += " out" + dims_str(output_shape);
    s += auto_pad.empty() ? " pads" + dims_str(pads) : " " + auto_pad;
    return s + (bias ? " +bias" : "") + (shape_known ? "" : " (shape unknown at prepare)");
  }
};

// A random ConvTranspose. `col2im_focus` leans to what the col2im forms branch on: the last axis strided (2..4,
// the phased col2im), now and then a kernel width past 16 (the scalar col2im), pads up to 5, dilation 2 rarer,
// batches of 3, and shapes mostly known at prepare (few positions: the transposed orientation).
TransposeCase random_case(std::mt19937& rng, bool col2im_focus = false) {
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  const bool f = col2im_focus;
  TransposeCase c;
  const std::vector<int64_t> ranks = f ? std::vector<int64_t>{1, 2, 2, 2, 3} : std::vector<int64_t>{1, 2, 2, 3};
  const int spatial = static_cast<int>(ranks[static_cast<size_t>(pick(0, static_cast<int>(ranks.size()) - 1))]);
  c.batch = pick(1, f ? 3 : 2);
  c.group = pick(0, f ? 3 : 2) == 0 ? pick(2, 3) : 1;
  c.in_channels = c.group * pick(1, f ? 6 : 5), c.out_channels = c.group * pick(1, f ? 7 : 5);
  const int64_t mode = pick(0, 5);  // 0: SAME_UPPER, 1: SAME_LOWER, 2: output_shape, else pads
  c.auto_pad = mode == 0 ? "SAME_UPPER" : mode == 1 ? "SAME_LOWER" : "";
  std::vector<int64_t> pad_end;
  for (int a = 0; a < spatial; ++a) {
    const bool strided_last = f && a == spatial - 1;
    c.strides.push_back(strided_last ? pick(2, 4) : pick(1, 3));
    c.kernel.push_back(strided_last && pick(0, 5) == 0 ? pick(15, 17) : pick(1, spatial == 3 ? 3 : 5));
    c.dilations.push_back(f ? (pick(0, 3) == 0 ? 2 : 1) : pick(1, 2));
    c.output_padding.push_back(pick(0, static_cast<int>(std::max(c.strides.back(), c.dilations.back()) - 1)));
    c.in.push_back(pick(1, (spatial == 1 ? 20 : spatial == 2 ? 9 : 5) + (f && spatial < 3 ? 1 : 0)));
    const int64_t full = c.strides.back() * (c.in.back() - 1) + c.output_padding.back() +
                         (c.kernel.back() - 1) * c.dilations.back() + 1;
    c.pads.push_back(f ? std::min<int64_t>(pick(0, 5), full - 1) : pick(0, 2));
    pad_end.push_back(std::min<int64_t>(pick(0, f ? 5 : 2), full - c.pads.back() - 1));
    if (mode == 2) c.output_shape.push_back(std::max<int64_t>(1, full + (f ? pick(-2, 2) : -pick(0, 2))));
  }
  c.pads.insert(c.pads.end(), pad_end.begin(), pad_end.end());
  c.bias = pick(0, 1) != 0;
  c.shape_known = f ? pick(0, 2) != 0 : pick(0, 1) != 0;
  return c;
}

PreparedNode make_node(const TransposeCase& c, std::mt19937& rng) {
  PreparedNode n("ConvTranspose", 22);
  n.attr(int_attr("group", c.group)).attr(ints_attr("strides", c.strides)).attr(ints_attr("dilations", c.dilations));
  n.attr(ints_attr("output_padding", c.output_padding));
  if (!c.output_shape.empty()) {
    n.attr(ints_attr("output_shape", c.output_shape));
  } else if (c.auto_pad.empty()) {
    n.attr(ints_attr("pads", c.pads));
  } else {
    n.attr(string_attr("auto_pad", c.auto_pad));
  }
  std::vector<int64_t> x_dims{c.batch, c.in_channels}, w_dims{c.in_channels, c.out_channels / c.group};
  x_dims.insert(x_dims.end(), c.in.begin(), c.in.end());
  w_dims.insert(w_dims.end(), c.kernel.begin(), c.kernel.end());
  n.input(random_tensor(x_dims, rng), c.shape_known).constant(random_tensor(w_dims, rng));
  if (c.bias) n.constant(random_tensor({c.out_channels}, rng));
  return n;
}

// `n` (case `c`) prepared and run at each of `tiers` this CPU has, against `want`; with `two_threads`, 2 threads
// must give the same bits as 1. `on_kernel(label, what)` sees each prepared kernel's describe() first.
void check_tiers(const TransposeCase& c, PreparedNode& n, const Tensor& want, std::span<const kernels::IsaTier> tiers,
                 bool two_threads,
                 const std::function<void(const std::string&, const std::string&)>& on_kernel = nullptr) {
  for (kernels::IsaTier tier : tiers) {
    if (!kernels::isa_available(tier)) continue;
    kernels::set_isa_cap(tier);
    auto k = n.prepare();
    ASSERT_TRUE(k);
    const std::string what = c.str() + " [" + std::string(kernels::isa_name(tier)) + ": " + k->describe() + "]";
    if (on_kernel) on_kernel(k->describe(), what);
    const Tensor one = n.run(*k, {want.dims()}, nullptr)[0];
    expect_close_f32(one, want, what);
    if (!two_threads) continue;
    kernels::ThreadPool two(2);
    EXPECT_TRUE(bitwise_equal(one, n.run(*k, {want.dims()}, &two)[0])) << what << ": 2 threads differ from 1";
  }
}

// The reference's output, or nothing for a combination the op refuses (random cases draw some).
std::optional<Tensor> reference_unless_refused(PreparedNode& n) {
  try {
    return n.reference()[0];
  } catch (const Error&) {
    return std::nullopt;
  }
}

TEST(ConvTransposePrepared, MatchesReferenceOnRandomShapes) {
  IsaCapGuard guard;
  std::mt19937 rng(31);
  const kernels::IsaTier tiers[] = {kernels::IsaTier::kAvx2, kernels::IsaTier::kAvx512};
  int checked = 0;
  for (int i = 0; i < 200 && !HasFailure(); ++i) {
    const TransposeCase c = random_case(rng);
    SCOPED_TRACE(c.str());
    PreparedNode n = make_node(c, rng);
    const std::optional<Tensor> reference = reference_unless_refused(n);
    if (!reference) continue;  // a combination the op refuses (an output_shape smaller than the window covers...)
    const Tensor& want = *reference;
    ++checked;
    check_tiers(c, n, want, tiers, /*two_threads=*/i % 8 == 0);  // 2 threads on a subset (see conv_prepared_test.cpp)
  }
  EXPECT_GE(checked, 150) << "too many random cases refused by the reference";
}

TEST(ConvTransposePrepared, GeneratorLayers) {
  IsaCapGuard guard;
  std::mt19937 rng(32);
  for (auto [C, M, size] : {std::tuple<int64_t, int64_t, int64_t>{16, 8, 4}, {8, 3, 16}, {32, 16, 7}, {24, 5, 1}}) {
    TransposeCase c;
    c.in_channels = C, c.out_channels = M, c.in = {size, size}, c.kernel = {4, 4}, c.strides = {2, 2};
    c.dilations = {1, 1}, c.output_padding = {0, 0}, c.pads = {1, 1, 1, 1}, c.bias = true;
    SCOPED_TRACE(c.str());
    PreparedNode n = make_node(c, rng);
    const Tensor want = n.reference()[0];
    auto k = n.prepare();
    ASSERT_TRUE(k);
    expect_close_f32(n.run(*k, {want.dims()}, nullptr)[0], want, c.str());
  }
}

// The col2im by phase rows (col2im_plane_phased: a column stride above 1, col in the usual orientation) and by
// positions (col2im_positions: transposed col, few input positions known at prepare): column
// strides 2..4, kernel widths up to 17 (above 16 the scalar col2im), dilations, pads past the kernel, output
// padding and output_shape, batches that share one GEMM, bias or not; at every ISA tier, 1 and 2 threads the
// same bits.
TEST(ConvTransposePrepared, PhasedCol2imMatchesReference) {
  IsaCapGuard guard;
  std::mt19937 rng(35);
  const kernels::IsaTier tiers[] = {kernels::IsaTier::kRef, kernels::IsaTier::kAvx2, kernels::IsaTier::kAvx512};
  int checked = 0, phased = 0, by_positions = 0;
  for (int i = 0; i < 120 && !HasFailure(); ++i) {
    const TransposeCase c = random_case(rng, /*col2im_focus=*/true);
    SCOPED_TRACE(c.str());
    PreparedNode n = make_node(c, rng);
    const std::optional<Tensor> reference = reference_unless_refused(n);
    if (!reference) continue;  // a combination the op refuses (an output_shape smaller than the window covers...)
    const Tensor& want = *reference;
    ++checked;
    int64_t positions = 1;
    for (int64_t v : c.in) positions *= v;
    // Transposed below 64 positions; below 128 too where 2-D kernel rows write rows outside Y (per kernel row).
    const bool either = c.shape_known && positions >= 64 && positions < 128 && c.in.size() == 2;
    check_tiers(c, n, want, tiers, /*two_threads=*/true, [&](const std::string& label, const std::string& what) {
      const bool by_rows = label.find("per kernel row") != std::string::npos;
      const bool transposed = (c.shape_known && positions < 64) || (either && by_rows);
      const bool expect_phased = !transposed && c.kernel.back() <= 16;
      EXPECT_EQ(label.find("col2im-phased") != std::string::npos, expect_phased) << what;
      EXPECT_EQ(label.find("col2im-positions") != std::string::npos, transposed) << what;
      phased += expect_phased, by_positions += transposed;
    });
  }
  EXPECT_GE(checked, 90) << "too many random cases refused by the reference";
  EXPECT_GE(phased, 40);
  EXPECT_GE(by_positions, 40);
}

// The transposed 2-D orientation's GEMM per kernel row over the positions it writes inside Y (one batch entry
// per image), its output channels split in two parts (8 or more per group: each part its own packed W, one work
// item per thread with its own col), and batches in an even number of equal chunks (a col past 256 Ki floats
// per image: one image a chunk; smaller, several), each chunk a work item: at every ISA tier, 1 and 2 threads the
// same bits.
TEST(ConvTransposePrepared, ChannelPartsAndBatchChunksMatchReference) {
  IsaCapGuard guard;
  std::mt19937 rng(37);
  const kernels::IsaTier tiers[] = {kernels::IsaTier::kRef, kernels::IsaTier::kAvx2, kernels::IsaTier::kAvx512};
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  std::vector<TransposeCase> cases;
  // {C, M, size, batch}: 16 x 16 x 576 floats of col per image (chunks of 1), 36 Ki (chunks of 4 for 8 images),
  // an odd batch, grouped, and 4x4 inputs (few positions known: transposed, one part).
  for (auto [C, M, size, batch, group] : {std::array<int64_t, 5>{8, 16, 24, 3, 1}, {8, 16, 12, 8, 1}, {6, 9, 12, 5, 1},
                                          {8, 24, 9, 3, 2}, {16, 16, 4, 8, 1}, {12, 10, 5, 3, 1}, {8, 6, 3, 1, 1}}) {
    TransposeCase c;
    c.batch = batch, c.in_channels = C, c.out_channels = M, c.group = group, c.in = {size, size};
    c.kernel = {4, 4}, c.strides = {2, 2}, c.dilations = {1, 1}, c.output_padding = {0, 0}, c.pads = {1, 1, 1, 1};
    c.bias = true;
    cases.push_back(c);
  }
  for (int i = 0; i < 40; ++i) {
    TransposeCase c = random_case(rng, /*col2im_focus=*/i % 2 == 0);
    c.out_channels = c.group * pick(8, 20);
    c.batch = pick(1, 4);
    c.shape_known = pick(0, 3) == 0;  // mostly the usual orientation
    cases.push_back(c);
  }
  int checked = 0, usual = 0, by_rows = 0;
  for (const TransposeCase& c : cases) {
    if (HasFailure()) break;
    SCOPED_TRACE(c.str());
    PreparedNode n = make_node(c, rng);
    const std::optional<Tensor> reference = reference_unless_refused(n);
    if (!reference) continue;  // a combination the op refuses (an output_shape smaller than the window covers...)
    const Tensor& want = *reference;
    ++checked;
    check_tiers(c, n, want, tiers, /*two_threads=*/true, [&](const std::string& label, const std::string&) {
      usual += label.find("gemm(wT.x)") != std::string::npos;
      by_rows += label.find("per kernel row") != std::string::npos;
    });
  }
  EXPECT_GE(checked, 35) << "too many random cases refused by the reference";
  EXPECT_GE(usual, 60);
  EXPECT_GE(by_rows, 9);
}

}  // namespace
}  // namespace kiln::testing
