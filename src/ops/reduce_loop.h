#pragma once
// Walking a tensor while tracking where each element lands in a reduction over a set of axes.
// Shared by the Reduce* family and the normalizations that reduce over arbitrary axes (MVN).

#include <cstdint>
#include <vector>

#include "ops/shape_util.h"

namespace kiln::ops {

/// Strides into the reduced output for each input axis: 0 on reduced axes, the row-major stride of the
/// kept dims elsewhere (the output layout does not depend on keepdims).
inline std::vector<int64_t> reduced_output_strides(const std::vector<int64_t>& dims, const std::vector<bool>& reduce) {
  std::vector<int64_t> kept;
  for (size_t i = 0; i < dims.size(); ++i)
    if (!reduce[i]) kept.push_back(dims[i]);
  std::vector<int64_t> kept_strides = strides_of(kept);
  std::vector<int64_t> out(dims.size(), 0);
  for (size_t i = 0, k = 0; i < dims.size(); ++i)
    if (!reduce[i]) out[i] = kept_strides[k++];
  return out;
}

/// Calls f(input_offset, output_offset) for every input element in row-major order. The innermost axis
/// runs as a plain loop; the others advance a counter, so no per-element index vector is built.
template <typename F>
void for_each_reduce_pair(const std::vector<int64_t>& dims, const std::vector<int64_t>& out_strides, F&& f) {
  int64_t total = 1;
  for (int64_t d : dims) total *= d;  // the tensor exists, so this cannot overflow
  if (total == 0) return;
  size_t r = dims.size();
  if (r == 0) {
    f(int64_t{0}, int64_t{0});
    return;
  }
  const int64_t last = dims[r - 1], last_stride = out_strides[r - 1];
  std::vector<int64_t> idx(r - 1, 0);
  int64_t out_base = 0;
  for (int64_t in = 0; in < total; in += last) {
    for (int64_t j = 0; j < last; ++j) f(in + j, out_base + j * last_stride);
    for (size_t k = r - 1; k-- > 0;) {
      if (++idx[k] < dims[k]) {
        out_base += out_strides[k];
        break;
      }
      out_base -= out_strides[k] * (dims[k] - 1);
      idx[k] = 0;
    }
  }
}

}  // namespace kiln::ops
