// The reference GEMM against a naive triple loop (in double) on random shapes, odd sizes included.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/gemm_ref.h"

namespace {

struct GemmRefCase {
  int64_t M, N, K;
  bool ta, tb;
  float alpha, beta;
  int64_t pad;  // extra leading-dimension padding
};

void check(const GemmRefCase& c, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.N + c.pad;
  std::vector<float> A(static_cast<size_t>(a_rows * lda)), B(static_cast<size_t>(b_rows * ldb)),
      C(static_cast<size_t>(c.M * ldc));
  for (auto& v : A) v = u(rng);
  for (auto& v : B) v = u(rng);
  for (auto& v : C) v = c.beta == 0.0f ? NAN : u(rng);  // beta 0 must not read C
  std::vector<float> C0 = C;
  kiln::kernels::gemm_f32_ref(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  for (int64_t m = 0; m < c.M; ++m) {
    for (int64_t n = 0; n < c.N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[k * lda + m] : A[m * lda + k];
        const double b = c.tb ? B[n * ldb + k] : B[k * ldb + n];
        acc += a * b;
      }
      double want = c.alpha * acc;
      if (c.beta != 0.0f) want += c.beta * static_cast<double>(C0[m * ldc + n]);
      ASSERT_NEAR(C[m * ldc + n], want, 1e-4 * (1 + std::sqrt(static_cast<double>(c.K))))
          << "M=" << c.M << " N=" << c.N << " K=" << c.K << " ta=" << c.ta << " tb=" << c.tb << " at " << m << "," << n;
    }
    // Padding columns of C are untouched.
    for (int64_t n = c.N; n < ldc; ++n) {
      if (c.beta != 0.0f) {
        ASSERT_EQ(C[m * ldc + n], C0[m * ldc + n]);
      } else {
        ASSERT_TRUE(std::isnan(C[m * ldc + n]));
      }
    }
  }
}

TEST(GemmRef, OddSizesAllTransposes) {
  std::mt19937 rng(42);
  const int64_t sizes[] = {1, 7, 65, 129};
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      for (int64_t K : sizes)
        for (int t = 0; t < 4; ++t) check({M, N, K, (t & 1) != 0, (t & 2) != 0, 1.0f, 0.0f, 0}, rng);
}

TEST(GemmRef, AlphaBetaAndLeadingDims) {
  std::mt19937 rng(7);
  check({33, 17, 300, false, false, 0.5f, 1.0f, 3}, rng);   // K spans two K blocks
  check({130, 1030, 9, true, false, -2.0f, 0.25f, 1}, rng); // N spans two N blocks, M two M blocks
  check({5, 9, 257, false, true, 1.0f, -1.0f, 5}, rng);
  check({64, 64, 64, true, true, 1.5f, 2.0f, 0}, rng);
}

TEST(GemmRef, RandomShapes) {
  std::mt19937 rng(123);
  std::uniform_int_distribution<int64_t> dim(1, 140);
  for (int i = 0; i < 40; ++i)
    check({dim(rng), dim(rng), dim(rng), (i & 1) != 0, (i & 2) != 0, 1.0f, (i & 4) ? 1.0f : 0.0f, i % 3}, rng);
}

TEST(GemmRef, EmptyDimensions) {
  std::vector<float> C = {1, 2, 3, 4};
  float dummy = 0;
  // K = 0: C = beta * C.
  kiln::kernels::gemm_f32_ref(false, false, 2, 2, 0, 1.0f, &dummy, 1, &dummy, 2, 0.5f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  // M = 0 or N = 0: nothing is touched.
  kiln::kernels::gemm_f32_ref(false, false, 0, 2, 3, 1.0f, &dummy, 3, &dummy, 2, 0.0f, C.data(), 2);
  EXPECT_EQ(C[0], 0.5f);
}

}  // namespace
