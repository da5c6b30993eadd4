// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear: rounding (half to even), saturation, per-axis
// and blocked scales, output types; expected values worked out by hand from the ONNX formulas.

#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::OpCall;

namespace {

template <typename T> std::vector<T> values(const Tensor& t) { return std::vector<T>(t.data<T>(), t.data<T>() + t.numel()); }

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturates) {
  Tensor x = Tensor::from_vector<float>({7}, {0.5f, 1.5f, 2.5f, -0.5f, 300.0f, -10.0f, 3.49f});
  Tensor y = OpCall("QuantizeLinear", 13).run1({x, Tensor::scalar<float>(1.0f)});
  ASSERT_EQ(y.dtype(), DType::kUInt8);  // no zero point: uint8
  EXPECT_EQ(values<uint8_t>(y), (std::vector<uint8_t>{0, 2, 2, 0, 255, 0, 3}));
  Tensor yi = OpCall("QuantizeLinear", 13).run1({x, Tensor::scalar<float>(0.5f), Tensor::scalar<int8_t>(-3)});
  // x / 0.5 = 1, 3, 5, -1, 600, -20, 6.98 → +(-3): -2, 0, 2, -4, 127 (sat), -23, 4
  EXPECT_EQ(values<int8_t>(yi), (std::vector<int8_t>{-2, 0, 2, -4, 127, -23, 4}));
}

TEST(QuantizeLinear, SixteenBitAndOutputDtype) {
  Tensor x = Tensor::from_vector<float>({3}, {-70000.0f, 1.0f, 70000.0f});
  Tensor y = OpCall("QuantizeLinear", 21).run1({x, Tensor::scalar<float>(1.0f), Tensor::scalar<int16_t>(0)});
  EXPECT_EQ(values<int16_t>(y), (std::vector<int16_t>{-32768, 1, 32767}));
  Tensor yu = OpCall("QuantizeLinear", 21).run1({x, Tensor::scalar<float>(1.0f), Tensor::scalar<uint16_t>(5)});
  EXPECT_EQ(values<uint16_t>(yu), (std::vector<uint16_t>{0, 6, 65535}));
  Tensor yd = OpCall("QuantizeLinear", 21).attr("output_dtype", int64_t{3}).run1({x, Tensor::scalar<float>(1000.0f)});
  ASSERT_EQ(yd.dtype(), DType::kInt8);
  EXPECT_EQ(values<int8_t>(yd), (std::vector<int8_t>{-70, 0, 70}));
}

TEST(QuantizeLinear, PerAxisAndBlocked) {
  // x [2, 3]; axis 0: scales per row; axis -1: per column.
  Tensor x = Tensor::from_vector<float>({2, 3}, {2, 4, 6, 8, 10, 12});
  Tensor s0 = Tensor::from_vector<float>({2}, {2, 4}), z0 = Tensor::from_vector<uint8_t>({2}, {10, 20});
  Tensor y0 = OpCall("QuantizeLinear", 13).attr("axis", int64_t{0}).run1({x, s0, z0});
  EXPECT_EQ(values<uint8_t>(y0), (std::vector<uint8_t>{11, 12, 13, 22, 22, 23}));  // 10/4 = 2.5 → 2; 12/4 = 3
  Tensor s1 = Tensor::from_vector<float>({3}, {1, 2, 4});
  Tensor y1 = OpCall("QuantizeLinear", 13).attr("axis", int64_t{-1}).run1({x, s1});
  EXPECT_EQ(values<uint8_t>(y1), (std::vector<uint8_t>{2, 2, 2, 8, 5, 3}));
  // Blocked along axis 1 with block_size 2: scale [2, 2] (ceil(3/2) = 2 blocks per row).
  Tensor sb = Tensor::from_vector<float>({2, 2}, {1, 3, 2, 6});
  Tensor yb = OpCall("QuantizeLinear", 21).attr("axis", int64_t{1}).attr("block_size", int64_t{2}).run1({x, sb});
  EXPECT_EQ(values<uint8_t>(yb), (std::vector<uint8_t>{2, 4, 2, 4, 5, 2}));
  Tensor bad = Tensor::from_vector<float>({4}, {1, 1, 1, 1});
  EXPECT_THROW(OpCall("QuantizeLinear", 13).run1({x, bad}), Error);
  EXPECT_THROW(OpCall("QuantizeLinear", 13).attr("axis", int64_t{2}).run1({x, s1}), Error);
}

