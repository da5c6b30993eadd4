#pragma once
// Assigns arena offsets to buffers with known sizes and lifetimes, reusing space once a buffer is dead.
// Best-fit over a free list with coalescing: simple, deterministic, and good on the chain-like graphs
// exported CNNs and transformers have.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kiln::runtime {

struct BufferRequest {
  size_t bytes = 0;
  int first_step = 0;  ///< step that writes it
  int last_step = 0;   ///< last step that reads it (>= first_step)
};

struct MemoryPlan {
  std::vector<size_t> offsets;  ///< one per request, aligned to kArenaAlignment
  size_t arena_bytes = 0;       ///< the peak: the arena size a run needs
};

inline constexpr size_t kArenaAlignment = 64;

/// Plans offsets so that no two buffers alive at the same step overlap. A buffer written at step s may not
/// reuse the space of a buffer read at step s (kernels read inputs while writing outputs).
MemoryPlan plan_memory(const std::vector<BufferRequest>& requests);

}  // namespace kiln::runtime
