#pragma once
// Lane shuffles for the SIMD wrappers of simd.h that kernels working on stride-2 data need (depthwise stride 2,
// Winograd tiles): splitting 2 vectors of consecutive floats into even and odd lanes, and the reverse. Separate
// from simd.h because only the convolution kernels use them; same rules (include only from a file compiled with
// the tier's flags; guarded by the compiler's feature macros).
//   Interleave<S>::deinterleave(p, &even, &odd): even = p[0], p[2], ..., odd = p[1], p[3], ... (2 * kLanes floats)
//   Interleave<S>::interleave(even, odd, p): the reverse, storing 2 * kLanes floats at p
//   Interleave<S>::split4(x, q): 4 vectors of consecutive floats (x[0] holds floats 0 .. kLanes - 1, ...) into
//     their 4 phases, q[k] = floats k, k + 4, k + 8, ... (Winograd F(4x4, 3x3) tiles start every 4 columns)
//   Interleave<S>::merge4(q, x): the reverse

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
  // A 4x4 transpose of 128-bit rows: halves of x[0], x[2] (and x[1], x[3]) paired first, then transposed within
  // the 128-bit lanes. 12 shuffles and no memory (splitting twice into even and odd lanes took 16 and 8 stores and
  // loads).
  static void split4(const V x[4], V q[4]) {
    const V w0 = _mm256_permute2f128_ps(x[0], x[2], 0x20), w1 = _mm256_permute2f128_ps(x[0], x[2], 0x31);
    const V w2 = _mm256_permute2f128_ps(x[1], x[3], 0x20), w3 = _mm256_permute2f128_ps(x[1], x[3], 0x31);
    const V v0 = _mm256_unpacklo_ps(w0, w1), v1 = _mm256_unpackhi_ps(w0, w1);  // 0 4 1 5 | 16 20 17 21 ...
    const V v2 = _mm256_unpacklo_ps(w2, w3), v3 = _mm256_unpackhi_ps(w2, w3);  // 8 12 9 13 | 24 28 25 29 ...
    q[0] = _mm256_shuffle_ps(v0, v2, _MM_SHUFFLE(1, 0, 1, 0)), q[1] = _mm256_shuffle_ps(v0, v2, _MM_SHUFFLE(3, 2, 3, 2));
    q[2] = _mm256_shuffle_ps(v1, v3, _MM_SHUFFLE(1, 0, 1, 0)), q[3] = _mm256_shuffle_ps(v1, v3, _MM_SHUFFLE(3, 2, 3, 2));
  }
  static void merge4(const V q[4], V x[4]) {
    const V v0 = _mm256_unpacklo_ps(q[0], q[1]), v1 = _mm256_unpackhi_ps(q[0], q[1]);  // 0 1 4 5 | 16 17 20 21 ...
    const V v2 = _mm256_unpacklo_ps(q[2], q[3]), v3 = _mm256_unpackhi_ps(q[2], q[3]);  // 2 3 6 7 | 18 19 22 23 ...
    const V w0 = _mm256_shuffle_ps(v0, v2, _MM_SHUFFLE(1, 0, 1, 0)), w1 = _mm256_shuffle_ps(v0, v2, _MM_SHUFFLE(3, 2, 3, 2));
    const V w2 = _mm256_shuffle_ps(v1, v3, _MM_SHUFFLE(1, 0, 1, 0)), w3 = _mm256_shuffle_ps(v1, v3, _MM_SHUFFLE(3, 2, 3, 2));
    x[0] = _mm256_permute2f128_ps(w0, w1, 0x20), x[1] = _mm256_permute2f128_ps(w2, w3, 0x20);
    x[2] = _mm256_permute2f128_ps(w0, w1, 0x31), x[3] = _mm256_permute2f128_ps(w2, w3, 0x31);
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
  // Phase k of 32 floats (two vectors) is 8 floats: two of them meet in one vector's 128-bit quarters.
  static void split4(const V x[4], V q[4]) {
    for (int k = 0; k < 4; ++k) {
      const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
                                           _mm512_set1_epi32(k));
      const V lo = _mm512_permutex2var_ps(x[0], idx, x[1]), hi = _mm512_permutex2var_ps(x[2], idx, x[3]);
      q[k] = _mm512_shuffle_f32x4(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
    }
  }
  static void merge4(const V q[4], V x[4]) {
    // Pairs first: (q0, q1) and (q2, q3) interleaved, lanes 0-7 and 8-15 of each; then pairs of pairs.
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const V a_lo = _mm512_permutex2var_ps(q[0], lo_idx, q[1]), a_hi = _mm512_permutex2var_ps(q[0], hi_idx, q[1]);
    const V b_lo = _mm512_permutex2var_ps(q[2], lo_idx, q[3]), b_hi = _mm512_permutex2var_ps(q[2], hi_idx, q[3]);
    const __m512i first = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const __m512i second = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    x[0] = _mm512_permutex2var_ps(a_lo, first, b_lo), x[1] = _mm512_permutex2var_ps(a_lo, second, b_lo);
    x[2] = _mm512_permutex2var_ps(a_hi, first, b_hi), x[3] = _mm512_permutex2var_ps(a_hi, second, b_hi);
  }
};
#endif

}  // namespace kiln::kernels::simd
