// The Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms at the AVX2 tier (8 tiles per vector); the logic is shared in winograd_impl.h and
// winograd_f4_impl.h.

#include "kernels/winograd/winograd_f4_impl.h"
#include "kernels/winograd/winograd_impl.h"

namespace kiln::kernels {

void winograd_f2k3_avx2_input(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg,
                              float* v, float* scratch) {
  winograd_detail::input<simd::Avx2>(s, x, channels, seg, v, scratch);
}

void winograd_f2k3_avx2_output(const WinogradShape& s, const float* m, int64_t channels, const WinogradSegment& seg,
                               const float* bias, const float* residual, float* y, const ActivationParams& act) {
  winograd_detail::output<simd::Avx2>(s, m, channels, seg, bias, residual, y, act);
}

void winograd_f4k3_avx2_input(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg,
                              float* v, float* scratch) {
  winograd_f4_detail::input<simd::Avx2>(s, x, channels, seg, v, scratch);
}

void winograd_f4k3_avx2_output(const WinogradShape& s, const float* m, int64_t channels, const WinogradSegment& seg,
                               const float* bias, const float* residual, float* y, const ActivationParams& act) {
  winograd_f4_detail::output<simd::Avx2>(s, m, channels, seg, bias, residual, y, act);
}

}  // namespace kiln::kernels
