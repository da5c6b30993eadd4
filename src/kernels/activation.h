#pragma once
// Activations a kernel applies to its results before they are stored (the fused epilogue of Conv, Gemm and
// MatMul), and the dispatched routine that applies one to an array. The parameters are data the kernel takes,
// not a kernel per activation.

#include <cstdint>

namespace kiln::kernels {

enum class Activation : uint8_t {
  kNone,
  kRelu,         ///< max(x, 0)
  kClip,         ///< min(max(x, alpha), beta)
  kLeakyRelu,    ///< x >= 0 ? x : alpha * x
  kSigmoid,      ///< 1 / (1 + exp(-x))
  kTanh,
  kHardSigmoid,  ///< max(0, min(1, alpha * x + beta))
  kHardSwish,    ///< x * max(0, min(1, x / 6 + 1/2))
  kSilu,         ///< x * sigmoid(x)
  kGeluErf,      ///< 0.5 x (1 + erf(x / sqrt 2))
  kGeluTanh,     ///< 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
};

struct ActivationParams {
  Activation kind = Activation::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
};

/// "relu", "clip", ... (for plan dumps and profiles).
const char* activation_name(Activation a);

/// y[i] = act(x[i]) for i < n; x and y may be the same array. Dispatched to the active ISA tier.
void apply_activation_f32(const ActivationParams& act, const float* x, float* y, int64_t n);

/// The plain scalar definition (the oracle the fast versions are tested against).
void apply_activation_f32_ref(const ActivationParams& act, const float* x, float* y, int64_t n);

}  // namespace kiln::kernels
