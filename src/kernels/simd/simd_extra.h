#pragma once
// Loads the data-movement kernels (pool, resize) need beyond simd.h's arithmetic, with the same two-tier
// shape: Avx2Ext / Avx512Ext extend simd::Avx2 / simd::Avx512, so a kernel written over `S` keeps using S::add,
// S::max... and also gets:
//   load_even(p)        lanes p[0], p[2], ..., p[2 * (kLanes - 1)]: reads exactly those 2 * kLanes - 1 floats
//                       (never p[2 * kLanes - 1], which may lie past the end of a row)
//   even_lanes(lo, hi)  lanes lo[0], lo[2], ..., hi[0], hi[2], ...: the even lanes of the 2 * kLanes values lo, hi
//   even_lanes_unordered(lo, hi), odd_lanes_unordered(lo, hi), to_lane_order(v)
//                       the even (odd: lo[1], lo[3], ...) lanes in an order of the tier's choosing, which
//                       to_lane_order puts right: lane-wise operations may come between, and only the result
//                       pays the reordering (AVX2: a lane-crossing permute per result instead of per operand)
//   shift_in_next(a, b) lanes a[1], ..., a[kLanes - 1], b[0]
//   gather(base, idx)   lanes base[idx[0]], ..., base[idx[kLanes - 1]] (idx: kLanes int32 offsets)
//   select_nan(a, b)    lane-wise: b where b is NaN, else a
//   I, load_index(p), sub_index(i, k), permute(v, i)
//                       an int32 index vector (kLanes lanes); i - k lane-wise; lanes v[i[0]], ..., v[i[kLanes - 1]]
//                       (each index in [0, kLanes)): a gather from one loaded vector, much cheaper than gather()
// Kept apart from simd.h so the families that use them can grow them without touching the shared header;
// include only from a file compiled with the tier's flags, like simd.h.

#include <immintrin.h>

#include <cstdint>

#include "kernels/simd/simd.h"

namespace kiln::kernels::simd {

#if defined(__AVX2__) && defined(__FMA__)
struct Avx2Ext : Avx2 {
  static V load_even(const float* p) {
    return even_lanes(load(p), load_partial(p + 8, 7));  // p8 .. p14 (lane 7 reads as 0, unused)
  }
  static V even_lanes(V lo, V hi) { return to_lane_order(even_lanes_unordered(lo, hi)); }
  static V even_lanes_unordered(V lo, V hi) { return _mm256_shuffle_ps(lo, hi, 0x88); }  // lo0 lo2 hi0 hi2 | lo4 ..
  static V odd_lanes_unordered(V lo, V hi) { return _mm256_shuffle_ps(lo, hi, 0xDD); }   // lo1 lo3 hi1 hi3 | lo5 ..
  static V to_lane_order(V v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8)); }
  /// Lanes a[1], ..., a[7], b[0]: [a's high half, b's low half], then each 128-bit half of (that : a) one lane on.
  static V shift_in_next(V a, V b) {
    const __m256i ahi_blo = _mm256_castps_si256(_mm256_permute2f128_ps(a, b, 0x21));
    return _mm256_castsi256_ps(_mm256_alignr_epi8(ahi_blo, _mm256_castps_si256(a), 4));
  }
  static V gather(const float* base, const int32_t* idx) {
    return _mm256_i32gather_ps(base, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), 4);
  }
  static V select_nan(V a, V b) { return _mm256_blendv_ps(a, b, _mm256_cmp_ps(b, b, _CMP_UNORD_Q)); }
  using I = __m256i;
  static I load_index(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static I sub_index(I i, int32_t k) { return _mm256_sub_epi32(i, _mm256_set1_epi32(k)); }
  static V permute(V v, I i) { return _mm256_permutevar8x32_ps(v, i); }
};
#endif

#if defined(__AVX512F__) && defined(__AVX512DQ__)
struct Avx512Ext : Avx512 {
  static V load_even(const float* p) {
    return even_lanes(load(p), load_partial(p + 16, 15));
  }
  static V even_lanes(V lo, V hi) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(lo, even, hi);
  }
  static V even_lanes_unordered(V lo, V hi) { return even_lanes(lo, hi); }  // one instruction: in order already
  static V odd_lanes_unordered(V lo, V hi) {
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_permutex2var_ps(lo, odd, hi);
  }
  static V to_lane_order(V v) { return v; }
  /// Lanes a[1], ..., a[15], b[0]: a vector of values one lane further on, the last from b.
  static V shift_in_next(V a, V b) {
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), 1));
  }
  static V gather(const float* base, const int32_t* idx) {
    return _mm512_i32gather_ps(_mm512_loadu_si512(idx), base, 4);
  }
  static V select_nan(V a, V b) { return _mm512_mask_mov_ps(a, _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q), b); }
  using I = __m512i;
  static I load_index(const int32_t* p) { return _mm512_loadu_si512(p); }
  static I sub_index(I i, int32_t k) { return _mm512_sub_epi32(i, _mm512_set1_epi32(k)); }
  static V permute(V v, I i) { return _mm512_permutexvar_ps(i, v); }
};
#endif

}  // namespace kiln::kernels::simd
