// The FMA-peak loop on 16-lane AVX-512 registers (peak_list.h): the same template as AVX2, only the register
// width differs. Compiled with the AVX-512 flags; functions only.

#include "kernels/peak/peak.h"
#include "kernels/peak/peak_loop.h"

namespace kiln::kernels::peak {

uint64_t peak_fma_f32_12x16_avx512(uint64_t iterations, float* sink) {
  return fma_chains<simd::Avx512, 12>(iterations, sink);
}

}  // namespace kiln::kernels::peak
