#include "base/aligned_memory.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kiln {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

constexpr size_t kBlockAlignment = 64;

std::shared_ptr<void> owned(size_t bytes) {
  void* p = alloc_aligned(kBlockAlignment, bytes);
  if (!p) return nullptr;
  return std::shared_ptr<void>(p, std::free);
}

}  // namespace

void* alloc_aligned(size_t alignment, size_t bytes) {
  const size_t size = std::max((bytes + alignment - 1) / alignment * alignment, alignment);
  void* p = std::aligned_alloc(alignment, size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + size) & ~(kHugePage - 1);
  // Only the whole huge pages inside the block: the rest keeps 4 KiB pages, so no memory outside the block turns
  // resident. Where THP is off the call fails and nothing changes.
  if (p && end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
  return p;
}

std::shared_ptr<void> ChunkedAllocator::allocate(size_t bytes) {
  const size_t size = std::max((bytes + kBlockAlignment - 1) / kBlockAlignment * kBlockAlignment, kBlockAlignment);
  if (kSanitized || size > chunk_bytes_ / 4) return owned(size);
  if (!chunk_ || used_ + size > chunk_bytes_) {
    chunk_ = owned(chunk_bytes_);
    used_ = 0;
    if (!chunk_) return nullptr;
  }
  void* block = static_cast<char*>(chunk_.get()) + used_;
  used_ += size;
  return std::shared_ptr<void>(chunk_, block);  // shares the chunk's ownership
}

}  // namespace kiln
