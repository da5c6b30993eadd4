// The channels-last depthwise kernel at the AVX2 tier (8 lanes, 16 registers); the logic is shared with AVX-512 in
// dwnhwc_impl.h.

#include "kernels/dwnhwc/dwnhwc_impl.h"

namespace kiln::kernels {

void dwnhwc_f32_avx2(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  dwnhwc_detail::run<simd::Avx2, 16>(s, a, begin, end);
}

}  // namespace kiln::kernels
