// Malformed inputs for the normalization, reduction, resize, grid, loss and signal families: each must
// either run or throw kiln::Error, never crash or throw anything else. (Run under the ASan/UBSan preset to
// make "never crash" mean something.)

#include "op_fixture.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

Tensor filled_f32(std::vector<int64_t> dims, float v = 0.5f) {
  Tensor t(DType::kFloat32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v;
  return t;
}
Tensor i64s(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }
Tensor i64(int64_t v) { return Tensor::scalar<int64_t>(v); }

/// Runs the call; kiln::Error is an acceptable answer, anything else fails the test.
void survives(OpCall call, const std::vector<Tensor>& inputs, const char* what) {
  try {
    call.run(inputs);
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-kiln exception: " << e.what();
  }
}

}  // namespace

TEST(BadInput, Reductions) {
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceLogSumExp", "ReduceL2"}) {
    survives(OpCall(op, 11).attr("axes", std::vector<int64_t>{0}), {filled_f32({})}, op);
    survives(OpCall(op, 18), {filled_f32({2, 3}), filled_f32({1})}, op);                       // float axes
    survives(OpCall(op, 18), {filled_f32({2, 3}), Tensor(DType::kInt64, {1, 1})}, op);  // 2-D axes
    survives(OpCall(op, 18), {filled_f32({0, 3}), i64s({0})}, op);
    survives(OpCall(op, 18), {filled_f32({0, 3})}, op);
    survives(OpCall(op, 18).attr("keepdims", int64_t{0}), {filled_f32({}), i64s({})}, op);
  }
  survives(OpCall("ArgMax", 13), {filled_f32({})}, "ArgMax scalar");
  survives(OpCall("ArgMin", 13).attr("axis", int64_t{5}), {filled_f32({2})}, "ArgMin axis");
  survives(OpCall("TopK", 11).outputs(2), {filled_f32({}), i64s({1})}, "TopK scalar");
  survives(OpCall("TopK", 11).outputs(2), {filled_f32({3}), Tensor(DType::kInt64, {1, 1})}, "TopK 2-D K");
  survives(OpCall("TopK", 11).outputs(2), {filled_f32({3}), filled_f32({1})}, "TopK float K");
  survives(OpCall("TopK", 11).outputs(2), {filled_f32({0}), i64s({0})}, "TopK empty");
  survives(OpCall("TopK", 1).attr("k", int64_t{-2}).outputs(2), {filled_f32({3})}, "TopK-1 negative k");
  survives(OpCall("CumSum", 14), {filled_f32({}), i64(0)}, "CumSum scalar");
  survives(OpCall("CumSum", 14), {filled_f32({0, 2}), i64(1)}, "CumSum empty");
  survives(OpCall("Softmax", 13), {filled_f32({})}, "Softmax scalar");
  survives(OpCall("Softmax", 11).attr("axis", int64_t{-9}), {filled_f32({2, 2})}, "Softmax axis");
  survives(OpCall("Hardmax", 11), {filled_f32({2, 0})}, "Hardmax empty");
  survives(OpCall("Det", 11), {filled_f32({2, 3})}, "Det non-square");
  survives(OpCall("Det", 11), {filled_f32({4})}, "Det rank 1");
}

