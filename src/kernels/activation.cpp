#include "kernels/activation.h"

namespace kiln::kernels {

// Until the vectorised activations land, the dispatched entry point is the reference.
void apply_activation_f32(const ActivationParams& act, const float* x, float* y, int64_t n) {
  apply_activation_f32_ref(act, x, y, n);
}

}  // namespace kiln::kernels
