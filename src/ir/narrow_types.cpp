#include "ir/narrow_types.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "base/error.h"

namespace kiln {

namespace {

// How a small float format spends its codes beyond the finite values.
enum class Specials {
  kIeee,  ///< exponent all ones: inf (mantissa 0) and NaN (float8e5m2)
  kFn,    ///< S.1111.111 is NaN, no inf (float8e4m3fn)
  kFnuz,  ///< 0x80 ("-0") is the only NaN, no inf, no -0 (float8e4m3fnuz, float8e5m2fnuz)
  kNone,  ///< neither NaN nor inf (float4e2m1)
};

struct MiniFloat {
  int mantissa_bits;
  int bias;
  uint8_t sign_bit;  ///< 0x80, or 0x08 for the 4-bit format
  uint8_t max_code;  ///< magnitude bits of the largest finite value
  Specials specials;
};

MiniFloat format_of(DType t) {
  switch (t) {
    case DType::kFloat8E4M3FN: return {3, 7, 0x80, 0x7E, Specials::kFn};
    case DType::kFloat8E4M3FNUZ: return {3, 8, 0x80, 0x7F, Specials::kFnuz};
    case DType::kFloat8E5M2: return {2, 15, 0x80, 0x7B, Specials::kIeee};
    case DType::kFloat8E5M2FNUZ: return {2, 16, 0x80, 0x7F, Specials::kFnuz};
    case DType::kFloat4E2M1: return {1, 1, 0x08, 0x07, Specials::kNone};
    default: fail(ErrorCode::kInternal, "{} is not a small float format", dtype_name(t));
  }
}

float mini_value(const MiniFloat& f, uint8_t bits) {
  const uint8_t mask = static_cast<uint8_t>(f.sign_bit | (f.sign_bit - 1));
  bits &= mask;
  const bool negative = (bits & f.sign_bit) != 0;
  const uint8_t mag = bits & static_cast<uint8_t>(f.sign_bit - 1);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  switch (f.specials) {
    case Specials::kFnuz: if (bits == 0x80) return nan; break;
    case Specials::kFn: if (mag == 0x7F) return negative ? -nan : nan; break;
    case Specials::kIeee:
      if (mag == 0x7C) return negative ? -INFINITY : INFINITY;
      if (mag > 0x7C) return negative ? -nan : nan;
      break;
    case Specials::kNone: break;
  }
  const int exponent = mag >> f.mantissa_bits;
  const int mantissa = mag & ((1 << f.mantissa_bits) - 1);
  // Subnormals (exponent field 0) have no implicit leading 1 and the exponent of the smallest normals.
  const float v = exponent == 0
                      ? std::ldexp(static_cast<float>(mantissa), 1 - f.bias - f.mantissa_bits)
                      : std::ldexp(static_cast<float>(mantissa + (1 << f.mantissa_bits)),
                                   exponent - f.bias - f.mantissa_bits);
  return negative ? -v : v;
}

// The code for `v`, rounded to nearest even. Overflow (a finite value that rounds beyond max, or an infinity)
// follows `saturate` and the format's specials.
uint8_t mini_from(const MiniFloat& f, double v, bool saturate) {
  const bool negative = std::signbit(v);
  const uint8_t sign = negative ? f.sign_bit : 0;
  const uint8_t max_finite = sign | f.max_code;
  auto overflow = [&]() -> uint8_t {
    if (saturate) return max_finite;
    switch (f.specials) {
      case Specials::kIeee: return sign | 0x7C;  // inf
      case Specials::kFn: return sign | 0x7F;     // NaN
      case Specials::kFnuz: return 0x80;          // NaN
      case Specials::kNone: return max_finite;    // nothing else to give
    }
    return max_finite;
  };
  if (std::isnan(v)) {
    switch (f.specials) {
      case Specials::kIeee: return sign | 0x7E;
      case Specials::kFn: return sign | 0x7F;
      case Specials::kFnuz: return 0x80;
      // No NaN to give: ONNX's reference (ml_dtypes) gives -0 for a NaN without its sign bit, 0 for one with.
      case Specials::kNone: return negative ? 0 : f.sign_bit;
    }
  }
  if (std::isinf(v)) return overflow();
  const double a = std::fabs(v);
  if (a == 0) return f.specials == Specials::kFnuz ? 0 : sign;
  int binade = 0;
  std::frexp(a, &binade);
  int e = binade - 1;  // a is in [2^e, 2^(e+1))
  if (e > 64) return overflow();
  const int emin = 1 - f.bias;
  if (e < emin) e = emin;  // a subnormal: the quantum of the smallest normals
  // a / 2^(e - mantissa_bits) is exact in double; nearbyint rounds half to even.
  int64_t m = static_cast<int64_t>(std::nearbyint(std::ldexp(a, f.mantissa_bits - e)));
  if (m >= (int64_t{2} << f.mantissa_bits)) {  // rounded up into the next binade
    ++e;
    m >>= 1;
  }
  const int64_t implicit = int64_t{1} << f.mantissa_bits;
  const int64_t biased = m < implicit ? 0 : e + f.bias;  // below the implicit 1 only as a subnormal
  const int64_t mag = biased << f.mantissa_bits | (m & (implicit - 1));
  if (mag > f.max_code) return overflow();
  if (mag == 0 && f.specials == Specials::kFnuz) return 0;  // no -0: 0x80 is NaN
  return static_cast<uint8_t>(sign | mag);
}

uint8_t e8m0_from(double v, bool saturate, E8M0Rounding rounding) {
  const float x = static_cast<float>(v);
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  uint32_t exponent = (bits >> 23) & 0xFF;
  if (exponent == 0xFF) return 0xFF;  // NaN and inf
  bool up = false;
  switch (rounding) {
    case E8M0Rounding::kUp: up = (bits & 0x7FFFFF) != 0; break;
    case E8M0Rounding::kDown: break;
    case E8M0Rounding::kNearest: {
      // The first dropped bit decides; a tie rounds up (the "lsb" of an exponent-only format is its
      // implicit 1, except below the normals), as ONNX's reference does.
      const bool guard = bits & 0x400000, round = bits & 0x200000, sticky = bits & 0x1FFFFF;
      up = guard && (round || sticky || exponent > 0);
      break;
    }
  }
  if (up && saturate && exponent == 0xFE) up = false;  // 0xFF would be NaN
  return static_cast<uint8_t>(exponent + (up ? 1 : 0));
}

}  // namespace

bool parse_e8m0_rounding(const std::string& text, E8M0Rounding& out) {
  if (text == "up") out = E8M0Rounding::kUp;
  else if (text == "down") out = E8M0Rounding::kDown;
  else if (text == "nearest") out = E8M0Rounding::kNearest;
  else return false;
  return true;
}

float narrow_float_value(DType t, uint8_t bits) {
  if (t == DType::kFloat8E8M0)
    return bits == 0xFF ? std::numeric_limits<float>::quiet_NaN() : std::ldexp(1.0f, int(bits) - 127);
  return mini_value(format_of(t), bits);
}

uint8_t narrow_float_from(DType t, double v, bool saturate, E8M0Rounding rounding) {
  if (t == DType::kFloat8E8M0) return e8m0_from(v, saturate, rounding);
  return mini_from(format_of(t), v, saturate);
}

double narrow_float_max(DType t) {
  if (t == DType::kFloat8E8M0) return std::ldexp(1.0, 127);
  const MiniFloat f = format_of(t);
  return mini_value(f, f.max_code);
}

int32_t narrow_int_value(DType t, uint8_t byte) {
  switch (t) {
    case DType::kUInt4: return byte & 0x0F;
    case DType::kInt4: return (byte & 0x0F) >= 8 ? (byte & 0x0F) - 16 : (byte & 0x0F);
    case DType::kUInt2: return byte & 0x03;
    case DType::kInt2: return (byte & 0x03) >= 2 ? (byte & 0x03) - 4 : (byte & 0x03);
    default: fail(ErrorCode::kInternal, "{} is not a narrow integer type", dtype_name(t));
  }
}

uint8_t narrow_int_from(DType t, int64_t v) {
  const auto low = static_cast<uint8_t>(static_cast<uint64_t>(v) & 0xFF);
  return static_cast<uint8_t>(static_cast<int8_t>(narrow_int_value(t, low)));
}

double narrow_value(DType t, uint8_t byte) {
  if (dtype_is_narrow_integer(t)) return narrow_int_value(t, byte);
  return narrow_float_value(t, byte);
}

int64_t packed_byte_size(DType t, int64_t numel) {
  const size_t bits = dtype_packed_bits(t);
  if (bits >= 8) return numel * static_cast<int64_t>(bits / 8);  // callers check this product for overflow
  const int64_t per_byte = static_cast<int64_t>(8 / bits);
  return numel / per_byte + (numel % per_byte != 0 ? 1 : 0);
}

void unpack_narrow(DType t, const uint8_t* packed, int64_t numel, uint8_t* out) {
  const unsigned bits = static_cast<unsigned>(dtype_packed_bits(t));
  KILN_ASSERT(bits == 4 || bits == 2);
  const unsigned per_byte = 8 / bits, mask = (1u << bits) - 1;
  for (int64_t i = 0; i < numel; ++i) {
    const unsigned field = (packed[i / per_byte] >> (bits * static_cast<unsigned>(i % per_byte))) & mask;
    out[i] = dtype_is_narrow_integer(t) ? narrow_int_from(t, field) : static_cast<uint8_t>(field);
  }
}

void pack_narrow(DType t, const uint8_t* elements, int64_t numel, uint8_t* packed) {
  const unsigned bits = static_cast<unsigned>(dtype_packed_bits(t));
  KILN_ASSERT(bits == 4 || bits == 2);
  const unsigned per_byte = 8 / bits, mask = (1u << bits) - 1;
  const int64_t n = packed_byte_size(t, numel);
  for (int64_t i = 0; i < n; ++i) packed[i] = 0;
  for (int64_t i = 0; i < numel; ++i)
    packed[i / per_byte] |= static_cast<uint8_t>((elements[i] & mask) << (bits * static_cast<unsigned>(i % per_byte)));
}

}  // namespace kiln