TEST(BadInput, Normalizations) {
  Tensor p3 = filled_f32({3}), p2 = filled_f32({2});
  survives(OpCall("BatchNormalization", 15), {filled_f32({}), p3, p3, p3, p3}, "BN scalar");
  survives(OpCall("BatchNormalization", 15), {filled_f32({2, 3, 4}), p2, p3, p3, p3}, "BN param count");
  survives(OpCall("BatchNormalization", 7).attr("spatial", int64_t{0}), {filled_f32({2, 3, 4}), p3, p3, p3, p3}, "BN spatial0");
  survives(OpCall("BatchNormalization", 15), {filled_f32({2, 3}, 1), p3, p3, p3, filled_f32({3}, -5)}, "BN negative var");
  survives(OpCall("InstanceNormalization", 6), {filled_f32({3}), p3, p3}, "IN rank 1");
  survives(OpCall("InstanceNormalization", 6), {filled_f32({1, 3, 0}), p3, p3}, "IN empty spatial");
  survives(OpCall("LayerNormalization", 17).attr("axis", int64_t{3}), {filled_f32({2, 3}), p3}, "LN axis");
  survives(OpCall("LayerNormalization", 17), {filled_f32({2, 3}), filled_f32({2, 2, 3})}, "LN scale rank");
  survives(OpCall("LayerNormalization", 17), {filled_f32({2, 3}), filled_f32({2, 1})}, "LN scale over rows");
  survives(OpCall("LayerNormalization", 17).attr("stash_type", int64_t{7}), {filled_f32({2, 3}), p3}, "LN stash");
  survives(OpCall("LayerNormalization", 17).outputs(3), {filled_f32({2, 0}), filled_f32({0})}, "LN empty");
  survives(OpCall("GroupNormalization", 21).attr("num_groups", int64_t{2}), {filled_f32({4}), p2, p2}, "GN rank 1");
  survives(OpCall("GroupNormalization", 18).attr("num_groups", int64_t{2}), {filled_f32({1, 4, 2}), p3, p3}, "GN params");
  survives(OpCall("LpNormalization", 1).attr("axis", int64_t{2}), {filled_f32({2, 2})}, "LpNorm axis");
  survives(OpCall("LRN", 13).attr("size", int64_t{-1}), {filled_f32({1, 2, 2})}, "LRN size");
  survives(OpCall("MeanVarianceNormalization", 13).attr("axes", std::vector<int64_t>{1, 1}), {filled_f32({2, 2})}, "MVN dup");
}

TEST(BadInput, ResizeAndGrids) {
  Tensor x = filled_f32({1, 1, 2, 2});
  survives(OpCall("Resize", 13), {filled_f32({}), Tensor(), filled_f32({0})}, "Resize scalar");
  survives(OpCall("Resize", 13), {x, Tensor(), Tensor::from_vector<float>({4}, {1, 1, NAN, 2})}, "Resize NaN scale");
  survives(OpCall("Resize", 13), {x, Tensor(), Tensor::from_vector<float>({4}, {1, 1, INFINITY, 2})}, "Resize inf");
  survives(OpCall("Resize", 13), {x, Tensor(), Tensor::from_vector<float>({4}, {1, 1, 1e-30f, 2})}, "Resize tiny");
  survives(OpCall("Resize", 13), {x, Tensor(), Tensor(), Tensor::from_vector<int64_t>({4}, {1, 1, 0, 3})}, "Resize to 0");
  survives(OpCall("Resize", 13), {x, Tensor(), filled_f32({4}, 1), i64s({1, 1, 2, 2})}, "Resize both");
  survives(OpCall("Resize", 13).attr("coordinate_transformation_mode", std::string("tf_crop_and_resize")),
           {x, filled_f32({3}), filled_f32({4}, 2)}, "Resize short roi");
  survives(OpCall("Resize", 13)
               .attr("mode", std::string("cubic"))
               .attr("coordinate_transformation_mode", std::string("tf_crop_and_resize")),
           {x, Tensor::from_vector<float>({8}, {0, 0, -1e30f, NAN, 1, 1, 1e30f, 2}), filled_f32({4}, 2)}, "Resize wild roi");
  survives(OpCall("Resize", 18).attr("mode", std::string("linear")).attr("antialias", int64_t{1}),
           {filled_f32({1, 1, 64, 64}), Tensor(), Tensor::from_vector<float>({4}, {1, 1, 1.0f / 64, 1.0f / 64})}, "Resize aa");
  survives(OpCall("Resize", 18).attr("axes", std::vector<int64_t>{2, 2}), {x, Tensor(), filled_f32({2}, 2)}, "Resize dup axes");
  survives(OpCall("Resize", 18).attr("keep_aspect_ratio_policy", std::string("not_larger")),
           {filled_f32({1, 0, 2}), Tensor(), Tensor(), i64s({1, 2, 4})}, "Resize keep ratio zero dim");
  survives(OpCall("Upsample", 7), {x}, "Upsample missing scales");
  survives(OpCall("Upsample", 9), {x}, "Upsample missing input");

  Tensor grid = Tensor::from_vector<float>({1, 1, 3, 2}, {INFINITY, -INFINITY, 1e30f, NAN, -1e30f, 3});
  for (const char* mode : {"nearest", "linear", "cubic"})
    for (const char* pad : {"zeros", "border", "reflection"})
      for (int64_t align : {0, 1})
        survives(OpCall("GridSample", 20).attr("mode", std::string(mode)).attr("padding_mode", std::string(pad)).attr("align_corners", align),
                 {filled_f32({1, 2, 1, 1}), grid}, "GridSample wild grid");
  survives(OpCall("GridSample", 20), {filled_f32({1, 1, 0, 3}), filled_f32({1, 2, 2, 2})}, "GridSample empty input");
  survives(OpCall("GridSample", 20), {filled_f32({1, 1}), filled_f32({1, 2})}, "GridSample rank 2");
  survives(OpCall("AffineGrid", 20), {filled_f32({1, 2, 3}), i64s({1, 1, 2})}, "AffineGrid short size");
  survives(OpCall("AffineGrid", 20), {filled_f32({1, 2, 3}), i64s({1, 1, -2, 2})}, "AffineGrid negative size");
  survives(OpCall("AffineGrid", 20), {filled_f32({1, 2, 3}), filled_f32({4})}, "AffineGrid float size");
}

