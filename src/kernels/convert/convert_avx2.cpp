// Conversion and select kernels for AVX2 + F16C. Functions only: no static initializers in an ISA file.
#include <immintrin.h>

#include <cstring>

#include "kernels/convert/convert.h"

namespace kiln::kernels {

namespace {

// The scalar tails go through the same instructions (one lane), so a tail element converts exactly as a vector one.
inline uint16_t f32_to_f16_one(float v) {
  return static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(v), _MM_FROUND_TO_NEAREST_INT), 0));
}
inline float f16_to_f32_one(uint16_t h) { return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))); }

}  // namespace

void f32_to_f16_avx2(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = f32_to_f16_one(x[i]);
}

void f16_to_f32_avx2(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  for (; i < n; ++i) y[i] = f16_to_f32_one(x[i]);
}

void select32_avx2(const uint8_t* cond, const uint32_t* a, int64_t a_step, const uint32_t* b, int64_t b_step,
                   uint32_t* out, int64_t n) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i a_fixed = _mm256_set1_epi32(static_cast<int>(a[0])), b_fixed = _mm256_set1_epi32(static_cast<int>(b[0]));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int64_t c8;
    std::memcpy(&c8, cond + i, 8);
    const __m256i take_b = _mm256_cmpeq_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(c8)), zero);
    const __m256i va = a_step ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)) : a_fixed;
    const __m256i vb = b_step ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)) : b_fixed;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_blendv_epi8(va, vb, take_b));
  }
  for (; i < n; ++i) out[i] = cond[i] ? a[i * a_step] : b[i * b_step];
}

}  // namespace kiln::kernels
