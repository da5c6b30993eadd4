// The channels-last depthwise kernel at the AVX-512 tier (16 lanes, 32 registers); the logic is shared with AVX2
// in dwnhwc_impl.h.

#include "kernels/dwnhwc/dwnhwc_impl.h"

namespace kiln::kernels {

void dwnhwc_f32_avx512(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  dwnhwc_detail::run<simd::Avx512, 32>(s, a, begin, end);
}

}  // namespace kiln::kernels
