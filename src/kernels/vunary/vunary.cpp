// Dispatch of the vunary family (baseline-compiled): the list's kernels, best tier first.
#include "kernels/vunary/vunary.h"

namespace kiln::kernels {

namespace {
constexpr VUnaryKernel kVUnaryKernels[] = {
#define KILN_VUNARY(name, tier) {#name, tier, name},
#include "kernels/vunary/vunary_list.h"
#undef KILN_VUNARY
};
}  // namespace

std::span<const VUnaryKernel> vunary_kernels() { return kVUnaryKernels; }

VUnaryFn vunary_kernel_for(IsaTier tier) {
  for (const VUnaryKernel& k : kVUnaryKernels)
    if (static_cast<int>(k.tier) <= static_cast<int>(tier)) return k.fn;
  return nullptr;
}

void vunary_f32(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n) {
  if (VUnaryFn fn = vunary_kernel_for(active_isa())) fn(op, alpha, beta, x, y, n);
  else vunary_f32_ref(op, alpha, beta, x, y, n);
}

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::kIdentity: return "identity";
    case UnaryOp::kRelu: return "relu";
    case UnaryOp::kClip: return "clip";
    case UnaryOp::kLeakyRelu: return "leaky_relu";
    case UnaryOp::kSigmoid: return "sigmoid";
    case UnaryOp::kTanh: return "tanh";
    case UnaryOp::kHardSigmoid: return "hard_sigmoid";
    case UnaryOp::kHardSwish: return "hard_swish";
    case UnaryOp::kSilu: return "silu";
    case UnaryOp::kGeluErf: return "gelu_erf";
    case UnaryOp::kGeluTanh: return "gelu_tanh";
    case UnaryOp::kExp: return "exp";
    case UnaryOp::kLog: return "log";
    case UnaryOp::kErf: return "erf";
    case UnaryOp::kSqrt: return "sqrt";
    case UnaryOp::kNeg: return "neg";
    case UnaryOp::kAbs: return "abs";
    case UnaryOp::kSoftplus: return "softplus";
    case UnaryOp::kSquare: return "square";
    case UnaryOp::kAffine: return "affine";
  }
  return "?";
}

UnaryOp unary_op_of(Activation a) {
  switch (a) {
    case Activation::kNone: return UnaryOp::kIdentity;
    case Activation::kRelu: return UnaryOp::kRelu;
    case Activation::kClip: return UnaryOp::kClip;
    case Activation::kLeakyRelu: return UnaryOp::kLeakyRelu;
    case Activation::kSigmoid: return UnaryOp::kSigmoid;
    case Activation::kTanh: return UnaryOp::kTanh;
    case Activation::kHardSigmoid: return UnaryOp::kHardSigmoid;
    case Activation::kHardSwish: return UnaryOp::kHardSwish;
    case Activation::kSilu: return UnaryOp::kSilu;
    case Activation::kGeluErf: return UnaryOp::kGeluErf;
    case Activation::kGeluTanh: return UnaryOp::kGeluTanh;
  }
  return UnaryOp::kIdentity;
}

}  // namespace kiln::kernels
