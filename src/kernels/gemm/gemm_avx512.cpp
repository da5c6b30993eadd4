// The AVX-512F instantiation of the GEMM micro-kernels (gemm_tile.h): 12 x 32 tile (see gemm_list.h for why).
// Built with AVX-512 F/DQ/BW/VL flags (file suffix); only functions and a constant table, no static initializer.
// Its template arguments are those of gemm_f32_12x32_portable, which the tests run on every CPU.

#include "kernels/gemm/gemm_tile.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels {

const GemmMicroKernel* gemm_f32_12x32_avx512() {
  static constexpr GemmMicroKernel kernel = make_gemm_micro_kernel<simd::Avx512, 12>();
  return &kernel;
}

}  // namespace kiln::kernels
