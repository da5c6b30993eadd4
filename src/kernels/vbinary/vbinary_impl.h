#pragma once
// The vbinary kernel, written once over a SIMD wrapper; vbinary_avx2.cpp and vbinary_avx512.cpp instantiate it.

#include <cstdint>

#include "kernels/simd/simd.h"
#include "kernels/vbinary/vbinary.h"

namespace kiln::kernels::vbinary_detail {

template <class S, BinaryOp kOp> inline typename S::V apply(typename S::V x, typename S::V y) {
  if constexpr (kOp == BinaryOp::kAdd) return S::add(x, y);
  else if constexpr (kOp == BinaryOp::kSub) return S::sub(x, y);
  else if constexpr (kOp == BinaryOp::kMul) return S::mul(x, y);
  else if constexpr (kOp == BinaryOp::kDiv) return S::div(x, y);
  // The reference: x NaN -> x; y NaN -> y; else max = (x < y ? y : x), min = (y < x ? y : x). The
  // instruction max(y, x) is y > x ? y : x, which returns x when either is NaN; then y's NaN is put back.
  else if constexpr (kOp == BinaryOp::kMax) return S::select(S::unordered(y, y), y, S::max(y, x));
  else return S::select(S::unordered(y, y), y, S::min(y, x));
}

/// One row: the operands' column flags chosen at compile time, so each pattern is a straight loop.
template <class S, BinaryOp kOp, bool kA, bool kB>
inline void row(const float* a, const float* b, float* out, int64_t n) {
  using V = typename S::V;
  constexpr int64_t L = S::kLanes;
  const V av = kA ? S::zero() : S::set1(*a);
  const V bv = kB ? S::zero() : S::set1(*b);
  auto at = [&](int64_t i) {
    return apply<S, kOp>(kA ? S::load(a + i) : av, kB ? S::load(b + i) : bv);
  };
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    const V r0 = at(i), r1 = at(i + L), r2 = at(i + 2 * L), r3 = at(i + 3 * L);
    S::store(out + i, r0);
    S::store(out + i + L, r1);
    S::store(out + i + 2 * L, r2);
    S::store(out + i + 3 * L, r3);
  }
  for (; i + L <= n; i += L) S::store(out + i, at(i));
  if (i < n) {
    const int64_t m = n - i;
    const V r = apply<S, kOp>(kA ? S::load_partial(a + i, m) : av, kB ? S::load_partial(b + i, m) : bv);
    S::store_partial(out + i, r, m);
  }
}

template <class S, BinaryOp kOp, bool kA, bool kB> inline void rows(const BinaryBlock& k) {
  for (int64_t r = 0; r < k.rows; ++r)
    row<S, kOp, kA, kB>(k.a + r * k.a_row, k.b + r * k.b_row, k.out + r * k.out_row, k.n);
}

template <class S, BinaryOp kOp> inline void block(const BinaryBlock& k) {
  if (k.a_col && k.b_col) rows<S, kOp, true, true>(k);
  else if (k.a_col) rows<S, kOp, true, false>(k);
  else if (k.b_col) rows<S, kOp, false, true>(k);
  else rows<S, kOp, false, false>(k);
}

template <class S> void vbinary(BinaryOp op, const BinaryBlock& k) {
  if (k.rows <= 0 || k.n <= 0) return;
  switch (op) {
    case BinaryOp::kAdd: return block<S, BinaryOp::kAdd>(k);
    case BinaryOp::kSub: return block<S, BinaryOp::kSub>(k);
    case BinaryOp::kMul: return block<S, BinaryOp::kMul>(k);
    case BinaryOp::kDiv: return block<S, BinaryOp::kDiv>(k);
    case BinaryOp::kMax: return block<S, BinaryOp::kMax>(k);
    case BinaryOp::kMin: return block<S, BinaryOp::kMin>(k);
  }
}

}  // namespace kiln::kernels::vbinary_detail
