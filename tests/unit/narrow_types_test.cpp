// The narrow element types (float8 x5, float4e2m1, int4/uint4, int2/uint2): bit patterns and rounding against
// the values the formats define (onnx.proto, the Cast tables, the OCP 8-bit float spec), ONNX's packed
// TensorProto form, and Cast / CastLike / QuantizeLinear / DequantizeLinear on them.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ir/narrow_types.h"
#include "onnx/npy.h"
#include "onnx/tensor_io.h"
#include "onnx/wire.h"
#include "onnx_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::expect_error;
using kiln::testing::OpCall;
using kiln::testing::ProtoBuilder;
using kiln::testing::TempDir;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

uint8_t enc(DType t, double v, bool saturate = true) { return narrow_float_from(t, v, saturate); }

// A tensor of narrow type `t` holding these bytes (kiln's one-byte-per-element form).
Tensor narrow_tensor(DType t, std::vector<int64_t> dims, const std::vector<uint8_t>& bytes) {
  Tensor x(t, std::move(dims));
  EXPECT_EQ(static_cast<size_t>(x.numel()), bytes.size());
  std::copy(bytes.begin(), bytes.end(), static_cast<uint8_t*>(x.raw_data()));
  return x;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  return {p, p + t.numel()};
}

// ---- values of bit patterns ----

