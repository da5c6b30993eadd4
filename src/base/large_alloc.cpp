#include "base/large_alloc.h"

#include <cstdlib>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kiln {

void* large_alloc(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t size = (bytes + 63) / 64 * 64;
  if (size < kHuge) return std::aligned_alloc(64, size == 0 ? 64 : size);
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, size) != 0) return nullptr;
#if defined(MADV_HUGEPAGE)
  madvise(p, size / kHuge * kHuge, MADV_HUGEPAGE);  // advice only: without huge pages it still works
#endif
  return p;
}

}  // namespace kiln
