// The vrow kernels for AVX-512 (compiled with the avx512 flags: see CMakeLists.txt).
// Constant-initialised (constinit): no static initialiser runs in this file.
#include "kernels/vrow/vrow_impl.h"

namespace kiln::kernels {

constinit const VRowKernels vrow_f32_avx512 = vrow_detail::make<simd::Avx512>("vrow_f32_avx512", IsaTier::kAvx512);

}  // namespace kiln::kernels
