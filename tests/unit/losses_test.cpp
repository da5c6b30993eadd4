// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: reductions, weights, ignore_index against
// onnx.reference, plus inference and bad targets.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace losses_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/losses_cases.inc"
}  // namespace losses_cases
}  // namespace

KILN_FIXTURE_SUITE(LossFixture, losses_cases::kFixtureCases);

TEST(Losses, InferenceShapes) {
  auto none = InferCall("SoftmaxCrossEntropyLoss", 13)
                  .attr(attr_s("reduction", "none"))
                  .run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(10), sym("h")})),
                        vinfo(DType::kInt64, Shape({sym("n"), sym("h")}))},
                       2);
  EXPECT_EQ(none[0].shape, Shape({sym("n"), sym("h")}));
  EXPECT_EQ(none[1].shape, Shape({sym("n"), Dim(10), sym("h")}));
  auto mean = InferCall("NegativeLogLikelihoodLoss", 13).run(
      {vinfo(DType::kFloat32, Shape({sym("n"), Dim(10)})), vinfo(DType::kInt64, Shape({sym("n")}))});
  EXPECT_EQ(mean[0].shape.rank(), 0u);
  EXPECT_TRUE(mean[0].shape.rank_known);
  EXPECT_THROW(InferCall("NegativeLogLikelihoodLoss", 13)
                   .run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(3), Dim(4)})), vinfo(DType::kInt64, Shape({Dim(2), Dim(5)}))}),
               Error);
  EXPECT_THROW(InferCall("NegativeLogLikelihoodLoss", 13)
                   .attr(attr_s("reduction", "max"))
                   .run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(3)})), vinfo(DType::kInt64, Shape({Dim(2)}))}),
               Error);
}

TEST(Losses, TargetOutsideClassesIsBadInput) {
  Tensor x(DType::kFloat32, {2, 3});
  EXPECT_THROW(OpCall("NegativeLogLikelihoodLoss", 13).run({x, Tensor::from_vector<int64_t>({2}, {0, 3})}), Error);
  EXPECT_THROW(OpCall("SoftmaxCrossEntropyLoss", 13).run({x, Tensor::from_vector<int64_t>({2}, {-1, 0})}), Error);
}

TEST(Losses, AllIgnoredMeanIsNaN) {
  // PyTorch's nll_loss gives NaN when every target is ignored (0 / 0).
  Tensor x(DType::kFloat32, {2, 3});
  Tensor y = OpCall("NegativeLogLikelihoodLoss", 13)
                 .attr("ignore_index", int64_t{1})
                 .run1({x, Tensor::from_vector<int64_t>({2}, {1, 1})});
  EXPECT_TRUE(std::isnan(y.data<float>()[0]));
}
