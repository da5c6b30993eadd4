#pragma once
// Per-thread scratch for kernels that need a small private buffer (a row or two) while they run on the session's
// pool: it grows to the largest size asked for and is then reused, so a steady-state run allocates nothing.
// Valid until the same thread asks again; a kernel must not hold it across a call into another kernel that
// may use it too.

#include <cstddef>

namespace kiln::kernels {

/// At least `n` floats, 64-byte aligned, private to the calling thread.
float* thread_scratch_floats(size_t n);

}  // namespace kiln::kernels
