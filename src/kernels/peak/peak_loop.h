#pragma once
// The register-only FMA loop behind `kiln info --measure`, written once over the SIMD wrapper (simd.h) and
// instantiated per tier in peak_<isa>.cpp. Include only from a file compiled with that tier's flags.

#include <cstdint>

#include "kernels/simd/simd.h"

namespace kiln::kernels::peak {

/// `iterations` rounds of kChains independent a = a * m + c FMAs on full registers; returns the flops done.
/// The accumulators converge to 1 (m < 1), so no value ever becomes denormal, infinite or NaN (which could
/// slow some CPUs down). Their sum goes to *sink so the compiler cannot drop the loop.
template <class S, int kChains> uint64_t fma_chains(uint64_t iterations, float* sink) {
  using V = typename S::V;
  V acc[kChains];
#pragma GCC unroll 32
  for (int c = 0; c < kChains; ++c) acc[c] = S::set1(static_cast<float>(c) * 0.01f);
  const V m = S::set1(0.999999f), add = S::set1(1e-6f);
  for (uint64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 32
    for (int c = 0; c < kChains; ++c) acc[c] = S::fmadd(acc[c], m, add);
  }
  V sum = acc[0];
#pragma GCC unroll 32
  for (int c = 1; c < kChains; ++c) sum = S::add(sum, acc[c]);
  // Summed through memory rather than S::reduce_add: GCC 12's _mm512_reduce_add_ps warns of an uninitialized
  // variable inside its own header, and this runs once per call.
  float lanes[S::kLanes];
  S::store(lanes, sum);
  float total = 0;
  for (float x : lanes) total += x;
  *sink = total;
  return iterations * kChains * S::kLanes * 2;
}

}  // namespace kiln::kernels::peak
