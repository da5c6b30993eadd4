// The GEMM micro-kernels in plain C++ (x86-64 baseline): the fallback for CPUs without AVX2, and the stand-in
// that runs the avx512 kernel's tile logic on any CPU. PortableLanes<16> has the interface of simd::Avx512
// with 16 ordinary floats per "register"; the tile is the avx512 one (12 x 32), so the tests of this entry
// exercise every row tail, width and partial mask of gemm_f32_12x32_avx512 on days the CPU lacks AVX-512.
// fmadd rounds twice here (no FMA in the baseline ISA): results differ from the FMA tiers in the last bits.

#include "kernels/gemm/gemm_tile.h"

namespace kiln::kernels {

namespace {

template <int L> struct PortableLanes {
  static constexpr int kLanes = L;
  struct V {
    float x[L];
  };
  static V zero() { return set1(0.0f); }
  static V set1(float s) {
    V v;
    for (int i = 0; i < L; ++i) v.x[i] = s;
    return v;
  }
  static V load(const float* p) {
    V v;
    for (int i = 0; i < L; ++i) v.x[i] = p[i];
    return v;
  }
  static void store(float* p, V v) {
    for (int i = 0; i < L; ++i) p[i] = v.x[i];
  }
  // Like the masked loads of AVX: lanes past n are 0 and their memory is not touched.
  static V load_partial(const float* p, int64_t n) {
    V v = zero();
    for (int64_t i = 0; i < n; ++i) v.x[i] = p[i];
    return v;
  }
  static void store_partial(float* p, V v, int64_t n) {
    for (int64_t i = 0; i < n; ++i) p[i] = v.x[i];
  }
  static V add(V a, V b) {
    for (int i = 0; i < L; ++i) a.x[i] += b.x[i];
    return a;
  }
  static V mul(V a, V b) {
    for (int i = 0; i < L; ++i) a.x[i] *= b.x[i];
    return a;
  }
  static V fmadd(V a, V b, V c) {
    for (int i = 0; i < L; ++i) c.x[i] += a.x[i] * b.x[i];
    return c;
  }
  // The instructions' rule (simd.h): the second operand when either is NaN.
  static V max(V a, V b) {
    for (int i = 0; i < L; ++i) a.x[i] = a.x[i] > b.x[i] ? a.x[i] : b.x[i];
    return a;
  }
  static V min(V a, V b) {
    for (int i = 0; i < L; ++i) a.x[i] = a.x[i] < b.x[i] ? a.x[i] : b.x[i];
    return a;
  }
};

}  // namespace

const GemmMicroKernel* gemm_f32_12x32_portable() {
  static constexpr GemmMicroKernel kernel = make_gemm_micro_kernel<PortableLanes<16>, 12>();
  return &kernel;
}

}  // namespace kiln::kernels
