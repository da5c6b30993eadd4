// The few-input-channel convolution kernel at the AVX2 tier (8 lanes); the logic is shared with AVX-512 in stemconv_impl.h.

#include "kernels/stemconv/stemconv_impl.h"

namespace kiln::kernels {

void stemconv_f32_avx2(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  stemconv_detail::run<simd::Avx2>(shape, a, begin, end, scratch);
}

}  // namespace kiln::kernels
