#pragma once
// The reference single-precision GEMM: the reference operators (Conv via im2col, MatMul, Gemm, RNNs) use it,
// and it is the oracle the fast GEMM (kernels/gemm/gemm.h) is tested against, so it never shares code with it.
// Plain C++, cache-blocked and shaped so that g++ -O2/-O3 auto-vectorises the micro-kernel; ISA-specific
// kernels come later and are tested against this one.
//
// Measured (one core of the 2-core AMD EPYC dev machine, baseline x86-64 build, so SSE2 only): about 25
// GFLOP/s on conv-shaped problems (256 x 3136 x 576), near the SSE2 ceiling of 4 lanes x (1 mul + 1 add) x
// ~3 GHz; AVX2+FMA kernels could reach ~4x that. A ResNet-50 forward's convolutions take ~0.8 s with it.

#include <cstdint>

namespace kiln::kernels {

/// C = alpha * op(A) * op(B) + beta * C, all row-major.
/// op(A) is M x K: A is M x K (lda >= K) when !trans_a, else K x M (lda >= M).
/// op(B) is K x N: B is K x N (ldb >= N) when !trans_b, else N x K (ldb >= K).
/// C is M x N (ldc >= N). beta == 0 overwrites C without reading it (NaNs in C do not propagate).
/// Single-threaded; sizes are the caller's to validate (non-negative, buffers large enough).
void gemm_f32_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace kiln::kernels