TEST(NarrowTypes, Float8E4M3FNBitPatterns) {
  const DType t = DType::kFloat8E4M3FN;
  EXPECT_EQ(narrow_float_value(t, 0x7E), 448.0f);  // the largest finite value
  EXPECT_EQ(narrow_float_value(t, 0xFE), -448.0f);
  EXPECT_EQ(narrow_float_value(t, 0x38), 1.0f);
  EXPECT_EQ(narrow_float_value(t, 0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(narrow_float_value(t, 0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_TRUE(std::signbit(narrow_float_value(t, 0x80)));         // -0
  EXPECT_TRUE(std::isnan(narrow_float_value(t, 0x7F)));
  EXPECT_TRUE(std::isnan(narrow_float_value(t, 0xFF)));
  EXPECT_EQ(narrow_float_max(t), 448.0);
}

TEST(NarrowTypes, Float8FnuzAndE5M2BitPatterns) {
  EXPECT_TRUE(std::isnan(narrow_float_value(DType::kFloat8E4M3FNUZ, 0x80)));  // the only NaN, no -0
  EXPECT_EQ(narrow_float_value(DType::kFloat8E4M3FNUZ, 0x7F), 240.0f);
  EXPECT_EQ(narrow_float_value(DType::kFloat8E4M3FNUZ, 0x40), 1.0f);  // bias 8
  EXPECT_EQ(narrow_float_value(DType::kFloat8E4M3FNUZ, 0x01), std::ldexp(1.0f, -10));
  EXPECT_EQ(narrow_float_value(DType::kFloat8E5M2, 0x7B), 57344.0f);
  EXPECT_EQ(narrow_float_value(DType::kFloat8E5M2, 0x7C), INFINITY);
  EXPECT_EQ(narrow_float_value(DType::kFloat8E5M2, 0xFC), -INFINITY);
  EXPECT_TRUE(std::isnan(narrow_float_value(DType::kFloat8E5M2, 0x7D)));
  EXPECT_EQ(narrow_float_value(DType::kFloat8E5M2, 0x3C), 1.0f);
  EXPECT_EQ(narrow_float_value(DType::kFloat8E5M2, 0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(narrow_float_value(DType::kFloat8E5M2FNUZ, 0x7F), 57344.0f);
  EXPECT_EQ(narrow_float_value(DType::kFloat8E5M2FNUZ, 0x40), 1.0f);  // bias 16
  EXPECT_TRUE(std::isnan(narrow_float_value(DType::kFloat8E5M2FNUZ, 0x80)));
}

TEST(NarrowTypes, Float4E2M1AndE8M0BitPatterns) {
  const float e2m1[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (uint8_t c = 0; c < 8; ++c) {
    EXPECT_EQ(narrow_float_value(DType::kFloat4E2M1, c), e2m1[c]) << int(c);
    EXPECT_EQ(narrow_float_value(DType::kFloat4E2M1, c | 8), -e2m1[c]) << int(c);
  }
  EXPECT_EQ(narrow_float_value(DType::kFloat4E2M1, 0xF7), 6.0f);  // the high nibble is not part of the value
  EXPECT_EQ(narrow_float_value(DType::kFloat8E8M0, 127), 1.0f);
  EXPECT_EQ(narrow_float_value(DType::kFloat8E8M0, 0), std::ldexp(1.0f, -127));
  EXPECT_EQ(narrow_float_value(DType::kFloat8E8M0, 254), std::ldexp(1.0f, 127));
  EXPECT_TRUE(std::isnan(narrow_float_value(DType::kFloat8E8M0, 255)));
}

TEST(NarrowTypes, EveryFiniteCodeRoundTrips) {
  for (DType t : {DType::kFloat8E4M3FN, DType::kFloat8E4M3FNUZ, DType::kFloat8E5M2, DType::kFloat8E5M2FNUZ,
                  DType::kFloat4E2M1, DType::kFloat8E8M0}) {
    const int codes = t == DType::kFloat4E2M1 ? 16 : 256;
    for (int c = 0; c < codes; ++c) {
      const float v = narrow_float_value(t, static_cast<uint8_t>(c));
      if (std::isnan(v) || std::isinf(v)) continue;
      // e8m0's 2^-127 is subnormal in float, whose nonzero fraction bits the ONNX rule rounds up.
      if (t == DType::kFloat8E8M0 && c == 0) continue;
      EXPECT_EQ(enc(t, v, false), c) << dtype_name(t) << " code " << c << " value " << v;
    }
  }
}

// ---- rounding and overflow ----

TEST(NarrowTypes, RoundsHalfToEven) {
  const DType t = DType::kFloat8E4M3FN;  // 3 mantissa bits: the step above 1 is 1/8
  EXPECT_EQ(enc(t, 1.0 + 1.0 / 16), 0x38);        // tie between 1 and 1.125: to even (1)
  EXPECT_EQ(enc(t, 1.125 + 1.0 / 16), 0x3A);      // tie between 1.125 and 1.25: to even (1.25)
  EXPECT_EQ(enc(t, 1.0 + 1.0 / 16 + 1e-9), 0x39);  // just above the tie: up
  EXPECT_EQ(enc(t, std::ldexp(1.0, -10)), 0x00);  // half the smallest subnormal: to even (0)
  EXPECT_EQ(enc(t, 3 * std::ldexp(1.0, -10)), 0x02);  // 1.5 subnormal steps: to even (2)
  EXPECT_EQ(enc(t, 0.47892547), 0x2F);  // 0.46875 (numpy/ml_dtypes give the same)
  EXPECT_EQ(enc(DType::kFloat8E5M2, 0.47892547), 0x38);  // 0.5
  EXPECT_EQ(enc(DType::kFloat4E2M1, 2.5), 0x4);  // tie between 2 and 3: to even (2)
  EXPECT_EQ(enc(DType::kFloat4E2M1, 5.0), 0x6);  // tie between 4 and 6: to even (4)
  EXPECT_EQ(enc(DType::kFloat4E2M1, 0.25), 0x0);  // tie between 0 and 0.5: to even (0)
}

TEST(NarrowTypes, SaturateClampsOtherwiseInfOrNaN) {
  // 464 is the tie between 448 (mantissa 110) and 480 (111, beyond max): to even, so no overflow; 480 overflows.
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, 460), 0x7E);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, 464, false), 0x7E);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, 480, true), 0x7E);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, 480, false), 0x7F);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, -1e6, false), 0xFF);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, kInf, true), 0x7E);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, -kInf, true), 0xFE);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, kInf, false), 0x7F);
  EXPECT_EQ(enc(DType::kFloat8E5M2, 1e6, true), 0x7B);
  EXPECT_EQ(enc(DType::kFloat8E5M2, 1e6, false), 0x7C);
  EXPECT_EQ(enc(DType::kFloat8E5M2, -kInf, false), 0xFC);
  EXPECT_EQ(enc(DType::kFloat8E5M2, 61440, false), 0x7C);  // tie between max and 65536: up, so inf
  EXPECT_EQ(enc(DType::kFloat8E4M3FNUZ, 250, true), 0x7F);
  EXPECT_EQ(enc(DType::kFloat8E4M3FNUZ, 250, false), 0x80);
  EXPECT_EQ(enc(DType::kFloat8E5M2FNUZ, -kInf, false), 0x80);
  EXPECT_EQ(enc(DType::kFloat4E2M1, 1e6, false), 0x7);  // no inf or NaN: always saturates
  EXPECT_EQ(enc(DType::kFloat4E2M1, -kInf, false), 0xF);
}

