// Resize and Upsample: every mode × coordinate transformation × scales/sizes against onnx.reference (and
// onnxruntime for opset 10, Upsample and the segmentation export path), plus symbolic inference for sizes
// computed at run time.

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {
namespace resize_cases {  // the generated arrays (kFixtureCases, kDNN, ...) repeat in every family
#include "fixtures/resize_cases.inc"
}  // namespace resize_cases

Tensor iota_tensor(std::vector<int64_t> dims) {
  Tensor t(DType::kFloat32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}
}  // namespace

KILN_FIXTURE_SUITE(ResizeFixture, resize_cases::kFixtureCases);

TEST(ResizeInfer, KnownSizesGiveExactShape) {
  Tensor sizes = Tensor::from_vector<int64_t>({4}, {1, 3, 64, 96});
  auto out = InferCall("Resize", 13)
                 .attr(attr_s("mode", "linear"))
                 .run({vinfo(DType::kFloat32, Shape({Dim(1), Dim(3), sym("h"), sym("w")})), {}, {},
                       vinfo(DType::kInt64, Shape({Dim(4)}), &sizes)});
  EXPECT_EQ(out[0].shape, Shape({Dim(1), Dim(3), Dim(64), Dim(96)}));
}

TEST(ResizeInfer, UnknownSizesGiveUnknownDimsOfKnownRank) {
  // sizes = Concat(Shape(x)[:2], target) computed at run time: the value is not visible to inference.
  auto out = InferCall("Resize", 13)
                 .attr(attr_s("mode", "linear"))
                 .run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(21), sym("h"), sym("w")})),
                       vinfo(DType::kFloat32, Shape({Dim(0)})), vinfo(DType::kFloat32, Shape({Dim(0)})),
                       vinfo(DType::kInt64, Shape({Dim(4)}))});
  EXPECT_EQ(out[0].shape, Shape({Dim(), Dim(), Dim(), Dim()}));
}

TEST(ResizeInfer, TorchOpset11ExportForm) {
  // torch.onnx.export of F.interpolate(x, size=y.shape[-2:], mode="bilinear") at opset 11:
  // Resize(x, roi=Constant([]), scales=Constant([]), sizes=Concat(Shape chains)).
  Tensor roi(DType::kFloat32, {0}), scales(DType::kFloat32, {0});
  std::vector<ops::ValueInfo> in = {vinfo(DType::kFloat32, Shape({Dim(1), Dim(3), sym("h"), sym("w")})),
                                    vinfo(DType::kFloat32, Shape({Dim(0)}), &roi),
                                    vinfo(DType::kFloat32, Shape({Dim(0)}), &scales),
                                    vinfo(DType::kInt64, Shape({Dim(4)}))};
  auto call = InferCall("Resize", 11);
  call.attr(attr_s("mode", "linear")).attr(attr_s("coordinate_transformation_mode", "half_pixel"));
  EXPECT_EQ(call.run(in)[0].shape, Shape({Dim(), Dim(), Dim(), Dim()}));
  Tensor sizes = Tensor::from_vector<int64_t>({4}, {1, 3, 16, 20});
  in[3].value = &sizes;
  EXPECT_EQ(call.run(in)[0].shape, Shape({Dim(1), Dim(3), Dim(16), Dim(20)}));
}

TEST(ResizeInfer, KnownScalesKeepSymbolsWhereScaleIsOne) {
  Tensor scales = Tensor::from_vector<float>({4}, {1, 1, 2, 2});
  auto out = InferCall("Resize", 11)
                 .run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(21), sym("h"), Dim(33)})),
                       vinfo(DType::kFloat32, Shape({Dim(0)})), vinfo(DType::kFloat32, Shape({Dim(4)}), &scales)});
  EXPECT_EQ(out[0].shape, Shape({sym("n"), Dim(21), Dim(), Dim(66)}));
}

TEST(ResizeInfer, UnknownScalesAndEmptySizes) {
  Tensor empty(DType::kInt64, {0});
  auto out = InferCall("Resize", 13)
                 .run({vinfo(DType::kFloat32, Shape({Dim(1), Dim(2), Dim(3), Dim(4)})), {},
                       vinfo(DType::kFloat32, Shape({Dim(4)})), vinfo(DType::kInt64, Shape({Dim(0)}), &empty)});
  EXPECT_EQ(out[0].shape, Shape({Dim(), Dim(), Dim(), Dim()}));
}

