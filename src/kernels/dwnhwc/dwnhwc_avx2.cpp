// The channels-last depthwise kernel at the AVX2 tier (8 lanes, 16 registers); the logic is shared with AVX-512 in
// dwnhwc_impl.h.

#include "kernels/dwnhwc/dwnhwc_impl.h"
#include "kernels/simd/simd_pair.h"

namespace kiln::kernels {

void dwnhwc_f32_avx2(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  dwnhwc_detail::run<simd::Avx2, 16>(s, a, begin, end);
}

// The AVX-512 kernel's 16-lane logic on AVX2 instructions (simd::Avx2Pair), for the tests on CPUs without AVX-512;
// never dispatched. It takes the AVX-512 kernel's paths (32 registers: the filter-in-registers strips), spilling.
void dwnhwc_f32_avx512_logic(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  dwnhwc_detail::run<simd::Avx2Pair, 32>(s, a, begin, end);
}

}  // namespace kiln::kernels
