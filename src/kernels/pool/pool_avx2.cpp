// Pooling kernels for AVX2 + FMA (8 lanes). Functions only: no static initializers in an ISA file.
#include "kernels/pool/pool_impl.h"
#include "kernels/simd/simd_extra.h"

namespace kiln::kernels {
KILN_DEFINE_POOL_KERNELS(avx2, simd::Avx2Ext, simd::Avx2Ext)
}  // namespace kiln::kernels
