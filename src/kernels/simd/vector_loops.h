#pragma once
// Loop shapes shared by kernels written over the SIMD wrappers. Include only from ISA files.

#include <algorithm>
#include <cstdint>

namespace kiln::kernels::simd {

/// Stores compute(i) (a vector of S::kLanes values for elements i ...) for elements [0, n) of `out`, whole
/// vectors only: the last one overlaps its predecessor (recomputing a few elements, which must therefore
/// come out the same, i.e. compute(i) may not read `out`), because masked stores are slow on AMD cores (tens
/// of cycles on Zen 2); a row narrower than a vector goes through a stack copy. With `copies` > 1 each vector
/// is also stored at out + c * copy_stride, c < copies (rows that repeat one computed row).
template <class S, class Compute>
void for_each_vector(int64_t n, float* out, Compute compute, int64_t copies = 1, int64_t copy_stride = 0) {
  constexpr int L = S::kLanes;
  if (n <= 0) return;
  if (n < L) {
    alignas(64) float tmp[L];
    S::store(tmp, compute(int64_t{0}));
    for (int64_t c = 0; c < copies; ++c) std::copy(tmp, tmp + n, out + c * copy_stride);
    return;
  }
  for (int64_t i = 0;; i += L) {
    if (i + L > n) i = n - L;
    const auto v = compute(i);
    for (int64_t c = 0; c < copies; ++c) S::store(out + c * copy_stride + i, v);
    if (i + L == n) return;
  }
}

}  // namespace kiln::kernels::simd
