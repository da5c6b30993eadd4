#pragma once
// Slice's clamping rule, shared by the reference kernel (slice.cpp) and the prepared one (copy_prepared.cpp).

#include <cstdint>

namespace kiln::ops {

/// One axis of a slice after clamping: the first index read and how many are read.
struct SliceRange {
  int64_t first = 0, count = 0;
};

/// The spec's clamping: negative positions count from the end; for a positive step start and end are
/// clamped to [0, dim], for a negative step start to [0, dim-1] and end to [-1, dim-1]. `step` must not be 0.
SliceRange clamp_slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step);

}  // namespace kiln::ops
