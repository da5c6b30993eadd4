#include "kernels/activation.h"

#include "kernels/vunary/vunary.h"

namespace kiln::kernels {

// The epilogue of every GEMM and convolution tile comes through here, so the lookup is a short walk of the
// vunary list (no allocation, no locks) and the kernel handles short rows with masked tails.
void apply_activation_f32(const ActivationParams& act, const float* x, float* y, int64_t n) {
  if (act.kind == Activation::kNone) {
    if (x != y) vunary_f32(UnaryOp::kIdentity, 0.0f, 0.0f, x, y, n);
    return;
  }
  vunary_f32(unary_op_of(act.kind), act.alpha, act.beta, x, y, n);
}

}  // namespace kiln::kernels
