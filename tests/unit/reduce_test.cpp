// Reduce* family: values against onnx.reference fixtures, symbolic inference, and refusals.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace reduce_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/reduce_cases.inc"
}  // namespace reduce_cases
}  // namespace

KILN_FIXTURE_SUITE(ReduceFixture, reduce_cases::kFixtureCases);

TEST(ReduceInfer, AttrAxesKeepSymbols) {
  auto out = InferCall("ReduceMean", 13)
                 .attr(attr_ints("axes", {-1}))
                 .run({vinfo(DType::kFloat32, Shape({sym("batch"), Dim(3), sym("w")}))});
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  EXPECT_EQ(out[0].shape, Shape({sym("batch"), Dim(3), Dim(1)}));
}

TEST(ReduceInfer, AxesInputKnownValueDropsDims) {
  Tensor axes = Tensor::from_vector<int64_t>({2}, {0, 2});
  auto out = InferCall("ReduceSum", 13)
                 .attr(attr_i("keepdims", 0))
                 .run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(4), sym("h")})),
                       vinfo(DType::kInt64, Shape({Dim(2)}), &axes)});
  EXPECT_EQ(out[0].shape, Shape({Dim(4)}));
}

TEST(ReduceInfer, AxesInputUnknownKeepsRankWhenKeepdims) {
  auto out = InferCall("ReduceMax", 18).run(
      {vinfo(DType::kFloat32, Shape({sym("n"), Dim(1), Dim(5)})), vinfo(DType::kInt64, Shape({Dim(1)}))});
  EXPECT_EQ(out[0].shape, Shape({Dim(), Dim(1), Dim()}));
}

TEST(ReduceInfer, AxesInputUnknownValueKnownLengthGivesRank) {
  auto out = InferCall("ReduceMax", 18)
                 .attr(attr_i("keepdims", 0))
                 .run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(2), Dim(5)})), vinfo(DType::kInt64, Shape({Dim(2)}))});
  EXPECT_EQ(out[0].shape, Shape({Dim()}));
}

TEST(ReduceInfer, AxesInputUnknownLengthGivesUnknownRank) {
  auto out = InferCall("ReduceMax", 18)
                 .attr(attr_i("keepdims", 0))
                 .run({vinfo(DType::kFloat32, Shape({Dim(3), Dim(5)})), vinfo(DType::kInt64, Shape({sym("k")}))});
  EXPECT_FALSE(out[0].shape.rank_known);
}

TEST(ReduceInfer, NoopWithEmptyAxesIsIdentityShape) {
  auto out = InferCall("ReduceL2", 18)
                 .attr(attr_i("noop_with_empty_axes", 1))
                 .run({vinfo(DType::kFloat16, Shape({sym("b"), Dim(7)}))});
  EXPECT_EQ(out[0].shape, Shape({sym("b"), Dim(7)}));
  EXPECT_EQ(out[0].dtype, DType::kFloat16);
}

TEST(ReduceInfer, UnknownRankReduceAllDropsToScalar) {
  auto out = InferCall("ReduceSum", 11).attr(attr_i("keepdims", 0)).run({vinfo(DType::kFloat32, Shape::unknown_rank())});
  EXPECT_TRUE(out[0].shape.rank_known);
  EXPECT_EQ(out[0].shape.rank(), 0u);
}

TEST(ReduceErrors, AxisOutOfRangeFails) {
  Tensor x(DType::kFloat32, {2, 3});
  EXPECT_THROW(OpCall("ReduceMean", 11).attr("axes", std::vector<int64_t>{2}).run({x}), Error);
  Tensor axes = Tensor::from_vector<int64_t>({1}, {-3});
  EXPECT_THROW(OpCall("ReduceSum", 13).run({x, axes}), Error);
}

TEST(ReduceErrors, DuplicateAxesFail) {
  Tensor x(DType::kFloat32, {2, 3});
  Tensor axes = Tensor::from_vector<int64_t>({2}, {1, -1});
  EXPECT_THROW(OpCall("ReduceMax", 18).run({x, axes}), Error);
}

TEST(ReduceErrors, AxesAttributeAtAxesInputOpsetFails) {
  Tensor x(DType::kFloat32, {2, 3});
  EXPECT_THROW(OpCall("ReduceMean", 18).attr("axes", std::vector<int64_t>{0}).run({x}), Error);
}

TEST(ReduceErrors, BoolBeforeOpset20IsUnsupported) {
  Tensor x(DType::kBool, {2});
  try {
    OpCall("ReduceMax", 13).attr("axes", std::vector<int64_t>{0}).run({x});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
}

TEST(ReduceValues, IntegerSumWrapsLikeNumpy) {
  // int32 overflow wraps (numpy's behaviour) rather than invoking undefined behaviour.
  Tensor x = Tensor::from_vector<int32_t>({2}, {2147483647, 1});
  Tensor y = OpCall("ReduceSum", 13).attr("keepdims", int64_t{0}).run1({x});
  EXPECT_EQ(y.data<int32_t>()[0], -2147483647 - 1);
}

TEST(ReduceValues, EmptyIntegerMaxIsLowest) {
  Tensor x(DType::kInt32, {0, 2});
  Tensor axes = Tensor::from_vector<int64_t>({1}, {0});
  Tensor y = OpCall("ReduceMax", 18).run1({x, axes});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(y.data<int32_t>()[0], std::numeric_limits<int32_t>::lowest());
}