TEST(NarrowTypes, NaNAndZeros) {
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, kNaN), 0x7F);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, -kNaN), 0xFF);
  EXPECT_EQ(enc(DType::kFloat8E5M2, kNaN), 0x7E);
  EXPECT_EQ(enc(DType::kFloat8E4M3FNUZ, kNaN), 0x80);
  EXPECT_EQ(enc(DType::kFloat8E5M2FNUZ, -kNaN), 0x80);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, -0.0), 0x80);
  EXPECT_EQ(enc(DType::kFloat8E4M3FN, -1e-7), 0x80);  // underflows to -0
  EXPECT_EQ(enc(DType::kFloat8E4M3FNUZ, -0.0), 0x00);  // no -0: 0x80 is NaN
  EXPECT_EQ(enc(DType::kFloat8E5M2FNUZ, -1e-7), 0x00);
  EXPECT_EQ(enc(DType::kFloat4E2M1, -0.1), 0x8);
  EXPECT_EQ(enc(DType::kFloat4E2M1, kNaN), 0x8);  // what ONNX's reference (ml_dtypes) gives
}

TEST(NarrowTypes, E8M0RoundingModes) {
  auto e8 = [](double v, E8M0Rounding r, bool saturate = true) {
    return narrow_float_from(DType::kFloat8E8M0, v, saturate, r);
  };
  EXPECT_EQ(e8(1.0, E8M0Rounding::kUp), 127);
  EXPECT_EQ(e8(1.1, E8M0Rounding::kUp), 128);
  EXPECT_EQ(e8(1.9, E8M0Rounding::kDown), 127);
  EXPECT_EQ(e8(1.4, E8M0Rounding::kNearest), 127);
  EXPECT_EQ(e8(1.5, E8M0Rounding::kNearest), 128);  // ties up
  EXPECT_EQ(e8(0.124, E8M0Rounding::kUp), 124);     // 0.125 = 2^-3
  EXPECT_EQ(e8(0.0, E8M0Rounding::kUp), 0);
  EXPECT_EQ(e8(kInf, E8M0Rounding::kUp), 255);
  EXPECT_EQ(e8(1.5 * std::ldexp(1.0, 127), E8M0Rounding::kUp, true), 254);  // saturates at 2^127
  EXPECT_EQ(e8(1.5 * std::ldexp(1.0, 127), E8M0Rounding::kUp, false), 255);
  E8M0Rounding r;
  EXPECT_TRUE(parse_e8m0_rounding("nearest", r));
  EXPECT_EQ(r, E8M0Rounding::kNearest);
  EXPECT_FALSE(parse_e8m0_rounding("even", r));
}

