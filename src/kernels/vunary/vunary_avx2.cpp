// The vunary kernel for AVX2 + FMA (compiled with the avx2 flags: see CMakeLists.txt).
#include "kernels/vunary/vunary_impl.h"

namespace kiln::kernels {

void vunary_f32_avx2(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n) {
  vunary_detail::vunary<simd::Avx2>(op, alpha, beta, x, y, n);
}

}  // namespace kiln::kernels
