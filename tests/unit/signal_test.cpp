// DFT, STFT, window generators and MelWeightMatrix against onnx.reference, plus inference.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace signal_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/signal_cases.inc"
}  // namespace signal_cases
}  // namespace

KILN_FIXTURE_SUITE(SignalFixture, signal_cases::kFixtureCases);

TEST(DFT, InferenceWithKnownAndUnknownLength) {
  Tensor len = Tensor::scalar<int64_t>(16);
  auto rfft = InferCall("DFT", 20).attr(attr_i("onesided", 1)).run(
      {vinfo(DType::kFloat32, Shape({sym("b"), Dim(10), Dim(1)})), vinfo(DType::kInt64, Shape(std::vector<Dim>{}), &len)});
  EXPECT_EQ(rfft[0].shape, Shape({sym("b"), Dim(9), Dim(2)}));
  auto unknown = InferCall("DFT", 20).run(
      {vinfo(DType::kFloat32, Shape({sym("b"), Dim(10), Dim(1)})), vinfo(DType::kInt64, Shape(std::vector<Dim>{}))});
  EXPECT_EQ(unknown[0].shape, Shape({sym("b"), Dim(), Dim(2)}));
  auto irfft = InferCall("DFT", 17).attr(attr_i("inverse", 1)).attr(attr_i("onesided", 1)).run(
      {vinfo(DType::kFloat32, Shape({Dim(2), Dim(5), Dim(2)}))});
  EXPECT_EQ(irfft[0].shape, Shape({Dim(2), Dim(8), Dim(1)}));
}

TEST(DFT, RejectsTheComplexAxisAndBadLastDim) {
  EXPECT_THROW(InferCall("DFT", 17).attr(attr_i("axis", 2)).run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(5), Dim(2)}))}),
               Error);
  EXPECT_THROW(InferCall("DFT", 17).attr(attr_i("axis", -1)).run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(5), Dim(2)}))}),
               Error);
  EXPECT_THROW(InferCall("DFT", 17).run({vinfo(DType::kFloat32, Shape({Dim(2), Dim(5), Dim(3)}))}), Error);
  Tensor x(DType::kFloat32, {1, 4, 1});
  EXPECT_THROW(OpCall("DFT", 17).run({x, Tensor::scalar<int64_t>(0)}), Error);
}

TEST(STFT, InferenceCountsFrames) {
  Tensor step = Tensor::scalar<int64_t>(4);
  auto out = InferCall("STFT", 17).run({vinfo(DType::kFloat32, Shape({sym("b"), Dim(100), Dim(1)})),
                                        vinfo(DType::kInt64, Shape(std::vector<Dim>{}), &step),
                                        vinfo(DType::kFloat32, Shape({Dim(16)}))});
  EXPECT_EQ(out[0].shape, Shape({sym("b"), Dim(22), Dim(9), Dim(2)}));  // (100 - 16) / 4 + 1 frames, 16/2 + 1 bins
}

TEST(STFT, RejectsComplexOnesidedAndShortSignals) {
  Tensor step = Tensor::scalar<int64_t>(1);
  Tensor cplx(DType::kFloat32, {1, 8, 2});
  EXPECT_THROW(OpCall("STFT", 17).run({cplx, step, {}, Tensor::scalar<int64_t>(4)}), Error);
  Tensor real(DType::kFloat32, {1, 3, 1});
  EXPECT_THROW(OpCall("STFT", 17).run({real, step, {}, Tensor::scalar<int64_t>(4)}), Error);
  Tensor window(DType::kFloat32, {5});
  EXPECT_THROW(OpCall("STFT", 17).run({Tensor(DType::kFloat32, {1, 8, 1}), step, window, Tensor::scalar<int64_t>(4)}), Error);
}

TEST(Windows, OutputTypeAndSize) {
  Tensor size = Tensor::scalar<int64_t>(5);
  auto out = InferCall("HannWindow", 17).attr(attr_i("output_datatype", 7)).run({vinfo(DType::kInt64, Shape(std::vector<Dim>{}), &size)});
  EXPECT_EQ(out[0].dtype, DType::kInt64);
  EXPECT_EQ(out[0].shape, Shape({Dim(5)}));
  EXPECT_THROW(OpCall("BlackmanWindow", 17).attr("output_datatype", int64_t{8}).run({size}), Error);
  EXPECT_THROW(OpCall("HammingWindow", 17).run({Tensor::scalar<int64_t>(-1)}), Error);
  // A symmetric window of one sample is [1], as in PyTorch.
  EXPECT_EQ(OpCall("HannWindow", 17).attr("periodic", int64_t{0}).run1({Tensor::scalar<int64_t>(1)}).data<float>()[0], 1.0f);
}

TEST(MelWeightMatrix, InferenceShape) {
  Tensor bins = Tensor::scalar<int64_t>(40), dft = Tensor::scalar<int64_t>(512);
  auto out = InferCall("MelWeightMatrix", 17).run({vinfo(DType::kInt64, Shape(std::vector<Dim>{}), &bins),
                                                   vinfo(DType::kInt64, Shape(std::vector<Dim>{}), &dft),
                                                   vinfo(DType::kInt64, Shape(std::vector<Dim>{})),
                                                   vinfo(DType::kFloat32, Shape(std::vector<Dim>{})),
                                                   vinfo(DType::kFloat32, Shape(std::vector<Dim>{}))});
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  EXPECT_EQ(out[0].shape, Shape({Dim(257), Dim(40)}));
}
