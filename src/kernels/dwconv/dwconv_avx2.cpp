// The depthwise plane kernel at the AVX2 tier (8 lanes); the logic is shared with AVX-512 in dwconv_impl.h.

#include "kernels/dwconv/dwconv_impl.h"

namespace kiln::kernels {

void dwconv_f32_avx2(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  dwconv_detail::run<simd::Avx2>(shape, a, begin, end, scratch);
}

}  // namespace kiln::kernels
