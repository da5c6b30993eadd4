#pragma once
// Lane shuffles for the SIMD wrappers of simd.h that kernels working on stride-2 data need (depthwise stride 2,
// Winograd tiles): splitting 2 vectors of consecutive floats into even and odd lanes, and the reverse. Separate
// from simd.h because only the convolution kernels use them; same rules (include only from a file compiled with
// the tier's flags; guarded by the compiler's feature macros).
//   Interleave<S>::deinterleave(p, &even, &odd): even = p[0], p[2], ..., odd = p[1], p[3], ... (2 * kLanes floats)
//   Interleave<S>::interleave(even, odd, p): the reverse, storing 2 * kLanes floats at p

#include "kernels/simd/simd.h"

namespace kiln::kernels::simd {

template <typename S> struct Interleave;

#if defined(__AVX2__) && defined(__FMA__)
template <> struct Interleave<Avx2> {
  using V = Avx2::V;
  // Shuffle within 128-bit halves, then put the 64-bit quarters in order.
  static void deinterleave(const float* p, V* even, V* odd) {
    const V a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    const V e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  static void interleave(V even, V odd, float* p) {
    const V lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);  // e0 o0 e1 o1 | e4 o4 e5 o5 ...
    _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
};
#endif

#if defined(__AVX512F__) && defined(__AVX512DQ__)
template <> struct Interleave<Avx512> {
  using V = Avx512::V;
  static void deinterleave(const float* p, V* even, V* odd) {
    const V a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
    *even = _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
    *odd = _mm512_permutex2var_ps(a, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b);
  }
  static void interleave(V even, V odd, float* p) {
    _mm512_storeu_ps(p, _mm512_permutex2var_ps(even, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), odd));
    _mm512_storeu_ps(p + 16,
                     _mm512_permutex2var_ps(even, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), odd));
  }
};
#endif

}  // namespace kiln::kernels::simd
