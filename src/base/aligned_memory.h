#pragma once
// Allocation of large blocks that live long and are read often: packed weights, tensors, a plan's arena.

#include <cstddef>
#include <memory>

namespace kiln {

/// std::aligned_alloc(alignment, bytes rounded up to a multiple of alignment), null when out of memory; free with
/// std::free. Where the block spans whole 2 MiB pages, those are asked to be transparent huge pages
/// (madvise MADV_HUGEPAGE; granted where the system's THP setting is "madvise", Debian's default, or "always"):
/// one page fault per 2 MiB instead of 512 when the block is first written.
void* alloc_aligned(size_t alignment, size_t bytes);

/// Carves 64-byte aligned blocks out of chunks from alloc_aligned, for many long-lived blocks of a few KiB to a
/// few MiB: a session's packed weights, which one by one are mostly too small to span a huge page. Measured
/// (Zen 4, ResNet-50, 100 MB packed in ~160 blocks): session creation spent a third of its time in the kernel,
/// faulting in 4 KiB pages. A block's owner keeps its chunk alive; a chunk is freed with its last block. Blocks
/// larger than a quarter chunk get their own allocation. Not thread-safe. Under AddressSanitizer every block is
/// its own allocation, so that a write past a block is still caught.
class ChunkedAllocator {
 public:
  explicit ChunkedAllocator(size_t chunk_bytes = size_t{32} << 20) : chunk_bytes_(chunk_bytes) {}
  /// `bytes` (at least 1) in a 64-byte aligned block, or null when out of memory.
  std::shared_ptr<void> allocate(size_t bytes);

 private:
  size_t chunk_bytes_;
  std::shared_ptr<void> chunk_;
  size_t used_ = 0;
};

}  // namespace kiln
