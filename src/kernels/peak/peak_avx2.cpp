// The FMA-peak loop on 8-lane AVX2 registers (peak_list.h). Compiled with -mavx2 -mfma; functions only.

#include "kernels/peak/peak.h"
#include "kernels/peak/peak_loop.h"

namespace kiln::kernels::peak {

uint64_t peak_fma_f32_12x8_avx2(uint64_t iterations, float* sink) {
  return fma_chains<simd::Avx2, 12>(iterations, sink);
}

}  // namespace kiln::kernels::peak
