#pragma once
// Splitting work over (plane, row range) items for kernels that process NCHW planes independently (pooling,
// resize): enough items to keep every thread busy when there are few planes, few enough that the per-item
// overhead stays small when there are many; no threads at all for small jobs. Every output is computed the
// same way whatever the split, so results do not depend on the thread count.

#include <algorithm>
#include <cstdint>

#include "kernels/thread_pool.h"

namespace kiln::kernels {

/// Below this many output elements a job runs on the calling thread: waking the pool costs more.
inline constexpr int64_t kMinParallelElements = 16 * 1024;
/// Planes of at least this many rows are split into bands of rows first, smaller ones by planes: a 1x1
/// convolution's GEMM splits planes of more than 256 pixels (two column blocks) by columns, smaller ones by
/// output channels, and each thread should find in its cache what it wrote in the node before.
inline constexpr int64_t kMinBandRows = 17;

/// Calls fn(plane_begin, plane_end, row_begin, row_end) over `planes` planes of `rows` output rows each,
/// `row_elements` output elements per row, spread over `pool` (may be null).
template <typename F>
void for_plane_rows(ThreadPool* pool, int64_t planes, int64_t rows, int64_t row_elements, F&& fn) {
  if (planes <= 0 || rows <= 0) return;
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
  if (threads <= 1 || planes * rows * row_elements < kMinParallelElements) {
    fn(int64_t{0}, planes, int64_t{0}, rows);
    return;
  }
  const int64_t target = 8 * threads;  // items: enough for the threads to balance uneven progress
  if (rows >= kMinBandRows) {
    // Row blocks outermost, at least one per thread: a thread's range of items (thread_pool.h) is then a band of
    // rows of every plane, the band the kernels before and after (convolutions' GEMM by column ranges, depthwise
    // by row bands) give the same thread, so its data stays in its core's cache. Then groups of whole planes.
    const int64_t blocks = std::min(rows, std::max(threads, (target + planes - 1) / planes));
    const int64_t per_block = (rows + blocks - 1) / blocks;
    const int64_t real_blocks = (rows + per_block - 1) / per_block;
    const int64_t groups = std::clamp<int64_t>(target / real_blocks, 1, planes);
    const int64_t per_group = (planes + groups - 1) / groups;
    const int64_t real_groups = (planes + per_group - 1) / per_group;
    parallel_for(pool, static_cast<size_t>(real_blocks * real_groups), [&](size_t i) {
      const int64_t b = static_cast<int64_t>(i) / real_groups, p = static_cast<int64_t>(i) % real_groups * per_group;
      fn(p, std::min(planes, p + per_group), b * per_block, std::min(rows, (b + 1) * per_block));
    });
    return;
  }
  // Small planes: by planes (the GEMM of a 1x1 convolution splits such planes by output channels).
  if (planes >= target) {
    const int64_t per_item = planes / target;  // whole planes per item
    const int64_t items = (planes + per_item - 1) / per_item;
    parallel_for(pool, static_cast<size_t>(items), [&](size_t i) {
      const int64_t b = static_cast<int64_t>(i) * per_item;
      fn(b, std::min(planes, b + per_item), int64_t{0}, rows);
    });
    return;
  }
  const int64_t blocks = std::min(rows, (target + planes - 1) / planes);  // row blocks per plane
  const int64_t per_block = (rows + blocks - 1) / blocks;
  const int64_t real_blocks = (rows + per_block - 1) / per_block;
  parallel_for(pool, static_cast<size_t>(planes * real_blocks), [&](size_t i) {
    const int64_t p = static_cast<int64_t>(i) / real_blocks, b = static_cast<int64_t>(i) % real_blocks;
    fn(p, p + 1, b * per_block, std::min(rows, (b + 1) * per_block));
  });
}

}  // namespace kiln::kernels
