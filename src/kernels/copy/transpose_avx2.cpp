// 8 x 8 register transposes of 4-byte elements for AVX2. Functions only: no static initializers in an ISA file.
#include <immintrin.h>

#include <algorithm>

#include "kernels/copy/transpose.h"

namespace kiln::kernels {

namespace {

/// Rows r[0..8) of 8 elements become columns: r[j] holds element j of every input row.
inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

}  // namespace

void transpose_4byte_avx2(uint32_t* dst, int64_t dst_a, const uint32_t* src, int64_t src_b, int64_t a0, int64_t a1,
                          int64_t b_len) {
  // Chunks of 64 source rows keep the lines a chunk reads (64 rows x 32 bytes per block column) near L1 while
  // the blocks sweep across; the copy moves floats as bit patterns (no arithmetic), so any 4-byte type works.
  constexpr int64_t kChunk = 64;
  const int64_t a_vec_end = a0 + (a1 - a0) / 8 * 8;
  for (int64_t bc = 0; bc < b_len; bc += kChunk) {
    const int64_t be = std::min(b_len, bc + kChunk);
    const int64_t b_vec_end = bc + (be - bc) / 8 * 8;
    for (int64_t a = a0; a < a_vec_end; a += 8) {
      for (int64_t b = bc; b < b_vec_end; b += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(reinterpret_cast<const float*>(src + a + (b + i) * src_b));
        transpose8x8(r);
        for (int j = 0; j < 8; ++j) _mm256_storeu_ps(reinterpret_cast<float*>(dst + (a + j) * dst_a + b), r[j]);
      }
      for (int64_t j = 0; j < 8; ++j)  // the chunk's last b % 8 rows
        for (int64_t b = b_vec_end; b < be; ++b) dst[(a + j) * dst_a + b] = src[a + j + b * src_b];
    }
    for (int64_t a = a_vec_end; a < a1; ++a)  // the last a % 8 columns
      for (int64_t b = bc; b < be; ++b) dst[a * dst_a + b] = src[a + b * src_b];
  }
}

}  // namespace kiln::kernels
