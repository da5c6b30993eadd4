#pragma once
// Allocations large enough to be worth 2 MiB pages: the activation arena and packed weights. Each such buffer is
// aligned to 2 MiB and the kernel is asked (madvise MADV_HUGEPAGE: transparent huge pages are often "madvise"
// only) to back it with huge pages. Kernels that read rows of a large operand far apart in memory (an NCHW 1x1
// convolution's input planes read in place, a GEMM's weight panels streamed from memory) otherwise miss the
// first-level TLB on nearly every row: 4 KiB pages cover 128 rows of 12 KiB with 128 entries, huge pages with 1.

#include <cstddef>

namespace kiln {

/// `bytes` bytes (rounded up to a multiple of 64), 64-byte aligned, on huge pages where the system grants them
/// (from 2 MiB up); null when out of memory. Free with std::free.
void* large_alloc(size_t bytes);

}  // namespace kiln
