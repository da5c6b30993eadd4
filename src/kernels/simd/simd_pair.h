#pragma once
// simd::Avx2Pair: 16 lanes held in two AVX2 registers, with simd::Avx512's interface as far as the channel-blocked
// kernels use it (kLanes, V, zero, set1, load, store, load_partial, store_partial, add, mul, fmadd, max, min, and
// what the register epilogue's Sigmoid and SiLU need: vunary_math.h's sigmoid, silu and exp).
// Not a tier and never dispatched: the tests run the AVX-512 kernels' 16-lane logic through it on a CPU without
// AVX-512 (the CPU behind this machine changes from day to day; CI may get either). Include only from *_avx2.cpp.

#include "kernels/simd/simd.h"

namespace kiln::kernels::simd {

#if defined(__AVX2__) && defined(__FMA__)
struct Avx2Pair {
  static constexpr int kLanes = 16;
  struct V {
    __m256 lo, hi;
  };
  static V zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static V set1(float x) { return {_mm256_set1_ps(x), _mm256_set1_ps(x)}; }
  static V load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static void store(float* p, V v) {
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
  }
  static V load_partial(const float* p, int64_t n) {
    return {Avx2::load_partial(p, n < 8 ? n : 8), n > 8 ? Avx2::load_partial(p + 8, n - 8) : _mm256_setzero_ps()};
  }
  static void store_partial(float* p, V v, int64_t n) {
    Avx2::store_partial(p, v.lo, n < 8 ? n : 8);
    if (n > 8) Avx2::store_partial(p + 8, v.hi, n - 8);
  }
  static V add(V a, V b) { return {_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)}; }
  static V mul(V a, V b) { return {_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)}; }
  static V fmadd(V a, V b, V c) { return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)}; }
  static V max(V a, V b) { return {_mm256_max_ps(a.lo, b.lo), _mm256_max_ps(a.hi, b.hi)}; }
  static V min(V a, V b) { return {_mm256_min_ps(a.lo, b.lo), _mm256_min_ps(a.hi, b.hi)}; }

  // The rest: Avx2's operation on each half; `all` asks of all 16 lanes, as Avx512's does (a vector takes the
  // fast path of sigmoid only when every lane may).
  using M = V;
  struct VI {
    __m256i lo, hi;
  };
  static V sub(V a, V b) { return {Avx2::sub(a.lo, b.lo), Avx2::sub(a.hi, b.hi)}; }
  static V div(V a, V b) { return {Avx2::div(a.lo, b.lo), Avx2::div(a.hi, b.hi)}; }
  static V fnmadd(V a, V b, V c) { return {Avx2::fnmadd(a.lo, b.lo, c.lo), Avx2::fnmadd(a.hi, b.hi, c.hi)}; }
  static V abs(V a) { return {Avx2::abs(a.lo), Avx2::abs(a.hi)}; }
  static V neg(V a) { return {Avx2::neg(a.lo), Avx2::neg(a.hi)}; }
  static V round(V a) { return {Avx2::round(a.lo), Avx2::round(a.hi)}; }
  static V and_(V a, V b) { return {Avx2::and_(a.lo, b.lo), Avx2::and_(a.hi, b.hi)}; }
  static V or_(V a, V b) { return {Avx2::or_(a.lo, b.lo), Avx2::or_(a.hi, b.hi)}; }
  static M lt(V a, V b) { return {Avx2::lt(a.lo, b.lo), Avx2::lt(a.hi, b.hi)}; }
  static M le(V a, V b) { return {Avx2::le(a.lo, b.lo), Avx2::le(a.hi, b.hi)}; }
  static V select(M m, V a, V b) { return {Avx2::select(m.lo, a.lo, b.lo), Avx2::select(m.hi, a.hi, b.hi)}; }
  static bool all(M m) { return Avx2::all(m.lo) && Avx2::all(m.hi); }
  static VI to_int(V a) { return {Avx2::to_int(a.lo), Avx2::to_int(a.hi)}; }
  static VI add_i(VI a, VI b) { return {Avx2::add_i(a.lo, b.lo), Avx2::add_i(a.hi, b.hi)}; }
  static VI sub_i(VI a, VI b) { return {Avx2::sub_i(a.lo, b.lo), Avx2::sub_i(a.hi, b.hi)}; }
  static VI set1_i(int32_t x) { return {Avx2::set1_i(x), Avx2::set1_i(x)}; }
  template <int k> static VI shl_i(VI a) { return {Avx2::shl_i<k>(a.lo), Avx2::shl_i<k>(a.hi)}; }
  template <int k> static VI sra_i(VI a) { return {Avx2::sra_i<k>(a.lo), Avx2::sra_i<k>(a.hi)}; }
  static VI as_int(V a) { return {Avx2::as_int(a.lo), Avx2::as_int(a.hi)}; }
  static V as_float(VI a) { return {Avx2::as_float(a.lo), Avx2::as_float(a.hi)}; }
  /// table[i & 15] per lane, as Avx512's.
  static V lookup16(const float* table, VI i) { return {lookup16_half(table, i.lo), lookup16_half(table, i.hi)}; }

 private:
  static __m256 lookup16_half(const float* table, __m256i i) {
    const __m256 lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), i);  // reads i's low 3 bits
    const __m256 hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 8), i);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(i, 28)));  // bit 3 picks the half
  }
};
#endif

}  // namespace kiln::kernels::simd
