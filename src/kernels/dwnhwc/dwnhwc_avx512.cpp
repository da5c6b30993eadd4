// The channels-last depthwise kernel at the AVX-512 tier (16 lanes, 32 registers); the logic is shared with AVX2
// in dwnhwc_impl.h.

// GCC 12's AVX-512 headers build their "undefined" registers as `__m512 __Y = __Y;` (_mm512_max_ps and others,
// GCC bug 105593), which -Wuninitialized reports at every inlined use: a false positive inside the compiler's own
// header.
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/dwnhwc/dwnhwc_impl.h"

namespace kiln::kernels {

void dwnhwc_f32_avx512(const DwNhwcShape& s, const DwNhwcArgs& a, int64_t begin, int64_t end) {
  dwnhwc_detail::run<simd::Avx512, 32>(s, a, begin, end);
}

}  // namespace kiln::kernels
