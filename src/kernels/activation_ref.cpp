#include <algorithm>
#include <cmath>

#include "kernels/activation.h"

namespace kiln::kernels {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kClip: return "clip";
    case Activation::kLeakyRelu: return "leaky_relu";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kTanh: return "tanh";
    case Activation::kHardSigmoid: return "hard_sigmoid";
    case Activation::kHardSwish: return "hard_swish";
    case Activation::kSilu: return "silu";
    case Activation::kGeluErf: return "gelu_erf";
    case Activation::kGeluTanh: return "gelu_tanh";
  }
  return "?";
}

namespace {

// Computed in double and rounded once, so the reference is correctly rounded for all but ties.
float activate(const ActivationParams& p, float xf) {
  const double x = xf;
  switch (p.kind) {
    case Activation::kNone: return xf;
    case Activation::kRelu: return xf < 0.0f ? 0.0f : xf;  // NaN stays NaN, as Relu (max(x, 0)) keeps it
    case Activation::kClip: return std::min(std::max(xf, p.alpha), p.beta);
    case Activation::kLeakyRelu: return xf >= 0.0f ? xf : p.alpha * xf;
    case Activation::kSigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    case Activation::kTanh: return static_cast<float>(std::tanh(x));
    case Activation::kHardSigmoid: return static_cast<float>(std::clamp(p.alpha * x + p.beta, 0.0, 1.0));
    case Activation::kHardSwish: return static_cast<float>(x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0));
    case Activation::kSilu: return static_cast<float>(x / (1.0 + std::exp(-x)));
    case Activation::kGeluErf: return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
    case Activation::kGeluTanh: {
      const double k = std::sqrt(2.0 / 3.14159265358979323846);
      return static_cast<float>(0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x))));
    }
  }
  return xf;
}

}  // namespace

void apply_activation_f32_ref(const ActivationParams& act, const float* x, float* y, int64_t n) {
  if (act.kind == Activation::kNone) {
    if (x != y) std::copy(x, x + n, y);
    return;
  }
  for (int64_t i = 0; i < n; ++i) y[i] = activate(act, x[i]);
}

}  // namespace kiln::kernels
