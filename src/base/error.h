#pragma once
// Helpers for raising kiln::Error with formatted messages.

#include <fmt/format.h>

#include "kiln/error.h"

namespace kiln {

/// Throws Error(code, fmt::format(f, args...)).
template <typename... Args>
[[noreturn]] void fail(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(code, fmt::format(f, std::forward<Args>(args)...));
}

/// Throws an internal error when a condition that kiln itself guarantees does not hold.
#define KILN_ASSERT(cond)                                                                         \
  do {                                                                                            \
    if (!(cond)) ::kiln::fail(::kiln::ErrorCode::kInternal, "internal error: {} at {}:{}", #cond, \
                              __FILE__, __LINE__);                                                \
  } while (0)

}  // namespace kiln
