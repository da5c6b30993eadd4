#pragma once
// simd::Avx2Pair: 16 lanes held in two AVX2 registers, with simd::Avx512's interface as far as the channel-blocked
// kernels use it (kLanes, V, zero, set1, load, store, load_partial, store_partial, add, mul, fmadd, max, min).
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
};
#endif

}  // namespace kiln::kernels::simd
