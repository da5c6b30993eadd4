#pragma once
// Values of the narrow element types, which kiln holds one byte per element (see kiln/dtype.h), and
// conversions to them with ONNX's rules (onnx.proto; the Cast operator's tables):
//   - float8e4m3fn (bias 7, NaN = S.1111.111, no inf, max 448), float8e4m3fnuz (bias 8, NaN = 0x80, no inf,
//     no -0, max 240), float8e5m2 (IEEE-like, bias 15, inf and NaN, max 57344), float8e5m2fnuz (bias 16,
//     NaN = 0x80, no inf, no -0, max 57344), float4e2m1 (bias 1, no inf or NaN, max 6): round to nearest even;
//   - float8e8m0: an exponent only, 2^(e - 127), 0xFF = NaN, no sign and no zero; rounding per Cast's
//     round_mode;
//   - int4/uint4/int2/uint2: the low 4 (2) bits, two's complement for the signed ones (ONNX's integer
//     narrowing rule).

#include <cstdint>
#include <string>

#include "kiln/dtype.h"

namespace kiln {

/// How a value between two powers of two becomes float8e8m0 (Cast's 'round_mode', opset 24+).
enum class E8M0Rounding {
  kUp,       ///< to the larger power of two (the default, what CUDA does)
  kDown,     ///< to the smaller power of two
  kNearest,  ///< to the nearer one, ties up
};

/// Parses a 'round_mode' value ("up", "down", "nearest"); false for anything else.
bool parse_e8m0_rounding(const std::string& text, E8M0Rounding& out);

/// The value of one element of a narrow float type (float8 types, float4e2m1); exact in float.
float narrow_float_value(DType t, uint8_t bits);

/// The element of narrow float type `t` nearest to `v` (see the header comment for the rounding).
/// `saturate` (Cast's attribute, on by default): values beyond the largest finite one, infinities included,
/// become +-max; without it they become inf (float8e5m2), NaN (the other float8 types, float8e8m0) — float4e2m1
/// has neither and always saturates. float8e8m0 converts from `v` rounded to float (as ONNX's reference does),
/// ignores the sign and rounds per `rounding`.
uint8_t narrow_float_from(DType t, double v, bool saturate, E8M0Rounding rounding = E8M0Rounding::kUp);

/// The largest finite value of narrow float type `t`.
double narrow_float_max(DType t);

/// The value of one element of a narrow integer type: its low 4 (2) bits, sign-extended for int4/int2.
int32_t narrow_int_value(DType t, uint8_t byte);

/// The element of narrow integer type `t` holding the low 4 (2) bits of `v`, in kiln's canonical byte form
/// (sign-extended for int4/int2).
uint8_t narrow_int_from(DType t, int64_t v);

/// The value of one element of any narrow type, as double.
double narrow_value(DType t, uint8_t byte);

// ---- ONNX's packed form (TensorProto raw_data and int32_data) ----
// uint4/int4/float4e2m1 pack two elements per byte, uint2/int2 four, the first element in the lowest bits;
// the last byte is padded. Every other type stores whole bytes per element.

/// Bytes that `numel` elements of `t` take packed (ceil(numel / 2) for 4-bit types, ceil(numel / 4) for 2-bit
/// ones, numel * dtype_size(t) otherwise). `numel` must be >= 0; does not overflow for any int64 count of a
/// packed type.
int64_t packed_byte_size(DType t, int64_t numel);

/// Unpacks `numel` elements of 4- or 2-bit type `t` from `packed` (packed_byte_size(t, numel) bytes) into
/// kiln's one-byte-per-element form (sign-extended for int4/int2).
void unpack_narrow(DType t, const uint8_t* packed, int64_t numel, uint8_t* out);

/// Packs `numel` elements of 4- or 2-bit type `t`, one per byte, into packed_byte_size(t, numel) bytes; the
/// padding bits of the last byte are 0.
void pack_narrow(DType t, const uint8_t* elements, int64_t numel, uint8_t* packed);

}  // namespace kiln
