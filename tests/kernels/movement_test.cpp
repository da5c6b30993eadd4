// Prepared data-movement ops (Transpose, Slice, Concat, Split, Expand, Tile, Gather, Pad, DepthToSpace,
// SpaceToDepth; kernels/copy) against
// the reference compute, bit for bit, on 1 and 2 threads: random shapes with 1-sized and empty dims, every
// element size, negative axes and steps, and the large shapes that take the tiled and threaded paths.

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <random>

#include "prepared_test_util.h"
#include "random_tensors.h"

namespace kiln::testing {
namespace {

using namespace kiln::testing::prepared;
// prepared_node.h (another file of a unity batch) has a kiln::testing::IsaCapGuard too: this file means its own.
using prepared::IsaCapGuard;

class MovementPrepared : public TierTest {};
KILN_INSTANTIATE_TIERS(MovementPrepared);

const DType kTypes[] = {DType::kFloat32, DType::kInt64, DType::kUInt8, DType::kFloat16, DType::kBool, DType::kInt32};

std::vector<int64_t> random_dims(std::mt19937& rng, size_t rank, int max_dim, bool allow_empty) {
  std::vector<int64_t> d;
  for (size_t k = 0; k < rank; ++k) {
    const int roll = std::uniform_int_distribution<int>(0, 9)(rng);
    d.push_back(roll == 0 ? 1 : (roll == 1 && allow_empty) ? 0 : std::uniform_int_distribution<int>(1, max_dim)(rng));
  }
  return d;
}

MatchOptions index_inputs_constant() { return MatchOptions().constants({false, true, true, true, true}); }

TEST_P(MovementPrepared, TransposeRandom) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 150; ++trial) {
    const size_t rank = 1 + trial % 5;
    const DType t = kTypes[trial % 6];
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    const Tensor x = random_any(random_dims(rng, rank, 9, trial % 7 == 0), t, rng);
    PreparedCall call("Transpose", 13);
    if (trial % 4) call.attr("perm", perm);  // else the default: reversed axes
    SCOPED_TRACE(dims_str(x.dims()) + " perm " + dims_str(perm));
    expect_prepared_matches(tier(), call, {x}, MatchOptions().hidden_shapes(trial % 2 == 0));
  }
}

TEST_P(MovementPrepared, TransposeLayoutChanges) {
  std::mt19937 rng(2);
  struct Case { std::vector<int64_t> dims, perm; };
  const Case cases[] = {{{1, 64, 56, 56}, {0, 2, 3, 1}}, {{1, 56, 56, 64}, {0, 3, 1, 2}}, {{2, 128, 12, 64}, {0, 2, 1, 3}},
                        {{300, 517}, {1, 0}},              {{3, 33, 65}, {2, 1, 0}},        {{2, 3, 40, 50}, {0, 1, 3, 2}}};
  for (const Case& c : cases)
    for (DType t : {DType::kFloat32, DType::kUInt8, DType::kFloat16, DType::kInt64}) {
      PreparedCall call("Transpose", 21);
      call.attr("perm", c.perm);
      expect_prepared_matches(tier(), call, {random_any(c.dims, t, rng)});
    }
}

