// The GEMM micro-kernels in plain C++ (x86-64 baseline): the fallback for CPUs without AVX2, and the stand-in
// that runs the avx512 kernel's tile logic on any CPU. PortableLanes16 has the interface of simd::Avx512
// with 16 ordinary floats per "register"; the tile is the avx512 one (12 x 32), so the tests of this entry
// exercise every row tail, width and partial mask of gemm_f32_12x32_avx512 on days the CPU lacks AVX-512.
// fmadd rounds twice here (no FMA in the baseline ISA): results differ from the FMA tiers in the last bits.

#include <cstring>

// The generic vector is wider than the baseline ABI's registers, which the compilers warn about for arguments:
// every function here is inlined with internal linkage, so no call crosses an ABI boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

#include "kernels/gemm/gemm_tile.h"

namespace kiln::kernels {

namespace {

// The "register" is a GCC/Clang generic vector of L floats: each operation is one IR instruction that the
// compiler lowers to baseline SSE, so the 48 tiles compile in seconds (a struct of L floats with a loop per
// operation, fully unrolled over the 12 x 2 x L accumulators, took 3 minutes at -O3 and 14 under ASan).
struct PortableLanes16 {
  static constexpr int kLanes = 16;
  typedef float V __attribute__((vector_size(kLanes * sizeof(float))));
  static V zero() { return V{}; }
  static V set1(float s) { return V{} + s; }
  static V load(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(float* p, V v) { std::memcpy(p, &v, sizeof v); }
  // Like the masked loads of AVX: lanes past n are 0 and their memory is not touched.
  static V load_partial(const float* p, int64_t n) {
    V v = zero();
    for (int64_t i = 0; i < n; ++i) v[i] = p[i];
    return v;
  }
  static void store_partial(float* p, V v, int64_t n) {
    for (int64_t i = 0; i < n; ++i) p[i] = v[i];
  }
  static V add(V a, V b) { return a + b; }
  static V mul(V a, V b) { return a * b; }
  static V fmadd(V a, V b, V c) { return c + a * b; }
  // The instructions' rule (simd.h): the second operand when either is NaN.
  static V max(V a, V b) { return a > b ? a : b; }
  static V min(V a, V b) { return a < b ? a : b; }
};

}  // namespace

const GemmMicroKernel* gemm_f32_12x32_portable() {
  static constexpr GemmMicroKernel kernel = make_gemm_micro_kernel<PortableLanes16, 12>();
  return &kernel;
}

}  // namespace kiln::kernels
