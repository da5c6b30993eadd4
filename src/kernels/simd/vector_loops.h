#pragma once
// Loop shapes shared by kernels written over the SIMD wrappers. Include only from ISA files.

#include <algorithm>
#include <cstdint>

namespace kiln::kernels::simd {

/// Stores compute(i) (a vector of S::kLanes values for elements i ...) for elements [0, n) of `out`, whole
/// vectors only: the last one overlaps its predecessor (recomputing a few elements, which must therefore
/// come out the same, i.e. compute(i) may not read `out`), because masked stores are slow on AMD cores (tens
/// of cycles on Zen 2); a row narrower than a vector goes through a stack copy.
template <class S, class Compute> void for_each_vector(int64_t n, float* out, Compute compute) {
  constexpr int L = S::kLanes;
  if (n <= 0) return;
  if (n < L) {
    alignas(64) float tmp[L];
    S::store(tmp, compute(int64_t{0}));
    std::copy(tmp, tmp + n, out);
    return;
  }
  for (int64_t i = 0;; i += L) {
    if (i + L > n) i = n - L;
    S::store(out + i, compute(i));
    if (i + L == n) return;
  }
}

}  // namespace kiln::kernels::simd
