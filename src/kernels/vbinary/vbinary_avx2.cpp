// The vbinary kernel for AVX2 + FMA (compiled with the avx2 flags: see CMakeLists.txt).
#include "kernels/vbinary/vbinary_impl.h"

namespace kiln::kernels {

void vbinary_f32_avx2(BinaryOp op, const BinaryBlock& block) { vbinary_detail::vbinary<simd::Avx2>(op, block); }

}  // namespace kiln::kernels