TEST_P(MovementPrepared, SliceRandom) {
  std::mt19937 rng(3);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 200; ++trial) {
    const size_t rank = 1 + trial % 4;
    const Tensor x = random_any(random_dims(rng, rank, 12, trial % 9 == 0), kTypes[trial % 6], rng);
    std::vector<int64_t> starts, ends, axes, steps;
    for (size_t k = 0; k < rank; ++k) {
      if (pick(0, 2) == 0) continue;
      const int64_t d = x.dim(k);
      starts.push_back(pick(-static_cast<int>(d) - 2, static_cast<int>(d) + 2));
      ends.push_back(pick(0, 5) == 0 ? INT64_MAX : pick(-static_cast<int>(d) - 2, static_cast<int>(d) + 2));
      axes.push_back(pick(0, 1) ? static_cast<int64_t>(k) : static_cast<int64_t>(k) - static_cast<int64_t>(rank));
      steps.push_back(pick(0, 2) ? 1 : (pick(0, 1) ? pick(2, 3) : -pick(1, 3)));
    }
    if (starts.empty()) continue;
    const DType it = trial % 3 ? DType::kInt64 : DType::kInt32;
    PreparedCall call("Slice", 13);
    SCOPED_TRACE(dims_str(x.dims()) + " starts " + dims_str(starts) + " ends " + dims_str(ends) + " axes " +
                 dims_str(axes) + " steps " + dims_str(steps));
    std::vector<int64_t> leading(starts.size());
    std::iota(leading.begin(), leading.end(), 0);
    // Without axes and steps the lists cover the leading axes with step 1.
    const bool plain = trial % 5 == 0 && axes == leading && std::all_of(steps.begin(), steps.end(), [](int64_t s) { return s == 1; });
    std::vector<Tensor> in{x, ints(starts, it), ints(ends, it)};
    if (!plain) in.push_back(ints(axes, it)), in.push_back(ints(steps, it));
    expect_prepared_matches(tier(), call, in, index_inputs_constant().hidden_shapes(trial % 2 == 0));
  }
  // Slice-1: attributes; a large contiguous slice (threads).
  PreparedCall s1("Slice", 1);
  s1.attr("starts", std::vector<int64_t>{1, -3}).attr("ends", std::vector<int64_t>{3, 100}).attr("axes", std::vector<int64_t>{0, 2});
  expect_prepared_matches(tier(), s1, {random_any({4, 3, 7}, DType::kFloat32, rng)});
  PreparedCall huge_step("Slice", 13);  // any int64 step is valid; one that yields a single element
  expect_prepared_matches(tier(), huge_step, {random_any({5, 3}, DType::kFloat32, rng), ints({1, 0}), ints({5, 3}),
                                              ints({0, 1}), ints({INT64_MAX, -INT64_MAX})});
  PreparedCall big("Slice", 13);
  expect_prepared_matches(tier(), big, {random_any({1, 256, 64, 64}, DType::kFloat32, rng), ints({16}), ints({240}), ints({1})});
}

TEST_P(MovementPrepared, ConcatAndSplit) {
  std::mt19937 rng(4);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 120; ++trial) {
    const size_t rank = 1 + trial % 4;
    const DType t = kTypes[trial % 6];
    const auto axis = static_cast<int64_t>(pick(0, static_cast<int>(rank) - 1));
    const std::vector<int64_t> base = random_dims(rng, rank, 7, false);
    std::vector<Tensor> parts;
    const int n = pick(1, 4);
    for (int i = 0; i < n; ++i) {
      std::vector<int64_t> d = base;
      d[static_cast<size_t>(axis)] = pick(0, 4) == 0 ? 0 : pick(1, 6);
      parts.push_back(random_any(d, t, rng));
    }
    const int64_t attr_axis = pick(0, 1) ? axis : axis - static_cast<int64_t>(rank);
    PreparedCall concat("Concat", 13);
    concat.attr("axis", attr_axis);
    expect_prepared_matches(tier(), concat, parts, MatchOptions().hidden_shapes(trial % 2 == 0));

    const Tensor whole = concat.reference(parts)[0];
    std::vector<int64_t> sizes;
    for (const Tensor& p : parts) sizes.push_back(p.dim(static_cast<size_t>(axis)));
    PreparedCall split13("Split", 13);
    split13.attr("axis", attr_axis).outputs(sizes.size());
    expect_prepared_matches(tier(), split13, {whole, ints(sizes)}, index_inputs_constant());
    PreparedCall split11("Split", 11);
    split11.attr("axis", attr_axis).attr("split", sizes).outputs(sizes.size());
    expect_prepared_matches(tier(), split11, {whole});
    if (whole.dim(static_cast<size_t>(axis)) >= 3) {  // even parts, the last smaller
      PreparedCall split18("Split", 18);
      split18.attr("axis", attr_axis).attr("num_outputs", int64_t{3}).outputs(3);
      expect_prepared_matches(tier(), split18, {whole});
    }
  }
  PreparedCall big("Concat", 13);
  big.attr("axis", int64_t{1});
  expect_prepared_matches(tier(), big, {random_any({1, 64, 56, 56}, DType::kFloat32, rng), random_any({1, 32, 56, 56}, DType::kFloat32, rng)});
  // Batch 2, an empty part, odd rows, 8-byte elements: the planes-by-rows split over threads (concat_planes).
  expect_prepared_matches(tier(), big, {random_any({2, 24, 37, 29}, DType::kInt64, rng), random_any({2, 0, 37, 29}, DType::kInt64, rng),
                                        random_any({2, 40, 37, 29}, DType::kInt64, rng)});
}

