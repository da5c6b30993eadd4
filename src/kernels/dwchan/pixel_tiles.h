#pragma once
// 8x8 transposes between NCHW planes and "pixel rows" (pixel p holds its channels side by side at p * stride),
// written with AVX2 instructions, which every AVX-512 machine also has: shared by the channel-blocked kernels
// (dwchan, stemconv) of both tiers. Include only from files compiled with AVX2 or AVX-512 flags.

#include <immintrin.h>

#include <cstdint>

namespace kiln::kernels::pixel_tiles {

// r[i] = row i of an 8x8 tile in, column i out.
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Lanes [0, n) set (n <= 8).
inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Output pixels [c, c + n) (n <= 8) of the pixel row `in` into row `row` of planes dst[h..h+7] (the first `count`
// of dst). `spill`: the 8 - n floats past the pixels may be written (they belong to rows written later).
template <int L>
inline void store_tile(const float* in, float* const* dst, int64_t count, int64_t row, int64_t c, int64_t n,
                       bool spill) {
  for (int h = 0; h < L && h < count; h += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = i < n ? _mm256_loadu_ps(in + (c + i) * L + h) : _mm256_setzero_ps();
    transpose8(r);
    for (int i = 0; i < 8 && h + i < count; ++i) {
      if (n == 8 || spill) {
        _mm256_storeu_ps(dst[h + i] + row + c, r[i]);
      } else {  // AVX2's masked store is microcoded on AMD cores: a short copy is cheaper
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, r[i]);
        float* out = dst[h + i] + row + c;
        for (int j = 0; j < 8; ++j)  // not a loop of n: that becomes a memcpy call
          if (j < n) out[j] = tmp[j];
      }
    }
  }
}

// The pixel row `in` (out_w pixels of L channels) into output row oh of the first `count` planes dst[l] (rows of
// out_w floats); `spill` as in store_tile. Widths that are not a multiple of 8 end with a tile overlapping the one
// before (it writes the same values again).
template <int L>
inline void store_row(int64_t out_w, const float* in, float* const* dst, int64_t count, int64_t oh, bool spill) {
  const int64_t row = oh * out_w;
  if (out_w < 8) return store_tile<L>(in, dst, count, row, 0, out_w, spill);
  int64_t c = 0;
  for (; c + 8 <= out_w; c += 8) store_tile<L>(in, dst, count, row, c, 8, false);
  if (c < out_w) store_tile<L>(in, dst, count, row, out_w - 8, 8, false);
}

}  // namespace kiln::kernels::pixel_tiles
