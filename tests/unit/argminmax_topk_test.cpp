// ArgMax, ArgMin, TopK: reference fixtures (ties, select_last_index, every axis) and inference.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace argminmax_topk_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/argminmax_topk_cases.inc"
}  // namespace argminmax_topk_cases
}  // namespace

KILN_FIXTURE_SUITE(ArgMinMaxTopKFixture, argminmax_topk_cases::kFixtureCases);

TEST(ArgMax, InferenceKeepdimsAndNegativeAxis) {
  auto keep = InferCall("ArgMax", 13).attr(attr_i("axis", -1)).run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(10)}))});
  EXPECT_EQ(keep[0].dtype, DType::kInt64);
  EXPECT_EQ(keep[0].shape, Shape({sym("n"), Dim(1)}));
  auto drop = InferCall("ArgMin", 13).attr(attr_i("keepdims", 0)).run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(10)}))});
  EXPECT_EQ(drop[0].shape, Shape({Dim(10)}));
}

TEST(ArgMax, NaNCountsAsLargest) {
  Tensor x = Tensor::from_vector<float>({4}, {1, NAN, 7, NAN});
  EXPECT_EQ(OpCall("ArgMax", 13).attr("keepdims", int64_t{0}).run1({x}).data<int64_t>()[0], 1);
  EXPECT_EQ(OpCall("ArgMin", 13).attr("keepdims", int64_t{0}).run1({x}).data<int64_t>()[0], 0);
}

TEST(ArgMax, EmptyAxisIsBadInput) {
  Tensor x(DType::kFloat32, {2, 0});
  EXPECT_THROW(OpCall("ArgMax", 13).attr("axis", int64_t{1}).run({x}), Error);
}

TEST(TopK, InferenceUsesKWhenKnown) {
  Tensor k = Tensor::from_vector<int64_t>({1}, {3});
  auto known = InferCall("TopK", 11).run(
      {vinfo(DType::kFloat32, Shape({sym("b"), Dim(10)})), vinfo(DType::kInt64, Shape({Dim(1)}), &k)}, 2);
  EXPECT_EQ(known[0].shape, Shape({sym("b"), Dim(3)}));
  EXPECT_EQ(known[1].dtype, DType::kInt64);
  EXPECT_EQ(known[1].shape, Shape({sym("b"), Dim(3)}));
  auto unknown = InferCall("TopK", 11).run(
      {vinfo(DType::kFloat32, Shape({sym("b"), Dim(10)})), vinfo(DType::kInt64, Shape({Dim(1)}))}, 2);
  EXPECT_EQ(unknown[0].shape, Shape({sym("b"), Dim()}));
}

TEST(TopK, KLargerThanAxisIsBadInput) {
  Tensor x(DType::kFloat32, {2, 3});
  Tensor k = Tensor::from_vector<int64_t>({1}, {4});
  EXPECT_THROW(OpCall("TopK", 11).outputs(2).run({x, k}), Error);
  Tensor neg = Tensor::from_vector<int64_t>({1}, {-1});
  EXPECT_THROW(OpCall("TopK", 11).outputs(2).run({x, neg}), Error);
}

TEST(TopK, NaNRanksAboveNumbers) {
  Tensor x = Tensor::from_vector<float>({4}, {1, NAN, 7, 3});
  auto out = OpCall("TopK", 11).outputs(2).run({x, Tensor::from_vector<int64_t>({1}, {2})});
  EXPECT_EQ(out[1].data<int64_t>()[0], 1);
  EXPECT_EQ(out[1].data<int64_t>()[1], 2);
  auto small = OpCall("TopK", 11).attr("largest", int64_t{0}).outputs(2).run({x, Tensor::from_vector<int64_t>({1}, {2})});
  EXPECT_EQ(small[1].data<int64_t>()[0], 0);
  EXPECT_EQ(small[1].data<int64_t>()[1], 3);
}
