// Prepared Resize / Upsample (kernels/resize) against the reference compute, at every ISA tier this CPU has,
// on 1 and 2 threads: nearest with every nearest_mode and linear, under every coordinate_transformation_mode,
// scales and sizes, roi, exclude_outside, extrapolation, opset-18 axes (negative too), the legacy forms
// (Upsample-7/9, Resize-10), ragged and 1-sized dims, empty tensors, and the per-shape table cache.

#include <gtest/gtest.h>

#include <random>

#include "../unit/nn_test_util.h"
#include "prepared_test_util.h"

namespace kiln::testing {
namespace {

class ResizePrepared : public TierTest {};
KILN_INSTANTIATE_TIERS(ResizePrepared);

Tensor floats(std::vector<float> v) { return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v); }
Tensor ints(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }

const char* const kCoordModes[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                   "asymmetric", "tf_crop_and_resize"};
const char* const kNearestModes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};

MatchOptions options_for(const std::string& mode) {
  MatchOptions o;
  o.constant = {false, true, true, true};  // roi, scales and sizes are constants, as exporters write them
  if (mode == "linear") o.tol(2e-6, 1e-6);
  return o;
}

TEST_P(ResizePrepared, RandomCasesEveryMode) {
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const float factors[] = {0.25f, 0.5f, 0.6f, 0.75f, 1.0f, 1.5f, 2.0f, 2.3f, 3.0f, 4.0f};
  for (int trial = 0; trial < 240; ++trial) {
    const std::string mode = trial % 2 ? "linear" : "nearest";
    const std::string coord = kCoordModes[trial / 2 % 6];
    const std::vector<int64_t> dims{pick(1, 2), pick(1, 3), pick(0, 5) == 0 ? 1 : pick(1, 23), pick(0, 5) == 0 ? 1 : pick(1, 37)};
    PreparedCall call("Resize", 19);
    call.attr("mode", mode).attr("coordinate_transformation_mode", coord);
    if (mode == "nearest") call.attr("nearest_mode", std::string(kNearestModes[pick(0, 3)]));
    if (pick(0, 3) == 0) call.attr("exclude_outside", int64_t{1});
    if (coord == "tf_crop_and_resize") call.attr("extrapolation_value", 0.5f);
    Tensor roi;
    if (coord == "tf_crop_and_resize") {
      std::uniform_real_distribution<float> u(-0.3f, 1.3f);
      roi = floats({0, 0, u(rng), u(rng), 1, 1, u(rng), u(rng)});
    }
    Tensor scales, sizes;
    if (pick(0, 1)) {
      scales = floats({1, 1, factors[pick(0, 9)], factors[pick(0, 9)]});
    } else {
      sizes = ints({dims[0], dims[1], pick(1, 50), pick(1, 50)});
    }
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " " << mode << " " << coord << " x " << dims_str(dims)
                                      << (scales.defined() ? " scales" : " sizes"));
    std::vector<Tensor> inputs{random_tensor(dims, rng), roi, scales, sizes};
    if (!inputs[2].defined() && !inputs[3].defined()) continue;
    expect_prepared_matches(tier(), call, inputs, options_for(mode).hidden_shapes(trial % 3 == 0));
  }
}

TEST_P(ResizePrepared, SegmentationUpsamplingShapes) {
  std::mt19937 rng(8);
  struct Case { std::vector<int64_t> dims; float scale; const char* coord; };
  const Case cases[] = {{{1, 64, 32, 32}, 2, "half_pixel"},     {{1, 32, 33, 47}, 2, "align_corners"},
                        {{1, 21, 28, 28}, 4, "half_pixel"},     {{1, 2, 65, 97}, 4, "align_corners"},
                        {{2, 16, 20, 20}, 2, "pytorch_half_pixel"}, {{1, 1, 300, 400}, 0.5f, "half_pixel"}};
  for (const Case& c : cases) {
    for (const char* mode : {"linear", "nearest"}) {
      SCOPED_TRACE(dims_str(c.dims) + " " + mode + " " + c.coord);
      PreparedCall call("Resize", 13);
      call.attr("mode", std::string(mode)).attr("coordinate_transformation_mode", std::string(c.coord));
      expect_prepared_matches(tier(), call, {random_tensor(c.dims, rng), Tensor(), floats({1, 1, c.scale, c.scale}), Tensor()},
                              options_for(mode));
    }
  }
}

