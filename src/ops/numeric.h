#pragma once
// Conversions reference kernels use between an element type and the double they compute in, and the
// outer × axis × inner split of a tensor around one axis. Integer results are saturated, never wrapped or
// left to undefined behaviour: a double outside an integer type's range (or NaN) must not crash a kernel.

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "base/checked.h"
#include "kiln/dtype.h"

namespace kiln::ops {

template <typename T>
inline constexpr bool is_float_like_v =
    std::is_floating_point_v<T> || std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

/// Element value as double (Float16/BFloat16 through float).
template <typename T> inline double to_double(T v) {
  if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)
    return static_cast<double>(static_cast<float>(v));
  else
    return static_cast<double>(v);
}

/// Integer conversion that clamps to T's range and maps NaN to 0; `round` picks round-half-to-even
/// (what numpy's saturate cast does) over truncation toward zero (what numpy's astype does).
template <typename T> inline T saturate_to_int(double v, bool round) {
  if (std::isnan(v)) return T(0);
  if (round) v = std::nearbyint(v);
  else v = std::trunc(v);
  constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (v <= lo) return std::numeric_limits<T>::lowest();
  if (v >= hi) return std::numeric_limits<T>::max();  // hi may round up past max for 64-bit types
  return static_cast<T>(v);
}

/// Converts a computed double to T: floats round to nearest, integers truncate (saturating), bool is v != 0.
template <typename T> inline T from_double(double v) {
  if constexpr (std::is_same_v<T, bool>)
    return v != 0;
  else if constexpr (is_float_like_v<T>)
    return T(static_cast<std::conditional_t<std::is_same_v<T, double>, double, float>>(v));
  else
    return saturate_to_int<T>(v, false);
}

/// Like from_double, but integers round half to even (interpolating ops: Resize, GridSample).
template <typename T> inline T from_double_rounded(double v) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return saturate_to_int<T>(v, true);
  else
    return from_double<T>(v);
}

/// A tensor seen as [outer, n, inner] around one axis (row-major), the shape most axis-wise kernels need.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
inline AxisSplit split_at_axis(const std::vector<int64_t>& dims, size_t axis) {
  AxisSplit s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i < axis) s.outer = checked_mul(s.outer, dims[i]);
    else if (i == axis) s.n = dims[i];
    else s.inner = checked_mul(s.inner, dims[i]);
  }
  return s;
}

}  // namespace kiln::ops
