// The depthwise plane kernel at the AVX2 tier (8 lanes); the logic is shared with AVX-512 in dwconv_impl.h.

#include "kernels/dwconv/dwconv_impl.h"

namespace kiln::kernels {
namespace {

// The tier's wrapper plus the one shuffle dwconv_impl.h needs that simd.h does not have.
struct Avx2Dw : simd::Avx2 {
  // Even and odd lanes of a = p[0..8) and b = p[8..16): shuffle within 128-bit halves, then put the halves in order.
  static void deinterleave(const float* p, V* even, V* odd) {
    const V a = load(p), b = load(p + 8);
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
  }
};

}  // namespace

void dwconv_f32_avx2(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  dwconv_detail::run<Avx2Dw>(shape, a, begin, end, scratch);
}

}  // namespace kiln::kernels
