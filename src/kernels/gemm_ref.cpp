#include "kernels/gemm_ref.h"

#include <algorithm>
#include <vector>

namespace kiln::kernels {

namespace {

// Register tile: kMR rows of C by kNR columns live in a local array the compiler keeps in vector registers;
// the fixed trip counts let it unroll and vectorise the column loop.
constexpr int64_t kMR = 4;
constexpr int64_t kNR = 8;
// Cache blocks: a kKC x kNR panel of B stays in L1 while a kMC x kKC block of A streams through L2.
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 128;
constexpr int64_t kNC = 1024;

// op(B)[pc.., jc..] → panels of kNR columns, each kc rows deep, zero-padded past N.
void pack_b(bool trans_b, const float* B, int64_t ldb, int64_t pc, int64_t kc, int64_t jc, int64_t nc, float* out) {
  for (int64_t jp = 0; jp < nc; jp += kNR) {
    const int64_t nr = std::min(kNR, nc - jp);
    for (int64_t k = 0; k < kc; ++k) {
      float* dst = out + (jp * kc) + k * kNR;
      if (!trans_b) {
        const float* src = B + (pc + k) * ldb + jc + jp;
        for (int64_t c = 0; c < nr; ++c) dst[c] = src[c];
      } else {
        const float* src = B + (jc + jp) * ldb + pc + k;
        for (int64_t c = 0; c < nr; ++c) dst[c] = src[c * ldb];
      }
      for (int64_t c = nr; c < kNR; ++c) dst[c] = 0.0f;
    }
  }
}

// alpha * op(A)[ic.., pc..] → panels of kMR rows, k-major inside a panel, zero-padded past M.
void pack_a(bool trans_a, const float* A, int64_t lda, float alpha, int64_t ic, int64_t mc, int64_t pc, int64_t kc,
            float* out) {
  for (int64_t ip = 0; ip < mc; ip += kMR) {
    const int64_t mr = std::min(kMR, mc - ip);
    float* panel = out + ip * kc;
    for (int64_t k = 0; k < kc; ++k) {
      float* dst = panel + k * kMR;
      for (int64_t r = 0; r < mr; ++r) {
        const int64_t m = ic + ip + r, kk = pc + k;
        dst[r] = alpha * (trans_a ? A[kk * lda + m] : A[m * lda + kk]);
      }
      for (int64_t r = mr; r < kMR; ++r) dst[r] = 0.0f;
    }
  }
}

// C[0..mr, 0..nr] += Apanel * Bpanel over kc.
void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t ldc,
                  int64_t mr, int64_t nr) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* bk = b + k * kNR;
    const float* ak = a + k * kMR;
    for (int64_t r = 0; r < kMR; ++r) {
      const float av = ak[r];
      for (int64_t j = 0; j < kNR; ++j) acc[r][j] += av * bk[j];
    }
  }
  if (mr == kMR && nr == kNR) {
    for (int64_t r = 0; r < kMR; ++r)
      for (int64_t j = 0; j < kNR; ++j) c[r * ldc + j] += acc[r][j];
  } else {
    for (int64_t r = 0; r < mr; ++r)
      for (int64_t j = 0; j < nr; ++j) c[r * ldc + j] += acc[r][j];
  }
}

}  // namespace

void gemm_f32_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  // Scale C once up front so every block below only accumulates.
  for (int64_t m = 0; m < M; ++m) {
    float* row = C + m * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + N, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t n = 0; n < N; ++n) row[n] *= beta;
    }
  }
  if (K <= 0 || alpha == 0.0f) return;

  thread_local std::vector<float> a_pack, b_pack;
  a_pack.resize(static_cast<size_t>((kMC + kMR) * kKC));
  b_pack.resize(static_cast<size_t>(kKC * (kNC + kNR)));

  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = std::min(kNC, N - jc);
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      pack_b(trans_b, B, ldb, pc, kc, jc, nc, b_pack.data());
      for (int64_t ic = 0; ic < M; ic += kMC) {
        const int64_t mc = std::min(kMC, M - ic);
        pack_a(trans_a, A, lda, alpha, ic, mc, pc, kc, a_pack.data());
        for (int64_t jr = 0; jr < nc; jr += kNR) {
          const float* bp = b_pack.data() + jr * kc;
          const int64_t nr = std::min(kNR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const int64_t mr = std::min(kMR, mc - ir);
            micro_kernel(kc, a_pack.data() + ir * kc, bp, C + (ic + ir) * ldc + jc + jr, ldc, mr, nr);
          }
        }
      }
    }
  }
}

}  // namespace kiln::kernels