TEST(DequantizeLinear, TypesAxesAndBlocks) {
  Tensor x = Tensor::from_vector<int8_t>({2, 2}, {-128, 0, 5, 127});
  Tensor y = OpCall("DequantizeLinear", 13).run1({x, Tensor::scalar<float>(0.5f), Tensor::scalar<int8_t>(1)});
  ASSERT_EQ(y.dtype(), DType::kFloat32);
  EXPECT_EQ(values<float>(y), (std::vector<float>{-64.5f, -0.5f, 2.0f, 63.0f}));
  Tensor s = Tensor::from_vector<float>({2}, {1.0f, 10.0f});
  Tensor ya = OpCall("DequantizeLinear", 13).attr("axis", int64_t{1}).run1({x, s});
  EXPECT_EQ(values<float>(ya), (std::vector<float>{-128, 0, 5, 1270}));
  Tensor i32 = Tensor::from_vector<int32_t>({2}, {-100000, 7});
  EXPECT_EQ(values<float>(OpCall("DequantizeLinear", 10).run1({i32, Tensor::scalar<float>(2.0f)})),
            (std::vector<float>{-200000, 14}));
  // float16 scale → float16 output (opset 19).
  Tensor yh = OpCall("DequantizeLinear", 19).run1({x, Tensor::scalar<Float16>(Float16(0.25f))});
  ASSERT_EQ(yh.dtype(), DType::kFloat16);
  EXPECT_EQ(static_cast<float>(yh.data<Float16>()[3]), 31.75f);
  // Blocked: x [1, 4], blocks of 3 along axis 1 → scale [1, 2].
  Tensor xb = Tensor::from_vector<uint8_t>({1, 4}, {1, 2, 3, 4});
  Tensor sb = Tensor::from_vector<float>({1, 2}, {2, 100}), zb = Tensor::from_vector<uint8_t>({1, 2}, {1, 3});
  Tensor yb = OpCall("DequantizeLinear", 21).attr("axis", int64_t{1}).attr("block_size", int64_t{3}).run1({xb, sb, zb});
  EXPECT_EQ(values<float>(yb), (std::vector<float>{0, 2, 4, 100}));
  Tensor badz = Tensor::from_vector<int8_t>({2}, {0, 0});
  EXPECT_THROW(OpCall("DequantizeLinear", 13).run1({x, Tensor::scalar<float>(1.0f), badz}), Error);
}

TEST(DynamicQuantizeLinear, RangeIncludesZero) {
  std::vector<float> v = {-1.0f, 0.2f, 2.5f, 3.0f, -0.3f, 1.1f};
  auto out = OpCall("DynamicQuantizeLinear", 11).outputs(3).run({Tensor::from_vector<float>({2, 3}, v)});
  const float scale = (3.0f - -1.0f) / 255.0f;
  const float zp = std::nearbyint(1.0f / scale);  // 0 - min / scale
  EXPECT_FLOAT_EQ(out[1].data<float>()[0], scale);
  EXPECT_EQ(out[2].data<uint8_t>()[0], static_cast<uint8_t>(zp));
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_EQ(out[0].data<uint8_t>()[i],
              static_cast<uint8_t>(std::clamp(std::nearbyint(v[i] / scale) + zp, 0.0f, 255.0f))) << i;
  // All-positive input: min is taken as 0, so the zero point is 0.
  auto pos = OpCall("DynamicQuantizeLinear", 11).outputs(3).run({Tensor::from_vector<float>({2}, {1.0f, 2.0f})});
  EXPECT_EQ(pos[2].data<uint8_t>()[0], 0);
  EXPECT_EQ(pos[0].data<uint8_t>()[1], 255);
  // All zeros: scale 0, everything quantizes to 0 (no division by zero).
  auto zero = OpCall("DynamicQuantizeLinear", 11).outputs(3).run({Tensor::from_vector<float>({2}, {0.0f, 0.0f})});
  EXPECT_EQ(zero[1].data<float>()[0], 0.0f);
  EXPECT_EQ(zero[0].data<uint8_t>()[0], 0);
}

}  // namespace
