#pragma once
// Thin wrappers over one ISA's float vector register, so a kernel is written once as a template over the
// wrapper and instantiated per tier (in <family>_avx2.cpp and <family>_avx512.cpp). Why: the machines kiln is
// built on change CPU from day to day, and a tier this CPU lacks cannot be run here; a kernel whose logic is
// shared across tiers is tested on any of them. Include only from a file compiled with the tier's flags
// (CMake sets them by file-name suffix); each wrapper is guarded by the compiler's feature macro.
//
// Every wrapper has: kLanes; V (the register type); zero, set1, load/store (unaligned), load_partial and
// store_partial (the first n < kLanes lanes; the rest read as 0 and are not written), add, sub, mul, div,
// fmadd(a, b, c) = a * b + c, max, min, and reduce_add / reduce_max (horizontal).
// max(a, b) and min(a, b) are the instructions' own: a > b ? a : b and a < b ? a : b, so when either is NaN
// they return b (kernels put the operand whose NaN must propagate second).
//
// Element-wise math (src/kernels/vunary, vbinary) also uses: fnmadd(a, b, c) = c - a * b, sqrt, abs, neg,
// round (to nearest even), bitwise and_/or_/xor_ on the float bits; M, a lane mask from the comparisons
// lt/le/eq/unordered (true where either is NaN), select(m, a, b) = m ? a : b, all(m) (every lane true: a
// branch to a rare slow path); and 32-bit integer lanes VI:
// to_int (round to nearest), to_float, add_i, sub_i, set1_i, shl_i<k>, sra_i<k>, as_int / as_float (bit casts).
// 16-lane wrappers (Avx512, simd_pair.h's Avx2Pair): lookup16(table, i) = table[i & 15] per lane (one permute).

#include <immintrin.h>

#include <cstdint>

namespace kiln::kernels::simd {

#if defined(__AVX2__) && defined(__FMA__)
struct Avx2 {
  static constexpr int kLanes = 8;
  using V = __m256;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static __m256i mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load_partial(const float* p, int64_t n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store_partial(float* p, V v, int64_t n) { _mm256_maskstore_ps(p, mask(n), v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  static V sqrt(V a) { return _mm256_sqrt_ps(a); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static V neg(V a) { return _mm256_xor_ps(_mm256_set1_ps(-0.0f), a); }
  static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V and_(V a, V b) { return _mm256_and_ps(a, b); }
  static V or_(V a, V b) { return _mm256_or_ps(a, b); }
  static V xor_(V a, V b) { return _mm256_xor_ps(a, b); }
  using M = __m256;
  static M lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M le(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static M eq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M unordered(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_UNORD_Q); }
  static V select(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  static bool all(M m) { return _mm256_movemask_ps(m) == 0xFF; }
  using VI = __m256i;
  static VI to_int(V a) { return _mm256_cvtps_epi32(a); }
  static V to_float(VI a) { return _mm256_cvtepi32_ps(a); }
  static VI add_i(VI a, VI b) { return _mm256_add_epi32(a, b); }
  static VI sub_i(VI a, VI b) { return _mm256_sub_epi32(a, b); }
  static VI set1_i(int32_t x) { return _mm256_set1_epi32(x); }
  template <int k> static VI shl_i(VI a) { return _mm256_slli_epi32(a, k); }
  template <int k> static VI sra_i(VI a) { return _mm256_srai_epi32(a, k); }
  static VI as_int(V a) { return _mm256_castps_si256(a); }
  static V as_float(VI a) { return _mm256_castsi256_ps(a); }
  static float reduce_add(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(V v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};
#endif

#if defined(__AVX512F__) && defined(__AVX512DQ__)
struct Avx512 {
  static constexpr int kLanes = 16;
  using V = __m512;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static __mmask16 mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V load_partial(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_partial(float* p, V v, int64_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V sqrt(V a) { return _mm512_sqrt_ps(a); }
  static V abs(V a) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), a); }
  static V neg(V a) { return _mm512_xor_ps(_mm512_set1_ps(-0.0f), a); }
  static V round(V a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V and_(V a, V b) { return _mm512_and_ps(a, b); }
  static V or_(V a, V b) { return _mm512_or_ps(a, b); }
  static V xor_(V a, V b) { return _mm512_xor_ps(a, b); }
  using M = __mmask16;
  static M lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M le(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static M eq(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M unordered(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q); }
  static V select(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
  static bool all(M m) { return m == 0xFFFF; }
  using VI = __m512i;
  static VI to_int(V a) { return _mm512_cvtps_epi32(a); }
  static V to_float(VI a) { return _mm512_cvtepi32_ps(a); }
  static VI add_i(VI a, VI b) { return _mm512_add_epi32(a, b); }
  static VI sub_i(VI a, VI b) { return _mm512_sub_epi32(a, b); }
  static VI set1_i(int32_t x) { return _mm512_set1_epi32(x); }
  template <int k> static VI shl_i(VI a) { return _mm512_slli_epi32(a, k); }
  template <int k> static VI sra_i(VI a) { return _mm512_srai_epi32(a, k); }
  static VI as_int(V a) { return _mm512_castps_si512(a); }
  static V as_float(VI a) { return _mm512_castsi512_ps(a); }
  static V lookup16(const float* table, VI i) { return _mm512_permutexvar_ps(i, _mm512_loadu_ps(table)); }
  static float reduce_add(V v) { return _mm512_reduce_add_ps(v); }
  static float reduce_max(V v) { return _mm512_reduce_max_ps(v); }
};
#endif

}  // namespace kiln::kernels::simd
