// The depthwise plane kernel at the AVX-512 tier (16 lanes); the logic is shared with AVX2 in dwconv_impl.h.

// GCC 12 warns that _mm512_max_ps's internal _mm512_undefined_ps() "may be used uninitialized" (GCC bug 105593,
// fixed in GCC 13): a false positive inside the compiler's own header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/dwconv/dwconv_impl.h"

namespace kiln::kernels {
namespace {

// The tier's wrapper plus the one shuffle dwconv_impl.h needs that simd.h does not have.
struct Avx512Dw : simd::Avx512 {
  // Even and odd lanes of p[0..32): one two-source permute each.
  static void deinterleave(const float* p, V* even, V* odd) {
    const V a = load(p), b = load(p + 16);
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *even = _mm512_permutex2var_ps(a, ie, b);
    *odd = _mm512_permutex2var_ps(a, io, b);
  }
};

}  // namespace

void dwconv_f32_avx512(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  dwconv_detail::run<Avx512Dw>(shape, a, begin, end, scratch);
}

}  // namespace kiln::kernels
