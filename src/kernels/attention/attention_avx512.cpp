// The attention row kernels at the AVX-512 tier (16 lanes). No static initializers: constant data only.
// GCC 12's AVX-512 headers build their "undefined" registers as `__m512 __Y = __Y;`, which -Wuninitialized
// reports inside every inlined reduce/max: a false positive of the header, silenced for this file only.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/attention/attention_impl.h"

namespace kiln::kernels {
constinit const AttentionRowKernels attention_rows_f32_avx512 =
    attention_impl::make_kernels<simd::Avx512>("attention_rows_f32_avx512", IsaTier::kAvx512);
}  // namespace kiln::kernels
