// The AVX2 + FMA instantiation of the GEMM micro-kernels (gemm_tile.h): 6 x 16 tile (see gemm_list.h).
// Built with -mavx2 -mfma (file suffix); only functions and a constant table, no static initializer.

#include "kernels/gemm/gemm_tile.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels {

const GemmMicroKernel* gemm_f32_6x16_avx2() {
  static constexpr GemmMicroKernel kernel = make_gemm_micro_kernel<simd::Avx2, 6>();
  return &kernel;
}

}  // namespace kiln::kernels
