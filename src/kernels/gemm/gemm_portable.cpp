// The GEMM micro-kernels in plain C++ (x86-64 baseline): the fallback for CPUs without AVX2, and the stand-in
// that runs the avx512 kernel's tile logic on any CPU. PortableLanes16 has the interface of simd::Avx512
// with 16 ordinary floats per "register"; the tile is the avx512 one (12 x 32), so the tests of this entry
// exercise every row tail, width and partial mask of gemm_f32_12x32_avx512 on days the CPU lacks AVX-512.
// fmadd rounds twice here (no FMA in the baseline ISA): results differ from the FMA tiers in the last bits.

#include <cstdint>
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
  static V set1(float s) { return s - V{}; }  // not V{} + s: 0 + -0 is +0 (sigmoid ORs in set1(-0.0f))
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
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V fmadd(V a, V b, V c) { return c + a * b; }
  static V fnmadd(V a, V b, V c) { return c - a * b; }
  // The instructions' rule (simd.h): the second operand when either is NaN.
  static V max(V a, V b) { return a > b ? a : b; }
  static V min(V a, V b) { return a < b ? a : b; }

  // What the epilogue's Sigmoid and SiLU need (vunary_math.h's sigmoid, silu and exp), as simd.h defines them.
  typedef int32_t VI __attribute__((vector_size(kLanes * sizeof(int32_t))));
  using M = VI;  // a comparison's lanes: all ones or zero
  static VI as_int(V a) { return reinterpret_cast<VI>(a); }
  static V as_float(VI a) { return reinterpret_cast<V>(a); }
  static V and_(V a, V b) { return as_float(as_int(a) & as_int(b)); }
  static V or_(V a, V b) { return as_float(as_int(a) | as_int(b)); }
  static V abs(V a) { return as_float(as_int(a) & 0x7FFFFFFF); }
  static V neg(V a) { return as_float(as_int(a) ^ INT32_MIN); }
  static M lt(V a, V b) { return a < b; }  // false when either is NaN, as _CMP_LT_OQ
  static M le(V a, V b) { return a <= b; }
  static V select(M m, V a, V b) { return m ? a : b; }
  static bool all(M m) {
    for (int i = 0; i < kLanes; ++i)
      if (m[i] == 0) return false;
    return true;
  }
  // Round to nearest even by adding and subtracting 1.5 * 2^23: exact for |a| < 2^22, the only range exp
  // rounds (it clamps to [-104, 88.8] first); NaN stays NaN.
  static V round(V a) { return (a + 12582912.0f) - 12582912.0f; }
  // a is integral here (exp converts what round gave). NaN lanes become 0 instead of the instruction's INT32_MIN
  // (a float-to-int conversion of NaN is undefined in C++); exp's result is NaN there either way.
  static VI to_int(V a) { return __builtin_convertvector(a == a ? a : zero(), VI); }
  static VI add_i(VI a, VI b) { return a + b; }
  static VI sub_i(VI a, VI b) { return a - b; }
  static VI set1_i(int32_t x) { return VI{} + x; }
  template <int k> static VI shl_i(VI a) { return reinterpret_cast<VI>(reinterpret_cast<UI>(a) << k); }
  template <int k> static VI sra_i(VI a) { return a >> k; }

 private:
  typedef uint32_t UI __attribute__((vector_size(kLanes * sizeof(uint32_t))));  // shifts without signed overflow
};

}  // namespace

const GemmMicroKernel* gemm_f32_12x32_portable() {
  static constexpr GemmMicroKernel kernel = make_gemm_micro_kernel<PortableLanes16, 12>();
  return &kernel;
}

}  // namespace kiln::kernels
