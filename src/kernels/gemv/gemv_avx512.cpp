// The matrix-vector kernel at the AVX-512 tier (16 lanes); the logic is shared with AVX2 in gemv_impl.h.

// GCC 12 warns that _mm512_max_ps's internal _mm512_undefined_ps() "may be used uninitialized" (GCC bug 105593,
// fixed in GCC 13): a false positive inside the compiler's own header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/gemv/gemv_impl.h"

namespace kiln::kernels {

void gemv_f32_avx512(const GemvArgs& g, int64_t m_begin, int64_t m_end) {
  gemv_detail::rows<simd::Avx512>(g, m_begin, m_end);
}

void gemv_f32_avx512_side(const GemvArgs& g, int64_t m_begin, int64_t m_end, const GemvSide& side) {
  gemv_detail::rows_side<simd::Avx512>(g, m_begin, m_end, side);
}

void gemv_f32_avx512_batch(const GemvArgs& g, int64_t m_begin, int64_t m_end, int64_t batch, int64_t ldx,
                           int64_t ldy) {
  gemv_detail::batch_rows<simd::Avx512>(g, m_begin, m_end, batch, ldx, ldy);
}

}  // namespace kiln::kernels
