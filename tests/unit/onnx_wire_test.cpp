// The protobuf wire-format primitives: encodings checked against bytes worked out by hand from the protobuf
// encoding rules (https://protobuf.dev/programming-guides/encoding/), and every malformed input refused.
#include <gtest/gtest.h>

#include <cstring>

#include "onnx/wire.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::onnx;
using kiln::testing::expect_error;

namespace {

std::vector<WireField> all_fields(const std::vector<uint8_t>& b, const char* name = "TestProto") {
  WireReader r(b, b.data(), name);
  std::vector<WireField> out;
  WireField f;
  while (r.next(f)) out.push_back(f);
  return out;
}

}  // namespace

TEST(OnnxWire, WriterProducesCanonicalBytes) {
  WireWriter w;
  w.varint_field(1, 150);         // the protobuf documentation's example: 08 96 01
  w.int64_field(2, -1);           // negative int64: ten bytes
  w.string_field(3, "hi");        // 1a 02 68 69
  w.float_field(4, 1.0f);         // 25 00 00 80 3f
  w.double_field(5, -2.0);        // 29 00.. 00 c0
  w.packed_varints(6, std::vector<int64_t>{3, 270});  // 32 03 03 8e 02
  const std::vector<uint8_t> want = {0x08, 0x96, 0x01, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0x01, 0x1a, 0x02, 'h',  'i',  0x25, 0x00, 0x00, 0x80, 0x3f, 0x29, 0,    0,
                                     0,    0,    0,    0,    0,    0xc0, 0x32, 0x03, 0x03, 0x8e, 0x02};
  EXPECT_EQ(w.bytes(), want);
}

TEST(OnnxWire, NestedMessageLengthWidensPastOneByte) {
  for (size_t body : {0u, 1u, 127u, 128u, 300u, 20000u}) {
    WireWriter w;
    w.varint_field(1, 7);
    size_t m = w.begin_message(2);
    for (size_t i = 0; i < body; ++i) w.varint_field(3, 1);  // two bytes each
    w.end_message(m);
    w.varint_field(4, 9);
    auto bytes = w.take();
    auto f = all_fields(bytes);
    ASSERT_EQ(f.size(), 3u) << body;
    EXPECT_EQ(f[0].value, 7u);
    EXPECT_EQ(f[1].bytes.size(), body * 2);
    EXPECT_EQ(f[2].number, 4u);
    EXPECT_EQ(f[2].value, 9u);
  }
}

TEST(OnnxWire, ReaderDecodesEveryWireType) {
  WireWriter w;
  w.int64_field(1, -5);
  w.float_field(2, 3.5f);
  w.double_field(3, 1e300);
  w.string_field(4, std::string("a\0b", 3));
  auto b = w.take();
  WireReader r(b, b.data(), "TestProto");
  WireField f;
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(r.as_int64(f), -5);
  EXPECT_EQ(r.as_int32(f), -5);
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(r.as_float(f), 3.5f);
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(r.as_double(f), 1e300);
  ASSERT_TRUE(r.next(f));
  EXPECT_EQ(r.as_string(f), std::string("a\0b", 3));
  EXPECT_EQ(f.offset, 25u);  // 1 + 10 (field 1), 1 + 4 (field 2), 1 + 8 (field 3)
  EXPECT_FALSE(r.next(f));
}

TEST(OnnxWire, RepeatedScalarsArePackedOrNot) {
  WireWriter w;
  w.int64_field(1, 10);  // unpacked element
  w.packed_varints(1, std::vector<int64_t>{-1, 2});
  w.float_field(2, 1.5f);
  w.packed_floats(2, std::vector<float>{2.5f, -3.0f});
  auto b = w.take();
  WireReader r(b, b.data(), "TestProto");
  std::vector<int64_t> ints;
  std::vector<float> floats;
  WireField f;
  while (r.next(f)) {
    if (f.number == 1) r.append_varints(f, ints);
    if (f.number == 2) r.append_floats(f, floats);
  }
  EXPECT_EQ(ints, (std::vector<int64_t>{10, -1, 2}));
  EXPECT_EQ(floats, (std::vector<float>{1.5f, 2.5f, -3.0f}));
}

TEST(OnnxWire, MalformedBytesAreRefusedWithWhereAndWhat) {
  const auto read_all = [](std::vector<uint8_t> b) { return [b] { all_fields(b, "GraphProto"); }; };
  // Field 4, length-delimited, claims 5 bytes where 2 remain.
  expect_error(read_all({0x08, 0x01, 0x22, 0x05, 'a', 'b'}), ErrorCode::kInvalidModel,
               {"truncated field 4 of GraphProto at byte 2", "needs 5 bytes, 2 remain"});
  expect_error(read_all({0x0e, 0x00}), ErrorCode::kInvalidModel, {"unknown wire type 6", "field 1"});
  expect_error(read_all({0x0f}), ErrorCode::kInvalidModel, {"unknown wire type 7"});
  expect_error(read_all({0x0b, 0x0c}), ErrorCode::kInvalidModel, {"groups"});
  expect_error(read_all({0x00, 0x01}), ErrorCode::kInvalidModel, {"invalid field number 0"});
  expect_error(read_all({0x08, 0x80, 0x80}), ErrorCode::kInvalidModel, {"truncated field 1 of GraphProto"});
  // Eleven continuation bytes: longer than any 64-bit varint.
  std::vector<uint8_t> longv = {0x08};
  for (int i = 0; i < 11; ++i) longv.push_back(0xff);
  longv.push_back(0x01);
  expect_error(read_all(longv), ErrorCode::kInvalidModel, {"longer than 10 bytes"});
  // Ten bytes whose last carries more than the 64th bit.
  std::vector<uint8_t> over = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  expect_error(read_all(over), ErrorCode::kInvalidModel, {"longer than 10 bytes"});
  expect_error(read_all({0x0d, 0x01, 0x02}), ErrorCode::kInvalidModel, {"truncated field 1", "needs 4 bytes"});
  expect_error(read_all({0x09, 0x01}), ErrorCode::kInvalidModel, {"needs 8 bytes"});
  expect_error(read_all({0x80}), ErrorCode::kInvalidModel, {"truncated field tag"});
  // A length longer than the address space must not wrap around.
  expect_error(read_all({0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), ErrorCode::kInvalidModel,
               {"truncated field 1"});
}

TEST(OnnxWire, TypedAccessorsCheckTheWireType) {
  std::vector<uint8_t> b = {0x0a, 0x01, 'x'};  // field 1, length-delimited
  WireReader r(b, b.data(), "NodeProto");
  WireField f;
  ASSERT_TRUE(r.next(f));
  expect_error([&] { r.as_int64(f); }, ErrorCode::kInvalidModel,
               {"field 1 of NodeProto at byte 0 has wire type 2 (length-delimited) where ONNX declares varint"});
  expect_error([&] { r.as_float(f); }, ErrorCode::kInvalidModel, {"declares 32-bit"});
  std::vector<float> v;
  expect_error([&] { r.append_floats(f, v); }, ErrorCode::kInvalidModel, {"not a multiple of 4"});
  std::vector<uint8_t> bad_packed = {0x0a, 0x02, 0x80, 0x80};  // packed varints ending mid-varint
  WireReader r2(bad_packed, bad_packed.data(), "TensorProto");
  ASSERT_TRUE(r2.next(f));
  std::vector<int64_t> ints;
  expect_error([&] { r2.append_varints(f, ints); }, ErrorCode::kInvalidModel, {"bad varint", "packed field 1"});
}