TEST(NarrowTypes, IntegersKeepTheLowBits) {
  EXPECT_EQ(narrow_int_value(DType::kInt4, 0x0F), -1);
  EXPECT_EQ(narrow_int_value(DType::kInt4, 0x08), -8);
  EXPECT_EQ(narrow_int_value(DType::kInt4, 0xF7), 7);  // bits above the nibble do not count
  EXPECT_EQ(narrow_int_value(DType::kUInt4, 0xFF), 15);
  EXPECT_EQ(narrow_int_value(DType::kInt2, 0x02), -2);
  EXPECT_EQ(narrow_int_value(DType::kUInt2, 0x07), 3);
  EXPECT_EQ(narrow_int_from(DType::kInt4, 9), static_cast<uint8_t>(-7));  // sign-extended byte
  EXPECT_EQ(narrow_int_from(DType::kInt4, -9), 7);
  EXPECT_EQ(narrow_int_from(DType::kUInt4, -1), 15);
  EXPECT_EQ(narrow_int_from(DType::kInt2, 3), static_cast<uint8_t>(-1));
  EXPECT_EQ(dtype_size(DType::kInt4), 1u);
  EXPECT_EQ(dtype_packed_bits(DType::kInt4), 4u);
  EXPECT_EQ(dtype_packed_bits(DType::kUInt2), 2u);
  EXPECT_EQ(dtype_packed_bits(DType::kFloat8E4M3FN), 8u);
  EXPECT_FALSE(dtype_is_supported(DType::kFloat6E2M3));
  EXPECT_EQ(dtype_name(DType::kFloat8E8M0), "float8e8m0");
}

// ---- TensorProto: packed form ----

std::vector<uint8_t> tensor_proto(DType t, const std::vector<int64_t>& dims,
                                  const std::function<void(onnx::WireWriter&)>& data) {
  return ProtoBuilder::tensor(dims, static_cast<int32_t>(t), "x", data);
}

TEST(NarrowTensorProto, Int4PacksTwoPerByteLowNibbleFirst) {
  // 5 elements: 1, -2, 7, -8, 3 -> bytes 0xE1, 0x87, 0x03 (the last high nibble is padding).
  auto proto = tensor_proto(DType::kInt4, {5}, [](onnx::WireWriter& w) {
    w.bytes_field(9, std::vector<uint8_t>{0xE1, 0x87, 0x03});
  });
  Tensor t = onnx::parse_tensor(proto);
  ASSERT_EQ(t.dtype(), DType::kInt4);
  EXPECT_EQ(t.to_int64_vector(), (std::vector<int64_t>{1, -2, 7, -8, 3}));
  Tensor back = onnx::parse_tensor(onnx::serialize_tensor(t, "x"));
  EXPECT_EQ(bytes_of(back), bytes_of(t));
  EXPECT_EQ(onnx::serialize_tensor(t, "x"), proto);  // same fields in the same order, padding 0
}

TEST(NarrowTensorProto, PackedFromInt32Data) {
  // int32_data holds one packed byte per entry for 4- and 2-bit types.
  auto u2 = tensor_proto(DType::kUInt2, {6}, [](onnx::WireWriter& w) {
    w.packed_varints(5, std::vector<int64_t>{0b11100100, 0b0001});  // 0,1,2,3 | 1,0
  });
  EXPECT_EQ(onnx::parse_tensor(u2).to_int64_vector(), (std::vector<int64_t>{0, 1, 2, 3, 1, 0}));
  auto i2 = tensor_proto(DType::kInt2, {3}, [](onnx::WireWriter& w) {
    w.packed_varints(5, std::vector<int64_t>{0b101110});  // 2,3,2 -> -2,-1,-2
  });
  EXPECT_EQ(onnx::parse_tensor(i2).to_int64_vector(), (std::vector<int64_t>{-2, -1, -2}));
  auto f8 = tensor_proto(DType::kFloat8E4M3FN, {2}, [](onnx::WireWriter& w) {
    w.packed_varints(5, std::vector<int64_t>{0x7E, 0xB8});  // one element per entry
  });
  Tensor f = onnx::parse_tensor(f8);
  EXPECT_EQ(f.double_at(0), 448.0);
  EXPECT_EQ(f.double_at(1), -1.0);
}

