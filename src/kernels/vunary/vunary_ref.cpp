// The vunary family's scalar reference: each function in double, rounded once to float.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/vunary/vunary.h"

namespace kiln::kernels {

double vunary_ref_value(UnaryOp op, float alpha, float beta, float xf) {
  const double x = xf;
  auto sigmoid = [](double v) { return v >= 0 ? 1.0 / (1.0 + std::exp(-v)) : std::exp(v) / (1.0 + std::exp(v)); };
  switch (op) {
    case UnaryOp::kIdentity: return x;
    case UnaryOp::kRelu: return xf < 0.0f ? 0.0 : x;
    case UnaryOp::kClip: return std::min<double>(std::max<double>(x, alpha), beta);
    case UnaryOp::kLeakyRelu: return xf < 0.0f ? double(alpha) * x : x;
    case UnaryOp::kSigmoid: return sigmoid(x);
    case UnaryOp::kTanh: return std::tanh(x);
    case UnaryOp::kHardSigmoid: return std::isnan(x) ? x : std::clamp(double(alpha) * x + beta, 0.0, 1.0);
    case UnaryOp::kHardSwish: return std::isnan(x) ? x : x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0);
    case UnaryOp::kSilu: return x * sigmoid(x);
    case UnaryOp::kGeluErf: return 0.5 * x * std::erfc(-x / std::numbers::sqrt2);
    case UnaryOp::kGeluTanh: {
      const double u = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
      return x * sigmoid(2.0 * u);  // = x/2 (1 + tanh u), without cancellation
    }
    case UnaryOp::kExp: return std::exp(x);
    case UnaryOp::kLog: return std::log(x);
    case UnaryOp::kErf: return std::erf(x);
    case UnaryOp::kSqrt: return std::sqrt(x);
    case UnaryOp::kNeg: return -x;
    case UnaryOp::kAbs: return std::fabs(x);
    case UnaryOp::kSoftplus: return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    case UnaryOp::kSquare: return x * x;
    case UnaryOp::kAffine: return double(alpha) * x + beta;
  }
  return x;
}

void vunary_f32_ref(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(vunary_ref_value(op, alpha, beta, x[i]));
}

}  // namespace kiln::kernels
