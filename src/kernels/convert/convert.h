#pragma once
// Vector kernels behind the prepared Cast (float32 <-> float16, by F16C) and Where (a select of 4-byte
// elements). Listed in convert_list.h.
//
// Accuracy: F16C converts with IEEE round-to-nearest-even, as the FP16 library the reference uses does, so
// every value is identical; only NaN payloads may differ (F16C keeps the top payload bits, the reference writes
// the canonical quiet NaN 0x7E00).

#include <cstdint>

#include "kernels/isa.h"

namespace kiln::kernels {

using F32ToF16Fn = void (*)(const float* x, uint16_t* y, int64_t n);
using F16ToF32Fn = void (*)(const uint16_t* x, float* y, int64_t n);
/// out[i] = cond[i] ? a[i * a_step] : b[i * b_step] for 4-byte elements (a_step, b_step: 0 or 1; cond bytes 0/1).
using Select32Fn = void (*)(const uint8_t* cond, const uint32_t* a, int64_t a_step, const uint32_t* b, int64_t b_step,
                            uint32_t* out, int64_t n);

#define KILN_CONVERT_KERNELS(suffix, tier)                                                    \
  void f32_to_f16_##suffix(const float*, uint16_t*, int64_t);                                 \
  void f16_to_f32_##suffix(const uint16_t*, float*, int64_t);                                 \
  void select32_##suffix(const uint8_t*, const uint32_t*, int64_t, const uint32_t*, int64_t, uint32_t*, int64_t);
#include "kernels/convert/convert_list.h"
#undef KILN_CONVERT_KERNELS

struct ConvertKernels {
  const char* name;
  IsaTier tier;
  F32ToF16Fn f32_to_f16;
  F16ToF32Fn f16_to_f32;
  Select32Fn select32;
};

/// The best kernel set at or below `tier` that this CPU runs, or nullptr.
const ConvertKernels* convert_kernels(IsaTier tier);

}  // namespace kiln::kernels
