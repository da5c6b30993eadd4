// The channel-blocked depthwise kernel at the AVX-512 tier (16 lanes); the logic is shared with AVX2 in
// dwchan_impl.h.

// GCC 12 warns that _mm512_max_ps's internal _mm512_undefined_ps() "may be used uninitialized" (GCC bug 105593,
// fixed in GCC 13): a false positive inside the compiler's own header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/dwchan/dwchan_impl.h"

namespace kiln::kernels {

void dwchan_f32_avx512(const DwConvShape& shape, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  dwchan_detail::run<simd::Avx512>(shape, a, begin, end, scratch);
}

}  // namespace kiln::kernels
