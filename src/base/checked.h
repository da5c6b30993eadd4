#pragma once
// Overflow-checked size arithmetic: every size computed from untrusted input goes through these.

#include <cstdint>
#include <span>

#include "base/error.h"

namespace kiln {

/// a * b, or an Error(kLimitExceeded) naming `what` when the product overflows int64.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what = "size") {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail(ErrorCode::kLimitExceeded, "{} overflows 64-bit arithmetic", what);
  return r;
}

/// a + b, or an Error(kLimitExceeded) when the sum overflows int64.
inline int64_t checked_add(int64_t a, int64_t b, const char* what = "size") {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail(ErrorCode::kLimitExceeded, "{} overflows 64-bit arithmetic", what);
  return r;
}

/// Product of dims; every dim must be >= 0; overflow is an error.
inline int64_t checked_numel(std::span<const int64_t> dims, const char* what = "element count") {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) fail(ErrorCode::kInvalidModel, "{}: negative dimension {}", what, d);
    n = checked_mul(n, d, what);
  }
  return n;
}

}  // namespace kiln
