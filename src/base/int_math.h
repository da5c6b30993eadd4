#pragma once
// Integer rounding used by the kernels' blocking and the ops' window geometry: one definition for all of them.

#include <cstdint>

namespace kiln {

/// ceil(a / b) for a >= 0, b > 0.
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace kiln
