// The depthwise plane kernel at the AVX2 tier (8 lanes); the logic is shared with AVX-512 in dwconv_impl.h.

#include "kernels/dwconv/dwconv_impl.h"

namespace kiln::kernels {

void dwconv_f32_avx2(const DwConvShape& shape, const DwConvPlane& plane, const ActivationParams& act, float* scratch) {
  dwconv_detail::plane<simd::Avx2>(shape, plane, act, scratch);
}

}  // namespace kiln::kernels
