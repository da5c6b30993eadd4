#pragma once
// The activations a kernel applies in registers before it stores (Relu and Clip: one max or min per vector;
// HardSwish: vunary's formula, four operations; Sigmoid and SiLU: vunary's vmath::sigmoid / vmath::silu, the
// same bits as apply_activation_f32, saving a load-store pass over the output);
// the others (tanh, GELU, ...) are applied to the stored rows by apply_activation_f32. Shared by the
// convolution kernels' epilogues (dwconv, dwchan, stemconv, winograd). Include only from a file compiled with the
// tier's flags.

#include "kernels/activation.h"
#include "kernels/simd/simd.h"
#include "kernels/vunary/vunary_math.h"

namespace kiln::kernels::simd {

template <typename S> struct RegisterActivation {
  using V = typename S::V;
  Activation kind;
  V lo, hi;
  explicit RegisterActivation(const ActivationParams& a)
      : kind(a.kind), lo(S::set1(a.kind == Activation::kClip ? a.alpha : 0.0f)), hi(S::set1(a.beta)) {}
  /// The operand order gives the reference's NaN behaviour (max/min return their second operand on NaN): Relu
  /// maps NaN to 0, Clip keeps it. HardSwish is vunary's, operation for operation (the same bits).
  V apply(V v) const {
    if (kind == Activation::kRelu) return S::max(v, lo);
    if (kind == Activation::kClip) return S::min(hi, S::max(lo, v));
    if (kind == Activation::kHardSwish)
      return S::mul(v, S::max(S::zero(), S::min(S::set1(1.0f), S::mul(S::add(v, S::set1(3.0f)), S::set1(1.0f / 6)))));
    if (kind == Activation::kSigmoid) return vmath::sigmoid<S>(v);
    if (kind == Activation::kSilu) return vmath::silu<S>(v);
    return v;
  }
  /// False when the caller must run apply_activation_f32 over what it stored.
  bool in_registers() const {
    return kind == Activation::kNone || kind == Activation::kRelu || kind == Activation::kClip ||
           kind == Activation::kHardSwish || kind == Activation::kSigmoid || kind == Activation::kSilu;
  }
};

}  // namespace kiln::kernels::simd
