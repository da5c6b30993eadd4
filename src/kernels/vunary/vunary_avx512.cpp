// The vunary kernel for AVX-512 (compiled with the avx512 flags: see CMakeLists.txt).
#include "kernels/vunary/vunary_impl.h"

namespace kiln::kernels {

void vunary_f32_avx512(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n) {
  vunary_detail::vunary<simd::Avx512>(op, alpha, beta, x, y, n);
}

}  // namespace kiln::kernels
