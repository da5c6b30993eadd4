// Resize kernels for AVX2 + FMA (8 lanes). Functions only: no static initializers in an ISA file.
#include "kernels/resize/resize_impl.h"
#include "kernels/simd/simd_extra.h"

namespace kiln::kernels {
KILN_DEFINE_RESIZE_KERNELS(avx2, simd::Avx2Ext)
}  // namespace kiln::kernels