TEST(NarrowTensorProto, LengthsAreCheckedAgainstDims) {
  for (size_t n : {2u, 4u}) {  // 5 int4 elements need exactly 3 bytes
    auto proto = tensor_proto(DType::kInt4, {5}, [&](onnx::WireWriter& w) { w.bytes_field(9, std::vector<uint8_t>(n)); });
    expect_error([&] { onnx::parse_tensor(proto); }, ErrorCode::kInvalidModel,
                 {"raw_data holds", "need 3", "two elements per byte"});
  }
  auto u2 = tensor_proto(DType::kUInt2, {5}, [](onnx::WireWriter& w) { w.packed_varints(5, std::vector<int64_t>{1}); });
  expect_error([&] { onnx::parse_tensor(u2); }, ErrorCode::kInvalidModel, {"int32_data holds 1 entries", "need 2"});
  auto f8 = tensor_proto(DType::kFloat8E5M2, {3}, [](onnx::WireWriter& w) { w.bytes_field(9, std::vector<uint8_t>(2)); });
  expect_error([&] { onnx::parse_tensor(f8); }, ErrorCode::kInvalidModel, {"holds 2 bytes", "need 3"});
  // A huge dim must not turn into a huge allocation or an overread.
  auto huge = tensor_proto(DType::kInt4, {int64_t{1} << 62}, [](onnx::WireWriter& w) {
    w.bytes_field(9, std::vector<uint8_t>(3));
  });
  expect_error([&] { onnx::parse_tensor(huge); }, ErrorCode::kInvalidModel, {"raw_data holds 3 bytes"});
}

TEST(NarrowNpy, WrittenOneBytePerElement) {
  TempDir dir;
  onnx::write_npy(dir / "i4.npy", narrow_tensor(DType::kInt4, {3}, {0xF9, 0x07, 0x08}));
  Tensor i4 = onnx::read_npy(dir / "i4.npy");
  ASSERT_EQ(i4.dtype(), DType::kInt8);  // the values, as int8
  EXPECT_EQ(i4.to_int64_vector(), (std::vector<int64_t>{-7, 7, -8}));
  onnx::write_npy(dir / "f8.npy", narrow_tensor(DType::kFloat8E4M3FN, {2}, {0x7E, 0xB8}));
  Tensor f8 = onnx::read_npy(dir / "f8.npy");
  ASSERT_EQ(f8.dtype(), DType::kUInt8);  // the bit patterns, as uint8
  EXPECT_EQ(f8.to_int64_vector(), (std::vector<int64_t>{0x7E, 0xB8}));
}

// ---- ops ----

TEST(NarrowOps, CastToFloat8SaturateOrNot) {
  Tensor x = Tensor::from_vector<float>({5}, {1e6f, -INFINITY, 0.47892547f, NAN, -1e-7f});
  Tensor sat = OpCall("Cast", 19).attr("to", int64_t(DType::kFloat8E4M3FN)).run1({x});
  ASSERT_EQ(sat.dtype(), DType::kFloat8E4M3FN);
  EXPECT_EQ(bytes_of(sat), (std::vector<uint8_t>{0x7E, 0xFE, 0x2F, 0x7F, 0x80}));
  Tensor raw = OpCall("Cast", 19).attr("to", int64_t(DType::kFloat8E4M3FN)).attr("saturate", int64_t{0}).run1({x});
  EXPECT_EQ(bytes_of(raw), (std::vector<uint8_t>{0x7F, 0xFF, 0x2F, 0x7F, 0x80}));
  Tensor e5 = OpCall("Cast", 19).attr("to", int64_t(DType::kFloat8E5M2)).attr("saturate", int64_t{0}).run1({x});
  EXPECT_EQ(bytes_of(e5), (std::vector<uint8_t>{0x7C, 0xFC, 0x38, 0x7E, 0x80}));
  Tensor uz = OpCall("Cast", 19).attr("to", int64_t(DType::kFloat8E5M2FNUZ)).attr("saturate", int64_t{0}).run1({x});
  EXPECT_EQ(bytes_of(uz), (std::vector<uint8_t>{0x80, 0x80, 0x3C, 0x80, 0x00}));
}

