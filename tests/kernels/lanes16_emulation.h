#pragma once
// A portable 16-lane SIMD wrapper for tests: plain C++ with the semantics of the AVX-512 instructions behind
// simd::Avx512, so that the kernel templates an AVX-512 file instantiates (pooling, resizing, the Winograd
// transforms, vunary_math's exp/sigmoid) can be instantiated with 16 lanes and checked on a CPU without AVX-512:
// a lane-count mistake (a buffer sized for 8 lanes, an overlap rule, a permute window) fails on any CPU.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace kiln::testing {
namespace {

struct Lanes16 {
  static constexpr int kLanes = 16;
  struct V {
    float v[16];
  };
  struct VI {
    int32_t v[16];
  };
  using I = VI;  // the permute indices (pool/resize) are the same 16 int32 lanes
  struct M {
    bool b[16];
  };
  template <typename F> static V map(F f) {
    V r;
    for (int i = 0; i < 16; ++i) r.v[i] = f(i);
    return r;
  }
  template <typename F> static VI map_i(F f) {
    VI r;
    for (int i = 0; i < 16; ++i) r.v[i] = f(i);
    return r;
  }
  template <typename F> static M test(F f) {
    M r;
    for (int i = 0; i < 16; ++i) r.b[i] = f(i);
    return r;
  }
  static V zero() { return set1(0.0f); }
  static V set1(float x) { return map([&](int) { return x; }); }
  static V load(const float* p) { return map([&](int i) { return p[i]; }); }
  static void store(float* p, V a) { std::copy(a.v, a.v + 16, p); }
  static V load_partial(const float* p, int64_t n) { return map([&](int i) { return i < n ? p[i] : 0.0f; }); }
  static void store_partial(float* p, V a, int64_t n) { std::copy(a.v, a.v + n, p); }
  static V add(V a, V b) { return map([&](int i) { return a.v[i] + b.v[i]; }); }
  static V sub(V a, V b) { return map([&](int i) { return a.v[i] - b.v[i]; }); }
  static V mul(V a, V b) { return map([&](int i) { return a.v[i] * b.v[i]; }); }
  static V div(V a, V b) { return map([&](int i) { return a.v[i] / b.v[i]; }); }
  static V fmadd(V a, V b, V c) { return map([&](int i) { return std::fma(a.v[i], b.v[i], c.v[i]); }); }
  static V fnmadd(V a, V b, V c) { return map([&](int i) { return std::fma(-a.v[i], b.v[i], c.v[i]); }); }
  // vmaxps / vminps: the second operand when either is NaN.
  static V max(V a, V b) { return map([&](int i) { return a.v[i] > b.v[i] ? a.v[i] : b.v[i]; }); }
  static V min(V a, V b) { return map([&](int i) { return a.v[i] < b.v[i] ? a.v[i] : b.v[i]; }); }
  static V abs(V a) { return map([&](int i) { return std::fabs(a.v[i]); }); }
  static V neg(V a) { return map([&](int i) { return -a.v[i]; }); }
  static V round(V a) { return map([&](int i) { return std::nearbyint(a.v[i]); }); }
  static V and_(V a, V b) { return as_float(map_i([&](int i) { return as_int(a).v[i] & as_int(b).v[i]; })); }
  static V or_(V a, V b) { return as_float(map_i([&](int i) { return as_int(a).v[i] | as_int(b).v[i]; })); }
  static M lt(V a, V b) { return test([&](int i) { return a.v[i] < b.v[i]; }); }
  static M le(V a, V b) { return test([&](int i) { return a.v[i] <= b.v[i]; }); }
  static V select(M m, V a, V b) { return map([&](int i) { return m.b[i] ? a.v[i] : b.v[i]; }); }
  static bool all(M m) { return std::all_of(m.b, m.b + 16, [](bool x) { return x; }); }
  static V select_nan(V a, V b) { return map([&](int i) { return std::isnan(b.v[i]) ? b.v[i] : a.v[i]; }); }
  static float reduce_add(V a) {
    float s = 0;
    for (float x : a.v) s += x;
    return s;
  }
  static float reduce_max(V a) {
    float m = a.v[0];
    for (float x : a.v) m = x > m ? x : m;
    return m;
  }
  static V load_even(const float* p) { return map([&](int i) { return p[2 * i]; }); }
  static V even_lanes(V lo, V hi) { return map([&](int i) { return i < 8 ? lo.v[2 * i] : hi.v[2 * i - 16]; }); }
  // The "unordered" forms in a scrambled order (pairs of lanes swapped), so that a kernel that forgets
  // to_lane_order fails here.
  static V even_lanes_unordered(V lo, V hi) { return swap_pairs(even_lanes(lo, hi)); }
  static V odd_lanes_unordered(V lo, V hi) {
    return swap_pairs(map([&](int i) { return i < 8 ? lo.v[2 * i + 1] : hi.v[2 * i - 15]; }));
  }
  static V to_lane_order(V v) { return swap_pairs(v); }
  static V swap_pairs(V v) { return map([&](int i) { return v.v[i ^ 1]; }); }
  static V gather(const float* base, const int32_t* idx) { return map([&](int i) { return base[idx[i]]; }); }
  static I load_index(const int32_t* p) { return map_i([&](int i) { return p[i]; }); }
  static I sub_index(I a, int32_t k) { return map_i([&](int i) { return a.v[i] - k; }); }
  static V permute(V a, I idx) {
    return map([&](int i) {
      EXPECT_TRUE(idx.v[i] >= 0 && idx.v[i] < 16) << "permute index out of the vector";
      return a.v[idx.v[i] & 15];
    });
  }
  static VI to_int(V a) {
    return map_i([&](int i) { return a.v[i] == a.v[i] ? static_cast<int32_t>(std::nearbyint(a.v[i])) : INT32_MIN; });
  }
  static VI add_i(VI a, VI b) { return map_i([&](int i) { return a.v[i] + b.v[i]; }); }
  static VI sub_i(VI a, VI b) { return map_i([&](int i) { return a.v[i] - b.v[i]; }); }
  static VI set1_i(int32_t x) { return map_i([&](int) { return x; }); }
  template <int k> static VI shl_i(VI a) {
    return map_i([&](int i) { return static_cast<int32_t>(static_cast<uint32_t>(a.v[i]) << k); });
  }
  template <int k> static VI sra_i(VI a) { return map_i([&](int i) { return a.v[i] >> k; }); }
  static VI as_int(V a) { return std::bit_cast<VI>(a); }
  static V as_float(VI a) { return std::bit_cast<V>(a); }
};

}  // namespace
}  // namespace kiln::testing
