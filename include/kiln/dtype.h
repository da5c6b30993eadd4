#pragma once
// Element types, numbered as ONNX's TensorProto.DataType so the number in a file maps directly.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kiln {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBFloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
  kFloat8E8M0 = 24,
  kUInt2 = 25,
  kInt2 = 26,
  kFloat6E2M3 = 27,  ///< known by name; kiln does not hold it
  kFloat6E3M2 = 28,  ///< known by name; kiln does not hold it
};

// The narrow types (float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz, float8e8m0, float4e2m1, uint4,
// int4, uint2, int2) are held ONE BYTE PER ELEMENT in memory, 4- and 2-bit types unpacked:
//   - float8 types: the byte is the format's bit pattern;
//   - float4e2m1: the bit pattern in the low 4 bits (the high 4 bits are ignored when read, written as 0);
//   - int4/int2: the value as a sign-extended int8 (-8..7, -2..1); uint4/uint2: the value as a uint8 (0..15,
//     0..3). Readers take the low 4 (2) bits, so any byte reads as a value of the type.
// So numel * dtype_size() stays the byte size of every tensor, views, copies, slicing and the memory planner
// need no special case, and the packing ONNX uses (two 4-bit or four 2-bit elements per byte) exists only at
// the TensorProto boundary (src/onnx). The cost is 2x (4x) the memory of packed 4-bit (2-bit) weights, which
// only matters for models kiln does not compute with today. Conversions live in src/ir/narrow_types.h.
// The narrow types belong to none of the families below (dtype_is_float, dtype_is_integer, ...), so ops that
// compute through those families refuse them with a message naming the type.

/// ONNX's name for a type ("float", "int64", "float16", ...).
std::string_view dtype_name(DType t);
/// True for every number ONNX defines (0 excluded).
bool dtype_is_known(int32_t onnx_number);
/// True for the types kiln holds in memory (not complex or float6).
bool dtype_is_supported(DType t);
/// Bytes per element in memory for supported types (1 for every narrow type); 0 for others.
size_t dtype_size(DType t);
/// float8 (all five), float4e2m1, uint4, int4, uint2, int2: held one byte per element (see above).
bool dtype_is_narrow(DType t);
bool dtype_is_narrow_float(DType t);    ///< the float8 types and float4e2m1
bool dtype_is_narrow_integer(DType t);  ///< uint4, int4, uint2, int2
/// Bits per element in ONNX's serialized form: 4 for uint4/int4/float4e2m1, 2 for uint2/int2, else 8 * size.
size_t dtype_packed_bits(DType t);
bool dtype_is_float(DType t);    ///< float16, bfloat16, float32, float64
bool dtype_is_integer(DType t);  ///< signed and unsigned integers (not bool)
bool dtype_is_signed(DType t);   ///< signed integers and floats

/// IEEE half precision, stored as bits; arithmetic goes through float.
struct Float16 {
  uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float f);
  operator float() const;
};

/// bfloat16 (the top 16 bits of a float32), rounded to nearest even on conversion.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
      bits = static_cast<uint16_t>(u >> 16);
    }
  }
  operator float() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

/// Maps a C++ element type to its DType.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<Float16>() { return DType::kFloat16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::kBFloat16; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kInt8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::kInt16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kInt32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::kUInt16; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::kUInt32; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::kUInt64; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }
template <> constexpr DType dtype_of<std::string>() { return DType::kString; }

}  // namespace kiln
