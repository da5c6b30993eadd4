// The few-input-channel convolution kernel at the AVX2 tier (8 lanes); the logic is shared with AVX-512 in
// stemconv_impl.h.

#include "kernels/stemconv/stemconv_impl.h"
#include "kernels/simd/simd_pair.h"

namespace kiln::kernels {

void stemconv_f32_avx2(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end,
                       float* scratch) {
  stemconv_detail::run<simd::Avx2>(shape, a, begin, end, scratch);
}

// The AVX-512 kernel's 16-lane logic on AVX2 instructions (simd::Avx2Pair), for the tests on CPUs without AVX-512;
// never dispatched.
void stemconv_f32_avx512_logic(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end,
                               float* scratch) {
  stemconv_detail::run<simd::Avx2Pair, false>(shape, a, begin, end, scratch);
}

}  // namespace kiln::kernels