TEST(ResizeInfer, AxesLeaveOtherDimsAlone) {
  Tensor sizes = Tensor::from_vector<int64_t>({2}, {10, 20});
  auto out = InferCall("Resize", 18)
                 .attr(attr_ints("axes", {-2, -1}))
                 .run({vinfo(DType::kFloat32, Shape({sym("n"), sym("c"), sym("h"), sym("w")})), {}, {},
                       vinfo(DType::kInt64, Shape({Dim(2)}), &sizes)});
  EXPECT_EQ(out[0].shape, Shape({sym("n"), sym("c"), Dim(10), Dim(20)}));
}

TEST(ResizeInfer, ScalesFloorInFloat) {
  Tensor scales = Tensor::from_vector<float>({2}, {0.6f, 1.3f});
  auto out = InferCall("Resize", 10).run({vinfo(DType::kFloat32, Shape({Dim(5), Dim(3)})),
                                          vinfo(DType::kFloat32, Shape({Dim(2)}), &scales)});
  EXPECT_EQ(out[0].shape, Shape({Dim(3), Dim(3)}));  // floor(3.0000001) and floor(3.9)
}

TEST(ResizeInfer, UpsampleAttributeScales) {
  auto out = InferCall("Upsample", 7)
                 .attr(attr_floats("scales", {1, 1, 2, 2}))
                 .run({vinfo(DType::kFloat32, Shape({sym("n"), Dim(8), Dim(4), Dim(5)}))});
  EXPECT_EQ(out[0].shape, Shape({sym("n"), Dim(8), Dim(8), Dim(10)}));
}

TEST(Resize, NegativeAxesMatchPositive) {
  Tensor x = iota_tensor({1, 2, 3, 4});
  Tensor sizes = Tensor::from_vector<int64_t>({1}, {9});
  Tensor a = OpCall("Resize", 18).attr("mode", std::string("cubic")).attr("axes", std::vector<int64_t>{-1}).run1({x, {}, {}, sizes});
  Tensor b = OpCall("Resize", 18).attr("mode", std::string("cubic")).attr("axes", std::vector<int64_t>{3}).run1({x, {}, {}, sizes});
  ASSERT_EQ(a.dims(), b.dims());
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]);
}

TEST(Resize, UpsampleIsRemovedInOpset10) {
  const ops::OpSchema* s = ops::find_op("", "Upsample");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->removed_in, 10);
}

TEST(ResizeErrors, RejectsBadRequests) {
  Tensor x = iota_tensor({1, 1, 2, 2});
  Tensor scales = Tensor::from_vector<float>({4}, {1, 1, 2, 2});
  Tensor sizes = Tensor::from_vector<int64_t>({4}, {1, 1, 4, 4});
  Tensor short_scales = Tensor::from_vector<float>({2}, {2, 2});
  Tensor zero_scale = Tensor::from_vector<float>({4}, {1, 1, 0, 2});
  Tensor neg_sizes = Tensor::from_vector<int64_t>({4}, {1, 1, -4, 4});
  EXPECT_THROW(OpCall("Resize", 13).run({x, {}, scales, sizes}), Error);         // both given
  EXPECT_THROW(OpCall("Resize", 13).run({x}), Error);                            // neither given
  EXPECT_THROW(OpCall("Resize", 13).run({x, {}, short_scales}), Error);          // wrong length
  EXPECT_THROW(OpCall("Resize", 13).run({x, {}, zero_scale}), Error);            // scale 0
  EXPECT_THROW(OpCall("Resize", 13).run({x, {}, {}, neg_sizes}), Error);         // negative size
  EXPECT_THROW(OpCall("Resize", 13).attr("mode", std::string("area")).run({x, {}, scales}), Error);
  EXPECT_THROW(OpCall("Resize", 10).attr("mode", std::string("cubic")).run({x, scales}), Error);
  EXPECT_THROW(OpCall("Resize", 13)
                   .attr("coordinate_transformation_mode", std::string("tf_crop_and_resize"))
                   .run({x, {}, scales}),
               Error);  // roi missing
  EXPECT_THROW(OpCall("Resize", 18)
                   .attr("coordinate_transformation_mode", std::string("half_pixel_symmetric"))
                   .run({x, {}, scales}),
               Error);  // needs opset 19
  Tensor empty_in(DType::kFloat32, {1, 1, 0, 2});
  EXPECT_THROW(OpCall("Resize", 13).run({empty_in, {}, {}, sizes}), Error);  // nothing to sample from
}

TEST(ResizeErrors, StringInputIsUnsupported) {
  Tensor x(DType::kString, {1, 2});
  Tensor scales = Tensor::from_vector<float>({2}, {1, 2});
  try {
    OpCall("Resize", 13).run({x, {}, scales});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
}