TEST(NarrowOps, CastFromNarrowTypes) {
  Tensor f8 = narrow_tensor(DType::kFloat8E4M3FN, {3}, {0x7E, 0xB8, 0x7F});
  Tensor y = OpCall("Cast", 19).attr("to", int64_t(DType::kFloat32)).run1({f8});
  EXPECT_EQ(y.data<float>()[0], 448.0f);
  EXPECT_EQ(y.data<float>()[1], -1.0f);
  EXPECT_TRUE(std::isnan(y.data<float>()[2]));
  Tensor i4 = narrow_tensor(DType::kInt4, {3}, {0xF9, 0x07, 0x08});  // -7, 7, -8
  Tensor y8 = OpCall("Cast", 21).attr("to", int64_t(DType::kInt8)).run1({i4});
  EXPECT_EQ(std::vector<int8_t>(y8.data<int8_t>(), y8.data<int8_t>() + 3), (std::vector<int8_t>{-7, 7, -8}));
  Tensor s = OpCall("Cast", 21).attr("to", int64_t(DType::kString)).run1({i4});
  EXPECT_EQ(s.data<std::string>()[0], "-7");
  // float8 -> float8 goes through the exact float value: 448 is beyond e4m3fnuz's 240.
  Tensor uz = OpCall("Cast", 21).attr("to", int64_t(DType::kFloat8E4M3FNUZ)).run1({f8});
  EXPECT_EQ(bytes_of(uz), (std::vector<uint8_t>{0x7F, 0xC0, 0x80}));
}

TEST(NarrowOps, CastToNarrowIntegersKeepsLowBits) {
  Tensor x = Tensor::from_vector<float>({5}, {-9.0f, 8.0f, 15.0f, -1.7f, 2.9f});
  Tensor i4 = OpCall("Cast", 21).attr("to", int64_t(DType::kInt4)).run1({x});
  EXPECT_EQ(i4.to_int64_vector(), (std::vector<int64_t>{7, -8, -1, -1, 2}));  // truncation, then 4 bits
  Tensor u4 = OpCall("Cast", 21).attr("to", int64_t(DType::kUInt4)).run1({x});
  EXPECT_EQ(u4.to_int64_vector(), (std::vector<int64_t>{7, 8, 15, 15, 2}));
  Tensor u2 = OpCall("Cast", 25).attr("to", int64_t(DType::kUInt2)).run1({Tensor::from_vector<int32_t>({3}, {-1, 4, 6})});
  EXPECT_EQ(u2.to_int64_vector(), (std::vector<int64_t>{3, 0, 2}));
}

TEST(NarrowOps, CastToE8M0FollowsRoundMode) {
  Tensor x = Tensor::from_vector<float>({3}, {1.1f, 1.5f, 4.0f});
  auto cast = [&](const char* mode) {
    return bytes_of(OpCall("Cast", 25).attr("to", int64_t(DType::kFloat8E8M0)).attr("round_mode", std::string(mode)).run1({x}));
  };
  EXPECT_EQ(cast("up"), (std::vector<uint8_t>{128, 128, 129}));
  EXPECT_EQ(cast("down"), (std::vector<uint8_t>{127, 127, 129}));
  EXPECT_EQ(cast("nearest"), (std::vector<uint8_t>{127, 128, 129}));
  EXPECT_THROW(cast("sideways"), Error);
}

TEST(NarrowOps, CastLikeTakesTheNarrowType) {
  Tensor like = narrow_tensor(DType::kFloat8E5M2, {1}, {0});
  Tensor y = OpCall("CastLike", 19).attr("saturate", int64_t{0}).run1({Tensor::from_vector<float>({2}, {1e6f, 1.0f}), like});
  ASSERT_EQ(y.dtype(), DType::kFloat8E5M2);
  EXPECT_EQ(bytes_of(y), (std::vector<uint8_t>{0x7C, 0x3C}));
}

