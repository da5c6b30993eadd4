#pragma once
// Calls a generic lambda with the C++ element type of a DType:
//   visit_dtype(t, [&]<typename T>() { ... });
// Kernels pick the family they support; other types raise a clear Error naming the op.

#include <string>

#include "base/error.h"
#include "kiln/dtype.h"

namespace kiln {

namespace detail {
[[noreturn]] void unsupported_dtype(DType t, const char* what);
}

/// float32, float64, float16, bfloat16.
template <typename F>
decltype(auto) visit_float(DType t, F&& f, const char* what = "this op") {
  switch (t) {
    case DType::kFloat32: return f.template operator()<float>();
    case DType::kFloat64: return f.template operator()<double>();
    case DType::kFloat16: return f.template operator()<Float16>();
    case DType::kBFloat16: return f.template operator()<BFloat16>();
    default: detail::unsupported_dtype(t, what);
  }
}

/// Every integer width, signed and unsigned (bool excluded).
template <typename F>
decltype(auto) visit_integer(DType t, F&& f, const char* what = "this op") {
  switch (t) {
    case DType::kInt8: return f.template operator()<int8_t>();
    case DType::kInt16: return f.template operator()<int16_t>();
    case DType::kInt32: return f.template operator()<int32_t>();
    case DType::kInt64: return f.template operator()<int64_t>();
    case DType::kUInt8: return f.template operator()<uint8_t>();
    case DType::kUInt16: return f.template operator()<uint16_t>();
    case DType::kUInt32: return f.template operator()<uint32_t>();
    case DType::kUInt64: return f.template operator()<uint64_t>();
    default: detail::unsupported_dtype(t, what);
  }
}

/// Floats and integers (bool and string excluded).
template <typename F>
decltype(auto) visit_numeric(DType t, F&& f, const char* what = "this op") {
  if (dtype_is_float(t)) return visit_float(t, std::forward<F>(f), what);
  return visit_integer(t, std::forward<F>(f), what);
}

/// Numeric types and bool.
template <typename F>
decltype(auto) visit_numeric_or_bool(DType t, F&& f, const char* what = "this op") {
  if (t == DType::kBool) return f.template operator()<bool>();
  return visit_numeric(t, std::forward<F>(f), what);
}

/// Every type kiln holds in memory, string included (for data-movement ops).
template <typename F>
decltype(auto) visit_all(DType t, F&& f, const char* what = "this op") {
  if (t == DType::kString) return f.template operator()<std::string>();
  return visit_numeric_or_bool(t, std::forward<F>(f), what);
}

}  // namespace kiln
