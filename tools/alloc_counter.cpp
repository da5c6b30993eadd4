// Counts heap allocations by defining the malloc family in the executable: the dynamic linker then resolves
// every library's malloc (libstdc++'s operator new, kiln's aligned tensor buffers) here, and each
// call forwards to glibc's own allocator through its __libc_* entry points. Replacing operator new alone would
// miss the aligned_alloc that tensors and arenas use. Counters are constant-initialized atomics, so calls made
// before main (by the loader or static initializers) are safe.

#include "alloc_counter.h"

#include <atomic>
#include <cerrno>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KILN_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define KILN_COUNT_ALLOCATIONS 0
#endif
#endif
#if !defined(KILN_COUNT_ALLOCATIONS) && defined(__GLIBC__)
#define KILN_COUNT_ALLOCATIONS 1
#endif
#if !defined(KILN_COUNT_ALLOCATIONS)
#define KILN_COUNT_ALLOCATIONS 0
#endif

namespace {

std::atomic<uint64_t> g_calls{0};
std::atomic<uint64_t> g_bytes{0};

[[maybe_unused]] inline void count(size_t bytes) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace

namespace kiln::cli {

std::optional<AllocationCount> allocations_so_far() {
  if (!KILN_COUNT_ALLOCATIONS) return std::nullopt;
  return AllocationCount{g_calls.load(std::memory_order_relaxed), g_bytes.load(std::memory_order_relaxed)};
}

}  // namespace kiln::cli

#if KILN_COUNT_ALLOCATIONS
extern "C" {

void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* ptr, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* ptr);

void* malloc(size_t size) noexcept {
  count(size);
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) noexcept {
  count(n * size);
  return __libc_calloc(n, size);
}

// A realloc may move the block: counted as an allocation (it is one whenever it grows).
void* realloc(void* ptr, size_t size) noexcept {
  count(size);
  return __libc_realloc(ptr, size);
}

void free(void* ptr) noexcept { __libc_free(ptr); }

void* aligned_alloc(size_t alignment, size_t size) noexcept {
  count(size);
  return __libc_memalign(alignment, size);
}

void* memalign(size_t alignment, size_t size) noexcept {
  count(size);
  return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  count(size);
  void* p = __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

}  // extern "C"
#endif
