#pragma once
// The vunary kernel, written once over a SIMD wrapper; vunary_avx2.cpp and vunary_avx512.cpp instantiate it.

#include <cstdint>

#include "kernels/simd/simd.h"
#include "kernels/vunary/vunary.h"
#include "kernels/vunary/vunary_math.h"

namespace kiln::kernels::vunary_detail {

/// y = f(x) over n floats: four vectors per step (the approximations are long dependency chains: four in
/// flight keep the FMA units busy), then one at a time, then a masked tail (no scalar loop: a 20-element row
/// costs two full vectors and one masked one on AVX2).
template <class S, class F> inline void map(const float* x, float* y, int64_t n, F f) {
  constexpr int64_t L = S::kLanes;
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    const typename S::V a = S::load(x + i), b = S::load(x + i + L);
    const typename S::V c = S::load(x + i + 2 * L), d = S::load(x + i + 3 * L);
    S::store(y + i, f(a));
    S::store(y + i + L, f(b));
    S::store(y + i + 2 * L, f(c));
    S::store(y + i + 3 * L, f(d));
  }
  for (; i + L <= n; i += L) S::store(y + i, f(S::load(x + i)));
  if (i < n) S::store_partial(y + i, f(S::load_partial(x + i, n - i)), n - i);
}

template <class S>
void vunary(UnaryOp op, float alpha, float beta, const float* x, float* y, int64_t n) {
  using V = typename S::V;
  namespace vm = vmath;
  const V a = S::set1(alpha), b = S::set1(beta);
  const V zero = S::zero(), one = S::set1(1.0f);
  switch (op) {
    case UnaryOp::kIdentity:
      if (x != y) map<S>(x, y, n, [](V v) { return v; });
      return;
    case UnaryOp::kRelu: return map<S>(x, y, n, [=](V v) { return S::max(zero, v); });
    case UnaryOp::kClip: return map<S>(x, y, n, [=](V v) { return S::min(b, S::max(a, v)); });
    case UnaryOp::kLeakyRelu:
      return map<S>(x, y, n, [=](V v) { return S::select(S::lt(v, zero), S::mul(a, v), v); });
    case UnaryOp::kSigmoid: return map<S>(x, y, n, [](V v) { return vm::sigmoid<S>(v); });
    case UnaryOp::kTanh: return map<S>(x, y, n, [](V v) { return vm::tanh<S>(v); });
    case UnaryOp::kHardSigmoid:
      return map<S>(x, y, n, [=](V v) { return S::max(zero, S::min(one, S::fmadd(a, v, b))); });
    case UnaryOp::kHardSwish: {
      // (x + 3) / 6 rather than x / 6 + 1/2: near x = -3 the latter cancels and amplifies 1/6's rounding.
      const V sixth = S::set1(1.0f / 6.0f), three = S::set1(3.0f);
      return map<S>(x, y, n, [=](V v) {
        return S::mul(v, S::max(zero, S::min(one, S::mul(S::add(v, three), sixth))));
      });
    }
    case UnaryOp::kSilu: return map<S>(x, y, n, [](V v) { return vm::silu<S>(v); });
    case UnaryOp::kGeluErf: return map<S>(x, y, n, [](V v) { return vm::gelu_erf<S>(v); });
    case UnaryOp::kGeluTanh: {
      // x/2 (1 + tanh(u)), u = x (c0 + c1 x²) with c0 = √(2/π), c1 = c0 · 0.044715.
      const V c0 = S::set1(0.797884560802865355f), c1 = S::set1(0.0356774081363001f), half = S::set1(0.5f);
      return map<S>(x, y, n, [=](V v) {
        const V u = S::mul(v, S::fmadd(S::mul(v, v), c1, c0));
        return S::mul(S::mul(half, v), S::add(one, vm::tanh<S>(u)));
      });
    }
    case UnaryOp::kExp: return map<S>(x, y, n, [](V v) { return vm::exp<S>(v); });
    case UnaryOp::kLog: return map<S>(x, y, n, [](V v) { return vm::log<S>(v); });
    case UnaryOp::kErf: return map<S>(x, y, n, [](V v) { return vm::erf<S>(v); });
    case UnaryOp::kSqrt: return map<S>(x, y, n, [](V v) { return S::sqrt(v); });
    case UnaryOp::kNeg: return map<S>(x, y, n, [](V v) { return S::neg(v); });
    case UnaryOp::kAbs: return map<S>(x, y, n, [](V v) { return S::abs(v); });
    case UnaryOp::kSoftplus:
      // max(x, 0) + log1p(exp(-|x|)); the max keeps NaN.
      return map<S>(x, y, n, [=](V v) {
        return S::add(S::max(zero, v), vm::log1p_small<S>(vm::exp<S>(S::neg(S::abs(v)))));
      });
    case UnaryOp::kSquare: return map<S>(x, y, n, [](V v) { return S::mul(v, v); });
    case UnaryOp::kAffine: return map<S>(x, y, n, [=](V v) { return S::fmadd(a, v, b); });
  }
}

}  // namespace kiln::kernels::vunary_detail