TEST(NarrowOps, QuantizeToNarrowTypes) {
  Tensor x = Tensor::from_vector<float>({5}, {0.0f, 2.5f, 1000.0f, -1000.0f, 3.1f});
  Tensor i4 = OpCall("QuantizeLinear", 21).run1({x, Tensor::scalar<float>(1.0f), narrow_tensor(DType::kInt4, {}, {0x01})});
  ASSERT_EQ(i4.dtype(), DType::kInt4);
  EXPECT_EQ(i4.to_int64_vector(), (std::vector<int64_t>{1, 3, 7, -8, 4}));  // round half even + 1, saturated
  Tensor u2 = OpCall("QuantizeLinear", 25).attr("output_dtype", int64_t(DType::kUInt2)).run1({x, Tensor::scalar<float>(1.0f)});
  EXPECT_EQ(u2.to_int64_vector(), (std::vector<int64_t>{0, 2, 3, 0, 3}));
  Tensor f8 = OpCall("QuantizeLinear", 21).run1({x, Tensor::scalar<float>(0.5f), narrow_tensor(DType::kFloat8E4M3FN, {}, {0})});
  // x / 0.5 = 0, 5, 2000, -2000, 6.2: 5 = 1.25 * 4, 2000 beyond 448 saturates, 6.2 rounds to 6 = 1.5 * 4.
  EXPECT_EQ(bytes_of(f8), (std::vector<uint8_t>{0x00, 0x4A, 0x7E, 0xFE, 0x4C}));
  Tensor f8n = OpCall("QuantizeLinear", 21).attr("saturate", int64_t{0}).run1(
      {x, Tensor::scalar<float>(0.5f), narrow_tensor(DType::kFloat8E4M3FN, {}, {0})});
  EXPECT_EQ(bytes_of(f8n), (std::vector<uint8_t>{0x00, 0x4A, 0x7F, 0xFF, 0x4C}));  // overflow is NaN
}

TEST(NarrowOps, DequantizeFromNarrowTypes) {
  Tensor u4 = narrow_tensor(DType::kUInt4, {4}, {0, 1, 7, 15});
  Tensor y = OpCall("DequantizeLinear", 21).run1({u4, Tensor::scalar<float>(2.0f), narrow_tensor(DType::kUInt4, {}, {1})});
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 4), (std::vector<float>{-2, 0, 12, 28}));
  Tensor f8 = narrow_tensor(DType::kFloat8E5M2, {3}, {0x7B, 0xBC, 0x7C});
  Tensor yf = OpCall("DequantizeLinear", 19).run1({f8, Tensor::scalar<float>(0.5f)});
  EXPECT_EQ(yf.data<float>()[0], 28672.0f);
  EXPECT_EQ(yf.data<float>()[1], -0.5f);
  EXPECT_EQ(yf.data<float>()[2], INFINITY);
  Tensor i2 = narrow_tensor(DType::kInt2, {2}, {0xFE, 0x01});
  Tensor y16 = OpCall("DequantizeLinear", 25).attr("output_dtype", int64_t(DType::kFloat16)).run1({i2, Tensor::scalar<float>(3.0f)});
  ASSERT_EQ(y16.dtype(), DType::kFloat16);
  EXPECT_EQ(y16.double_at(0), -6.0);
  EXPECT_EQ(y16.double_at(1), 3.0);
}

TEST(NarrowOps, OtherOpsRefuseNarrowTypesClearly) {
  Tensor f8 = narrow_tensor(DType::kFloat8E4M3FN, {2}, {0x38, 0x40});
  expect_error([&] { OpCall("Add", 14).run1({f8, f8}); }, ErrorCode::kUnsupported, {"float8e4m3fn"});
  expect_error([&] { OpCall("Relu", 14).run1({f8}); }, ErrorCode::kUnsupported, {"float8e4m3fn"});
  // Data movement works on the bytes.
  Tensor r = OpCall("Reshape", 14).run1({f8, Tensor::from_vector<int64_t>({2}, {2, 1})});
  EXPECT_EQ(r.dims(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(bytes_of(r), bytes_of(f8));
}

}  // namespace