TEST_P(MovementPrepared, ExpandAndTile) {
  std::mt19937 rng(5);
  struct Case { std::vector<int64_t> in, shape; };
  const Case expands[] = {{{3, 1}, {2, 3, 4}}, {{1}, {5, 7}},       {{}, {4, 3}},        {{1, 64, 1, 1}, {1, 64, 56, 56}},
                          {{2, 1, 3}, {2, 5, 3}}, {{4, 1}, {4, 0}}, {{1, 1, 512}, {1, 300, 512}}};
  for (const Case& c : expands)
    for (DType t : {DType::kFloat32, DType::kInt64, DType::kBool}) {
      PreparedCall call("Expand", 13);
      expect_prepared_matches(tier(), call, {random_any(c.in, t, rng), ints(c.shape)}, index_inputs_constant());
    }
  const Case tiles[] = {{{2, 3}, {1, 2}}, {{3}, {4}}, {{2, 1, 3}, {2, 5, 1}}, {{2, 3}, {0, 2}}, {{1, 16, 32, 32}, {1, 2, 2, 3}}};
  for (const Case& c : tiles)
    for (DType t : {DType::kFloat32, DType::kUInt8, DType::kFloat16}) {
      PreparedCall call("Tile", 13);
      expect_prepared_matches(tier(), call, {random_any(c.in, t, rng), ints(c.shape)}, index_inputs_constant());
    }
}

TEST_P(MovementPrepared, GatherEveryAxis) {
  std::mt19937 rng(6);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 100; ++trial) {
    const size_t rank = 1 + trial % 4;
    const Tensor data = random_any(random_dims(rng, rank, 8, false), kTypes[trial % 6], rng);
    const auto axis = static_cast<int64_t>(pick(0, static_cast<int>(rank) - 1));
    const int64_t dim = data.dim(static_cast<size_t>(axis));
    std::vector<int64_t> idx_dims = trial % 5 == 0 ? std::vector<int64_t>{} : random_dims(rng, 1 + trial % 2, 4, true);
    Tensor idx(trial % 2 ? DType::kInt64 : DType::kInt32, idx_dims);
    for (int64_t i = 0; i < idx.numel(); ++i) {
      const int64_t v = pick(-static_cast<int>(dim), static_cast<int>(dim) - 1);
      if (idx.dtype() == DType::kInt64) idx.data<int64_t>()[i] = v;
      else idx.data<int32_t>()[i] = static_cast<int32_t>(v);
    }
    PreparedCall call("Gather", 13);
    call.attr("axis", pick(0, 1) ? axis : axis - static_cast<int64_t>(rank));
    SCOPED_TRACE(dims_str(data.dims()) + " axis " + std::to_string(axis) + " indices " + dims_str(idx_dims));
    expect_prepared_matches(tier(), call, {data, idx}, MatchOptions().hidden_shapes(trial % 2 == 0));
  }
  // An embedding lookup large enough for threads.
  PreparedCall emb("Gather", 13);
  Tensor ids(DType::kInt64, {4, 128});
  for (int64_t i = 0; i < ids.numel(); ++i) ids.data<int64_t>()[i] = pick(0, 999);
  expect_prepared_matches(tier(), emb, {random_any({1000, 256}, DType::kFloat32, rng), ids});
}

TEST_P(MovementPrepared, BadIndicesFailAsTheReferenceDoes) {
  std::mt19937 rng(7);
  IsaCapGuard guard;
  kernels::set_isa_cap(tier());
  PreparedCall call("Gather", 13);
  const std::vector<Tensor> in{random_any({5, 3}, DType::kFloat32, rng), ints({1, 5})};
  auto k = call.prepare(in, {}, false);
  ASSERT_NE(k, nullptr);
  EXPECT_THROW(call.run(*k, in, nullptr), Error);
  PreparedCall slice("Slice", 13);
  const std::vector<Tensor> sin{random_any({5, 3}, DType::kFloat32, rng), ints({0}), ints({2}), ints({0}), ints({0})};
  auto ks = slice.prepare(sin, {}, false);
  ASSERT_NE(ks, nullptr);
  EXPECT_THROW(slice.run(*ks, sin, nullptr), Error);  // step 0
}

