#include "kernels/thread_scratch.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "base/error.h"

namespace kiln::kernels {

namespace {

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

}  // namespace

float* thread_scratch_floats(size_t n) {
  thread_local std::unique_ptr<float, FreeDeleter> buffer;
  thread_local size_t capacity = 0;
  if (n > capacity) {
    const size_t want = (std::max<size_t>(n, 1024) + 15) / 16 * 16;  // whole 64-byte lines
    float* p = static_cast<float*>(std::aligned_alloc(64, want * sizeof(float)));
    if (!p) fail(ErrorCode::kLimitExceeded, "out of memory allocating {} bytes of kernel scratch", want * sizeof(float));
    buffer.reset(p);
    capacity = want;
  }
  return buffer.get();
}

}  // namespace kiln::kernels
