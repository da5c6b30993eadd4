// The matrix-vector kernel at the AVX2 tier (8 lanes); the logic is shared with AVX-512 in gemv_impl.h.

#include "kernels/gemv/gemv_impl.h"
#include "kernels/simd/simd_pair.h"

namespace kiln::kernels {

void gemv_f32_avx2(const GemvArgs& g, int64_t m_begin, int64_t m_end) {
  gemv_detail::rows<simd::Avx2>(g, m_begin, m_end);
}

void gemv_f32_avx2_side(const GemvArgs& g, int64_t m_begin, int64_t m_end, const GemvSide& side) {
  gemv_detail::rows_side<simd::Avx2>(g, m_begin, m_end, side);
}

void gemv_f32_avx2_batch(const GemvArgs& g, int64_t m_begin, int64_t m_end, int64_t batch, int64_t ldx, int64_t ldy) {
  gemv_detail::batch_rows<simd::Avx2>(g, m_begin, m_end, batch, ldx, ldy);
}

// The AVX-512 kernel's 16-lane logic on AVX2 instructions (simd::Avx2Pair), for the tests on CPUs without AVX-512;
// never dispatched.
void gemv_f32_avx512_logic(const GemvArgs& g, int64_t m_begin, int64_t m_end) {
  gemv_detail::rows<simd::Avx2Pair>(g, m_begin, m_end);
}

void gemv_side_f32_avx512_logic(const GemvArgs& g, int64_t m_begin, int64_t m_end, const GemvSide& side) {
  gemv_detail::rows_side<simd::Avx2Pair>(g, m_begin, m_end, side);
}

void gemv_batch_f32_avx512_logic(const GemvArgs& g, int64_t m_begin, int64_t m_end, int64_t batch, int64_t ldx,
                                 int64_t ldy) {
  gemv_detail::batch_rows<simd::Avx2Pair>(g, m_begin, m_end, batch, ldx, ldy);
}

}  // namespace kiln::kernels