TEST(BadInput, LossesAndSignals) {
  survives(OpCall("NegativeLogLikelihoodLoss", 13), {filled_f32({3}), i64s({0, 0, 0})}, "NLL rank 1");
  survives(OpCall("NegativeLogLikelihoodLoss", 13), {filled_f32({2, 3}), i64s({0, 1}), filled_f32({2})}, "NLL weight size");
  survives(OpCall("SoftmaxCrossEntropyLoss", 13), {filled_f32({2, 3}), filled_f32({2})}, "SCE float labels");
  survives(OpCall("SoftmaxCrossEntropyLoss", 13).attr("reduction", std::string("none")), {filled_f32({0, 3}), Tensor(DType::kInt64, {0})},
           "SCE empty");
  survives(OpCall("DFT", 17), {filled_f32({4})}, "DFT rank 1");
  survives(OpCall("DFT", 17), {filled_f32({1, 4, 1}), i64(-3)}, "DFT negative length");
  survives(OpCall("DFT", 20), {filled_f32({1, 4, 1}), Tensor(), Tensor(DType::kInt64, {2})}, "DFT 1-D axis");
  survives(OpCall("DFT", 17).attr("inverse", int64_t{1}).attr("onesided", int64_t{1}), {filled_f32({1, 1, 2})}, "IRFFT len 0");
  survives(OpCall("STFT", 17), {filled_f32({4, 1}), i64(1)}, "STFT rank 2");
  survives(OpCall("STFT", 17), {filled_f32({1, 8, 1}), i64(0)}, "STFT step 0");
  survives(OpCall("STFT", 17), {filled_f32({1, 8, 1}), i64(1), filled_f32({2, 2})}, "STFT 2-D window");
  survives(OpCall("STFT", 17), {filled_f32({1, 8, 1}), i64(1), Tensor(), i64(0)}, "STFT zero frame");
  survives(OpCall("HannWindow", 17), {filled_f32({})}, "Hann float size");
  survives(OpCall("HannWindow", 17), {i64s({3, 4})}, "Hann 1-D size");
  survives(OpCall("HannWindow", 17).attr("output_datatype", int64_t{99}), {i64(3)}, "Hann bad type");
  survives(OpCall("HannWindow", 17), {i64(0)}, "Hann empty");
  for (int64_t bins : {0, 3})
    for (int64_t dft : {0, 16})
      for (int64_t rate : {0, 8000})
        survives(OpCall("MelWeightMatrix", 17),
                 {i64(bins), i64(dft), i64(rate), Tensor::scalar<float>(5000), Tensor::scalar<float>(-100)}, "Mel");
}
