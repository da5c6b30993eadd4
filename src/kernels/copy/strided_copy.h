#pragma once
// The one data-movement engine behind the prepared Transpose, Slice, Concat, Split, Expand, Tile and Pad: copy
// the elements of a strided view of one buffer into a strided view of another, as bytes (any element type of
// 1, 2, 4 or 8 bytes). Dims of size 1 are dropped and neighbouring dims merged where both views allow, so
// contiguous runs become memcpy calls, a source stride of 0 on the innermost dim becomes a fill, and a view whose
// innermost dim is contiguous on one side but strided on the other (a transpose) is copied in square tiles that
// fit the L1 cache. Large copies are split over the pool's threads by outer index; the result never depends
// on the split.
//
// Strides are in elements and may be negative (Slice with negative steps) or 0 (broadcast: Expand, Tile,
// fills). No allocation.

#include <cstddef>
#include <cstdint>

#include "kernels/thread_pool.h"

namespace kiln::kernels {

/// The most dims a copy may have after dims of size 1 are dropped and mergeable neighbours merged.
inline constexpr size_t kMaxCopyRank = 16;

/// One side of a copy: a base pointer (to element 0 of the view) and per-dim strides in elements.
struct CopySide {
  void* data;
  const int64_t* strides;
};
struct ConstCopySide {
  const void* data;
  const int64_t* strides;
};

/// For every index i of `dims` (`rank` of them): dst element at sum(i_k * dst.strides[k]) = src element at
/// sum(i_k * src.strides[k]); elements of `elem_size` bytes (1, 2, 4 or 8). Views must not overlap, except that
/// dst strides of 0 are not allowed (every dst element is written once). Returns false, having written
/// nothing, when the copy keeps more than kMaxCopyRank dims after merging: the caller uses another path.
bool strided_copy(CopySide dst, ConstCopySide src, const int64_t* dims, size_t rank, size_t elem_size,
                  ThreadPool* pool);

/// Sets every element of the view to the `elem_size`-byte value at `value` (a strided_copy from a source of
/// stride 0). Returns false as strided_copy does.
bool strided_fill(CopySide dst, const void* value, const int64_t* dims, size_t rank, size_t elem_size,
                  ThreadPool* pool);

/// Row-major strides (in elements) of `dims` into `strides`.
void contiguous_strides(const int64_t* dims, size_t rank, int64_t* strides);

}  // namespace kiln::kernels