TEST_P(ResizePrepared, AxesAttributeAndLegacyForms) {
  std::mt19937 rng(9);
  const Tensor x = random_tensor({2, 3, 7, 11}, rng);
  for (std::vector<int64_t> axes : {std::vector<int64_t>{2, 3}, std::vector<int64_t>{-2, -1}, std::vector<int64_t>{3}}) {
    PreparedCall call("Resize", 18);
    call.attr("mode", std::string("linear")).attr("axes", axes);
    const Tensor scales = axes.size() == 2 ? floats({1.7f, 2.0f}) : floats({3.0f});
    expect_prepared_matches(tier(), call, {x, Tensor(), scales, Tensor()}, options_for("linear"));
    PreparedCall by_size("Resize", 18);
    by_size.attr("mode", std::string("nearest")).attr("axes", axes).attr("keep_aspect_ratio_policy", std::string("not_larger"));
    const Tensor sizes = axes.size() == 2 ? ints({20, 15}) : ints({5});
    expect_prepared_matches(tier(), by_size, {x, Tensor(), Tensor(), sizes}, options_for("nearest"));
  }
  for (const char* mode : {"nearest", "linear"}) {
    PreparedCall up7("Upsample", 7);
    up7.attr("mode", std::string(mode)).attr("scales", std::vector<float>{1, 1, 2, 3});
    expect_prepared_matches(tier(), up7, {x}, options_for(mode));
    PreparedCall up9("Upsample", 9);
    up9.attr("mode", std::string(mode));
    expect_prepared_matches(tier(), up9, {x, floats({1, 1, 2.5f, 0.5f})}, options_for(mode));
    PreparedCall r10("Resize", 10);
    r10.attr("mode", std::string(mode));
    expect_prepared_matches(tier(), r10, {x, floats({1, 1, 0.6f, 1.5f})}, options_for(mode));
  }
}

TEST_P(ResizePrepared, OtherAxesAndUncoveredModesRunTheReference) {
  std::mt19937 rng(10);
  const Tensor x = random_tensor({1, 3, 5, 6}, rng);
  // Resizing the channel axis: prepared, but each run hands over to the reference.
  PreparedCall channels("Resize", 13);
  channels.attr("mode", std::string("linear"));
  expect_prepared_matches(tier(), channels, {x, Tensor(), floats({1, 2, 2, 1}), Tensor()}, options_for("linear"));
  IsaCapGuard guard;
  kernels::set_isa_cap(tier());
  PreparedCall cubic("Resize", 13);
  cubic.attr("mode", std::string("cubic"));
  EXPECT_EQ(cubic.prepare({x, Tensor(), floats({1, 1, 2, 2}), Tensor()}, {}, false), nullptr);
  PreparedCall antialias("Resize", 18);
  antialias.attr("mode", std::string("linear")).attr("antialias", int64_t{1});
  EXPECT_EQ(antialias.prepare({x, Tensor(), floats({1, 1, 0.5f, 0.5f}), Tensor()}, {}, false), nullptr);
}

TEST_P(ResizePrepared, EmptyTensorsAndRankThree) {
  std::mt19937 rng(12);
  PreparedCall call("Resize", 13);
  call.attr("mode", std::string("linear"));
  expect_prepared_matches(tier(), call, {random_tensor({0, 3, 4, 4}, rng), Tensor(), floats({1, 1, 2, 2}), Tensor()},
                          options_for("linear"));
  expect_prepared_matches(tier(), call, {random_tensor({2, 5, 9}, rng), Tensor(), floats({1, 2, 2}), Tensor()},
                          options_for("linear"));
  expect_prepared_matches(tier(), call, {random_tensor({1, 1, 4, 4}, rng), Tensor(), Tensor(), ints({1, 1, 0, 3})},
                          options_for("linear"));
}

TEST_P(ResizePrepared, TableCacheAcrossShapes) {
  std::mt19937 rng(13);
  IsaCapGuard guard;
  kernels::set_isa_cap(tier());
  PreparedCall call("Resize", 13);
  call.attr("mode", std::string("linear")).attr("coordinate_transformation_mode", std::string("align_corners"));
  const Tensor scales = floats({1, 1, 2, 2});
  std::vector<Tensor> first{random_tensor({1, 2, 5, 7}, rng), Tensor(), scales, Tensor()};
  auto k = call.prepare(first, {false, true, true, true}, true);
  ASSERT_NE(k, nullptr);
  kernels::ThreadPool two(2);
  // More shapes than the cache holds, then the first again; also another scale for the same shape.
  for (int64_t w : {7, 9, 3, 1, 12, 13, 7}) {
    for (const Tensor& s : {scales, floats({1, 1, 3, 1.5f})}) {
      std::vector<Tensor> in{random_tensor({1, 2, 5, w}, rng), Tensor(), s, Tensor()};
      const Tensor want = call.reference(in)[0];
      expect_same_tensor(call.run(*k, in, &two)[0], want, 2e-6, 1e-6, "width " + std::to_string(w));
    }
  }
}

}  // namespace
}  // namespace kiln::testing
