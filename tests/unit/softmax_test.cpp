// Softmax, LogSoftmax, Hardmax: reference fixtures (every axis, opsets 1/11/13) and the opset-13 change.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace softmax_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/softmax_cases.inc"
}  // namespace softmax_cases
}  // namespace

KILN_FIXTURE_SUITE(SoftmaxFixture, softmax_cases::kFixtureCases);

TEST(Softmax, Opset11CoercesTo2DButOpset13UsesOneAxis) {
  // [1, 2, 2] input, default axis: opset 11 normalises over all 4 values (axis 1 onward), opset 13 over pairs.
  Tensor x = Tensor::from_vector<float>({1, 2, 2}, {0, 0, 0, 0});
  Tensor y11 = OpCall("Softmax", 11).run1({x});
  Tensor y13 = OpCall("Softmax", 13).run1({x});
  for (int i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ(y11.data<float>()[i], 0.25f);
    EXPECT_FLOAT_EQ(y13.data<float>()[i], 0.5f);
  }
}

TEST(Softmax, InferenceKeepsSymbolsAndChecksAxis) {
  auto out = InferCall("LogSoftmax", 13).run({vinfo(DType::kFloat32, Shape({sym("b"), sym("t"), Dim(8)}))});
  EXPECT_EQ(out[0].shape, Shape({sym("b"), sym("t"), Dim(8)}));
  EXPECT_THROW(InferCall("Softmax", 13).attr(attr_i("axis", 3)).run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(3), Dim(4)}))}),
               Error);
  EXPECT_THROW(InferCall("Softmax", 13).run({vinfo(DType::kInt32, Shape({Dim(2)}))}), Error);
}

TEST(Softmax, EmptyInputGivesEmptyOutput) {
  Tensor x(DType::kFloat32, {0, 3});
  EXPECT_EQ(OpCall("Softmax", 13).run1({x}).numel(), 0);
}
