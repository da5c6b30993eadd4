// Pooling kernels for AVX-512 F/DQ/BW/VL (16 lanes). Functions only: no static initializers in an ISA file.
// GCC 12 warns that _mm512_undefined_ps() inside its own intrinsics "may be used uninitialized": a false
// positive of the compiler's headers, not of this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/pool/pool_impl.h"
#include "kernels/simd/simd_extra.h"

namespace kiln::kernels {
KILN_DEFINE_POOL_KERNELS(avx512, simd::Avx512Ext)
}  // namespace kiln::kernels
