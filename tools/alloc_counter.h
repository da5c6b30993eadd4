#pragma once
// Heap allocations made by the executable that links alloc_counter.cpp (the kiln tool, the unit tests), counted
// by replacing the malloc family in it, so `kiln bench` can report allocations per steady-state run and a test
// can assert there are none. Only those executables count: the library and its users are unaffected.

#include <cstdint>
#include <optional>

namespace kiln::cli {

struct AllocationCount {
  uint64_t calls = 0;  ///< malloc, calloc, realloc, aligned_alloc, posix_memalign, memalign (operator new too)
  uint64_t bytes = 0;  ///< bytes asked for by those calls
};

/// Allocations of the whole process (every thread) since it started, or nullopt when this build cannot count
/// them (sanitizer builds, whose runtime owns malloc; C libraries other than glibc).
std::optional<AllocationCount> allocations_so_far();

}  // namespace kiln::cli
