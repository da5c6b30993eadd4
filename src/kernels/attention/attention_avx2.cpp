// The attention row kernels at the AVX2 + FMA tier (8 lanes). No static initializers: constant data only.
#include "kernels/attention/attention_impl.h"

namespace kiln::kernels {
constinit const AttentionRowKernels attention_rows_f32_avx2 =
    attention_impl::make_kernels<simd::Avx2>("attention_rows_f32_avx2", IsaTier::kAvx2);
}  // namespace kiln::kernels
