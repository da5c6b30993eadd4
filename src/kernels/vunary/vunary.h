#pragma once
// Vectorised element-wise math over float32 arrays: y[i] = f(x[i]). One kernel per ISA tier (listed in
// vunary_list.h) takes the function as a parameter, so a call costs one switch outside the loop and a row of
// 16 elements is as cheap to dispatch as a row of a million (the GEMM and conv epilogues call it per tile).
//
// Accuracy against the exact value (float64), measured on AVX2 over 48 random inputs of each sign in every
// binade, a dense grid on [-12, 12], denormals, ±inf and NaN (tests/kernels/vunary_test.cpp asserts the bound in
// brackets; AVX-512 is the same code on 16 lanes, but for the table-driven exp of Sigmoid and SiLU). Relu, Clip,
// Neg, Abs are exact; Sqrt, Square, LeakyRelu, HardSigmoid, Affine are one correctly rounded operation (0.5 ulp).
//   Exp        0.97 ulp [2]; overflows to +inf past ln(FLT_MAX); denormal results are kept, not flushed
//   Log        0.74 ulp [2]; log(0) = -inf, log(x < 0) = NaN, log(inf) = inf; denormal inputs exact-scaled
//   Sigmoid    2.1 ulp [3], including the denormal tail for x < -87 (|x| <= 87: vmath::sigmoid_nonpositive)
//   Tanh       4.6 ulp [5] (a rational fit; the largest errors are near ±9, where tanh is within 3e-7 of ±1)
//   Erf        5.4 ulp [6] (a rational fit; the largest errors are near ±3.9, where erf is within 1e-7 of ±1)
//   HardSwish  2.2 ulp [3]
//   Softplus   2.7 ulp [3]
//   Silu       3.0 ulp [4] for x >= -87; below, x times a denormal exp: absolute error <= |x| 2^-148
//   GeluErf    7.0 ulp [8] for x >= -1.3; below, 1 + erf(x/√2) cancels: absolute error <= 2e-7 |x|
//   GeluTanh   6.9 ulp [8] for x >= -1.3; below, 1 + tanh(u) cancels: absolute error <= 2e-7 |x|
// NaN in gives NaN out for every function. See vunary_math.h for each approximation.

#include <cstdint>
#include <span>

#include "kernels/activation.h"
#include "kernels/isa.h"

namespace kiln::kernels {

enum class UnaryOp : uint8_t {
  kIdentity,
  kRelu,         ///< max(x, 0); NaN stays NaN
  kClip,         ///< min(max(x, alpha), beta)
  kLeakyRelu,    ///< x >= 0 ? x : alpha x
  kSigmoid,
  kTanh,
  kHardSigmoid,  ///< max(0, min(1, alpha x + beta))
  kHardSwish,    ///< x max(0, min(1, x / 6 + 1/2))
  kSilu,         ///< x sigmoid(x)
  kGeluErf,      ///< x/2 (1 + erf(x / √2))
  kGeluTanh,     ///< x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))
  kExp,
  kLog,
  kErf,
  kSqrt,
  kNeg,
  kAbs,
  kSoftplus,     ///< log(1 + exp(x))
  kSquare,       ///< x · x (Pow with exponent 2)
  kAffine,       ///< alpha x + beta (inference BatchNormalization per channel)
};
inline constexpr int kUnaryOpCount = static_cast<int>(UnaryOp::kAffine) + 1;

/// "exp", "gelu_erf", ... (benchmarks, plan dumps).
const char* unary_op_name(UnaryOp op);
/// The UnaryOp computing an epilogue activation (kNone maps to kIdentity).
UnaryOp unary_op_of(Activation a);

/// One tier's kernel: y[i] = op(x[i]) for i < n, with the op's parameters alpha and beta (ignored by ops
/// without). x and y may be the same array, or not overlap at all; no alignment needed.
using VUnaryFn = void (*)(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n);

#define KILN_VUNARY(name, tier) void name(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n);
#include "kernels/vunary/vunary_list.h"
#undef KILN_VUNARY

struct VUnaryKernel {
  const char* name;
  IsaTier tier;
  VUnaryFn fn;
};
/// Every kernel of the family, best tier first (tests and benchmarks walk it).
std::span<const VUnaryKernel> vunary_kernels();
/// The best kernel at or below `tier`, or nullptr (kRef).
VUnaryFn vunary_kernel_for(IsaTier tier);

/// Dispatched to the active tier; the scalar reference when it is kRef.
void vunary_f32(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n);

/// The scalar reference: computed in double and rounded once (the oracle the kernels are tested against).
void vunary_f32_ref(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n);
/// The exact-as-double value the reference rounds (for ulp measurements).
double vunary_ref_value(UnaryOp op, float alpha, float beta, float x);

}  // namespace kiln::kernels