TEST_P(MovementPrepared, PadConstant) {
  std::mt19937 rng(8);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 120; ++trial) {
    const size_t rank = 1 + trial % 4;
    const DType t = kTypes[trial % 6];
    const Tensor x = random_any(random_dims(rng, rank, 7, trial % 10 == 0), t, rng);
    std::vector<int64_t> pads(2 * rank);
    for (size_t k = 0; k < rank; ++k) {
      pads[k] = pick(-static_cast<int>(x.dim(k)) / 2, 3);
      pads[k + rank] = pick(-static_cast<int>(x.dim(k)) / 2, 3);
    }
    PreparedCall call("Pad", trial % 3 ? 13 : 18);
    std::vector<Tensor> in{x, ints(pads)};
    if (trial % 2) in.push_back(random_any({}, t, rng));  // constant_value
    SCOPED_TRACE(dims_str(x.dims()) + " pads " + dims_str(pads));
    expect_prepared_matches(tier(), call, in, index_inputs_constant().hidden_shapes(trial % 2 == 0));
  }
  // Opset 18's axes (negative too), and a large pad (threads).
  PreparedCall axes("Pad", 18);
  expect_prepared_matches(tier(), axes, {random_any({2, 3, 4}, DType::kFloat32, rng), ints({1, -1, 2, 0}), Tensor(), ints({-1, 0})},
                          index_inputs_constant());
  PreparedCall big("Pad", 13);
  expect_prepared_matches(tier(), big, {random_any({1, 64, 56, 56}, DType::kFloat32, rng), ints({0, 0, 1, 1, 0, 0, 1, 1})},
                          index_inputs_constant());
  // Crops that remove the whole input, leaving only the fill.
  PreparedCall crop("Pad", 13);
  expect_prepared_matches(tier(), crop, {random_any({3, 4}, DType::kInt64, rng), ints({-3, 1, 2, 0}), random_any({}, DType::kInt64, rng)},
                          index_inputs_constant());
}


// DepthToSpace (4-byte elements: rows interleaved; others: the strided view) and SpaceToDepth, both modes, block
// sizes 1 to 5 and one past the row path's limit, 1-sized planes and batches, and a plane large enough to be split
// into bands over 2 threads.
TEST_P(MovementPrepared, DepthToSpaceAndSpaceToDepth) {
  std::mt19937 rng(9);
  const DType types[] = {DType::kFloat32, DType::kInt32, DType::kInt64, DType::kUInt8};
  struct Case { int64_t n, c_per_block, h, w, b; };
  const Case cases[] = {{1, 1, 1, 1, 1}, {1, 2, 3, 5, 2}, {2, 1, 4, 7, 3}, {1, 3, 2, 1, 4}, {3, 2, 5, 3, 5},
                        {1, 1, 9, 11, 3}, {1, 1, 64, 70, 3}, {2, 2, 40, 33, 2}, {1, 1, 2, 3, 17}};
  int trial = 0;
  for (const Case& c : cases)
    for (const std::string mode : {"CRD", "DCR"}) {
      const DType t = types[trial++ % 4];
      SCOPED_TRACE(std::to_string(c.n) + "x" + std::to_string(c.c_per_block) + "x" + std::to_string(c.h) + "x" +
                   std::to_string(c.w) + " b " + std::to_string(c.b) + " " + mode);
      PreparedCall d2s("DepthToSpace", 13);
      d2s.attr("blocksize", c.b).attr("mode", mode);
      expect_prepared_matches(tier(), d2s, {random_any({c.n, c.c_per_block * c.b * c.b, c.h, c.w}, t, rng)});
      PreparedCall f32("DepthToSpace", 13);  // the row path itself, whatever the type above
      f32.attr("blocksize", c.b).attr("mode", mode);
      expect_prepared_matches(tier(), f32,
                              {random_any({c.n, c.c_per_block * c.b * c.b, c.h, c.w}, DType::kFloat32, rng)});
      PreparedCall s2d("SpaceToDepth", 13);
      s2d.attr("blocksize", c.b);
      expect_prepared_matches(tier(), s2d, {random_any({c.n, c.c_per_block, c.h * c.b, c.w * c.b}, t, rng)});
    }
}

}  // namespace
}  // namespace kiln::testing
