#pragma once
// Row-major matrix product for every element type the ops need: float goes to the blocked reference GEMM
// (kernels/gemm_ref.h); double and the integer types take a plain i-k-j loop (the inner loop runs along
// contiguous rows of B and C, so it still vectorises).

#include <cstdint>
#include <type_traits>

#include "kernels/gemm_ref.h"

namespace kiln::ops {

/// C (M x N, ldc) = op(A) * op(B) when !accumulate, C += op(A) * op(B) when accumulate.
/// op(A) is M x K (A stored K x M when trans_a); op(B) is K x N (B stored N x K when trans_b).
template <typename T>
void gemm_any(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
              int64_t ldb, T* C, int64_t ldc, bool accumulate) {
  if constexpr (std::is_same_v<T, float>) {
    kernels::gemm_f32_ref(trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, accumulate ? 1.0f : 0.0f, C, ldc);
  } else {
    // Signed integers wrap like numpy's: compute in the unsigned type of the same width (defined overflow).
    using U = typename std::conditional_t<std::is_integral_v<T>, std::make_unsigned<T>, std::type_identity<T>>::type;
    for (int64_t m = 0; m < M; ++m) {
      U* c = reinterpret_cast<U*>(C + m * ldc);
      if (!accumulate)
        for (int64_t n = 0; n < N; ++n) c[n] = U(0);
      for (int64_t k = 0; k < K; ++k) {
        const U a = static_cast<U>(trans_a ? A[k * lda + m] : A[m * lda + k]);
        if (!trans_b) {
          const T* b = B + k * ldb;
          for (int64_t n = 0; n < N; ++n) c[n] = static_cast<U>(c[n] + a * static_cast<U>(b[n]));
        } else {
          for (int64_t n = 0; n < N; ++n) c[n] = static_cast<U>(c[n] + a * static_cast<U>(B[n * ldb + k]));
        }
      }
    }
  }
}

}  // namespace kiln::ops
