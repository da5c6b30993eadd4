// The vrow kernels for AVX2 + FMA (compiled with the avx2 flags: see CMakeLists.txt).
// Constant-initialised (constinit): no static initialiser runs in this file.
#include "kernels/vrow/vrow_impl.h"

namespace kiln::kernels {

constinit const VRowKernels vrow_f32_avx2 = vrow_detail::make<simd::Avx2>("vrow_f32_avx2", IsaTier::kAvx2);

}  // namespace kiln::kernels
