#pragma once
// The attention row kernels written once over a SIMD wrapper (kernels/simd/simd.h); attention_avx2.cpp and
// attention_avx512.cpp instantiate them. Include only from a file compiled with a tier's flags.

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/attention/attention.h"
#include "kernels/simd/simd.h"

namespace kiln::kernels::attention_impl {

/// exp(x) for x <= 0 (softmax arguments after the row maximum is subtracted): x = n ln2 + r, |r| <= ln2/2,
/// with ln2 in two parts (Cody-Waite), e^r by the degree-7 Cephes single-precision polynomial, 2^n built in the
/// exponent bits. n >= -126 on the kept range, so 2^n is a normal float; below -87.3 the result is 0. NaN
/// propagates. Accuracy: see attention.h.
template <class S> inline typename S::V exp_nonpositive(typename S::V x) {
  using V = typename S::V;
  const V lo = S::set1(-87.3f);
  const auto underflow = S::lt(x, lo);
  const V xc = S::max(lo, x);  // NaN stays (max returns its second operand on NaN)
  const V n = S::round(S::mul(xc, S::set1(1.44269504088896341f)));
  V r = S::fnmadd(n, S::set1(0.693359375f), xc);
  r = S::fnmadd(n, S::set1(-2.12194440e-4f), r);
  V p = S::set1(1.9875691500e-4f);
  p = S::fmadd(p, r, S::set1(1.3981999507e-3f));
  p = S::fmadd(p, r, S::set1(8.3334519073e-3f));
  p = S::fmadd(p, r, S::set1(4.1665795894e-2f));
  p = S::fmadd(p, r, S::set1(1.6666665459e-1f));
  p = S::fmadd(p, r, S::set1(5.0000001201e-1f));
  p = S::fmadd(p, S::mul(r, r), r);
  p = S::add(p, S::set1(1.0f));
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  // p * 2^n in one instruction: vscalefps rounds the same product once, as the multiply below does.
  if constexpr (std::is_same_v<S, simd::Avx512>) return S::select(underflow, S::zero(), _mm512_scalef_ps(p, n));
#endif
  const V two_n = S::as_float(S::template shl_i<23>(S::add_i(S::to_int(n), S::set1_i(127))));
  return S::select(underflow, S::zero(), S::mul(p, two_n));
}

template <class S> float add_mask_max(float* s, const float* mask, int64_t mask_step, int64_t n) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  V m0 = S::set1(neg_inf), m1 = m0;
  int64_t j = 0;
  if (mask && mask_step == 1) {
    for (; j + 2 * L <= n; j += 2 * L) {
      const V a = S::add(S::load(s + j), S::load(mask + j));
      const V b = S::add(S::load(s + j + L), S::load(mask + j + L));
      S::store(s + j, a);
      S::store(s + j + L, b);
      m0 = S::max(m0, a);
      m1 = S::max(m1, b);
    }
    for (; j + L <= n; j += L) {
      const V a = S::add(S::load(s + j), S::load(mask + j));
      S::store(s + j, a);
      m0 = S::max(m0, a);
    }
  } else {
    const V add = S::set1(mask ? mask[0] : 0.0f);
    for (; j + 2 * L <= n; j += 2 * L) {
      const V a = S::add(S::load(s + j), add);
      const V b = S::add(S::load(s + j + L), add);
      S::store(s + j, a);
      S::store(s + j + L, b);
      m0 = S::max(m0, a);
      m1 = S::max(m1, b);
    }
    for (; j + L <= n; j += L) {
      const V a = S::add(S::load(s + j), add);
      S::store(s + j, a);
      m0 = S::max(m0, a);
    }
  }
  float mx = S::reduce_max(S::max(m0, m1));
  for (; j < n; ++j) {
    if (mask) s[j] += mask[j * mask_step];
    mx = s[j] > mx ? s[j] : mx;
  }
  return mx;
}

template <class S> float exp_sum(float* s, float shift, int64_t n) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const V sh = S::set1(shift);
  V a0 = S::zero(), a1 = S::zero();
  int64_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) {
    const V e0 = exp_nonpositive<S>(S::sub(S::load(s + j), sh));
    const V e1 = exp_nonpositive<S>(S::sub(S::load(s + j + L), sh));
    S::store(s + j, e0);
    S::store(s + j + L, e1);
    a0 = S::add(a0, e0);
    a1 = S::add(a1, e1);
  }
  for (; j + L <= n; j += L) {
    const V e0 = exp_nonpositive<S>(S::sub(S::load(s + j), sh));
    S::store(s + j, e0);
    a0 = S::add(a0, e0);
  }
  if (j < n) {  // the tail through the same approximation; lanes past n are dropped before summing
    const int64_t rest = n - j;
    const V e0 = exp_nonpositive<S>(S::sub(S::load_partial(s + j, rest), sh));
    S::store_partial(s + j, e0, rest);
    alignas(64) float lanes[L];
    S::store(lanes, e0);
    for (int64_t k = rest; k < L; ++k) lanes[k] = 0.0f;
    a1 = S::add(a1, S::load(lanes));
  }
  return S::reduce_add(S::add(a0, a1));
}

template <class S> void scale(float* x, float f, int64_t n) {
  const typename S::V fv = S::set1(f);
  int64_t j = 0;
  for (; j + S::kLanes <= n; j += S::kLanes) S::store(x + j, S::mul(S::load(x + j), fv));
  if (j < n) S::store_partial(x + j, S::mul(S::load_partial(x + j, n - j), fv), n - j);
}

template <class S> constexpr AttentionRowKernels make_kernels(const char* name, IsaTier tier) {
  return AttentionRowKernels{name, tier, &add_mask_max<S>, &exp_sum<S>, &scale<S>};
}

}  // namespace kiln::kernels::attention_impl
