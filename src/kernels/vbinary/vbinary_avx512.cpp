// The vbinary kernel for AVX-512 (compiled with the avx512 flags: see CMakeLists.txt).
#include "kernels/vbinary/vbinary_impl.h"

namespace kiln::kernels {

void vbinary_f32_avx512(BinaryOp op, const BinaryBlock& block) { vbinary_detail::vbinary<simd::Avx512>(op, block); }

}  // namespace kiln::kernels
