#pragma once
// Tensor builders and an exact-where-it-should-be comparison for the elementwise op tests.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ir/dispatch.h"
#include "kiln/shape.h"
#include "kiln/tensor.h"

namespace kiln::testing {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

/// A float-typed tensor (float, double, Float16, BFloat16) from double literals.
template <typename T> Tensor floats(std::vector<int64_t> dims, std::vector<double> values) {
  Tensor t(dtype_of<T>(), std::move(dims));
  EXPECT_EQ(static_cast<size_t>(t.numel()), values.size()) << "test data does not match its dims";
  for (size_t i = 0; i < values.size() && i < static_cast<size_t>(t.numel()); ++i) {
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) t.data<T>()[i] = T(float(values[i]));
    else t.data<T>()[i] = T(values[i]);
  }
  return t;
}

/// An integer, bool or string tensor.
template <typename T> Tensor values(std::vector<int64_t> dims, std::vector<T> v) {
  return Tensor::from_vector<T>(std::move(dims), v);
}

/// Compares type, dims and elements: strings, bools and integers exactly; floats with
/// |got - want| <= atol + rtol * |want|, NaN matching NaN, infinities matching exactly.
/// The default tolerance follows the type: a few ulps of float for float/double, two ulps for 16-bit floats
/// (kiln computes those in float and rounds once; references may round after every step).
inline void expect_tensor(const Tensor& got, const Tensor& want, double rtol = -1, double atol = -1) {
  ASSERT_EQ(dtype_name(got.dtype()), dtype_name(want.dtype()));
  ASSERT_EQ(dims_str(got.dims()), dims_str(want.dims()));
  if (rtol < 0) {
    switch (want.dtype()) {
      case DType::kFloat16: rtol = 2e-3; break;  // 2 ulps (2^-10 each, at worst)
      case DType::kBFloat16: rtol = 1.6e-2; break;  // 2 ulps (2^-7 each, at worst)
      default: rtol = 2e-6; break;
    }
  }
  if (atol < 0) atol = want.dtype() == DType::kFloat64 ? 1e-12 : 1e-6;
  int reported = 0;
  for (int64_t i = 0; i < want.numel() && reported < 8; ++i) {
    if (want.dtype() == DType::kString) {
      const std::string& g = got.data<std::string>()[i];
      const std::string& w = want.data<std::string>()[i];
      if (g != w) {
        ADD_FAILURE() << "element " << i << ": got \"" << g << "\", want \"" << w << "\"";
        ++reported;
      }
    } else if (!dtype_is_float(want.dtype())) {
      bool same = visit_numeric_or_bool(want.dtype(), [&]<typename T>() { return got.data<T>()[i] == want.data<T>()[i]; });
      if (!same) {
        ADD_FAILURE() << "element " << i << ": got " << got.double_at(i) << ", want " << want.double_at(i);
        ++reported;
      }
    } else {
      double g = got.double_at(i), w = want.double_at(i);
      bool ok = std::isnan(w) ? std::isnan(g) : std::isinf(w) ? g == w : std::abs(g - w) <= atol + rtol * std::abs(w);
      if (!ok) {
        ADD_FAILURE() << "element " << i << ": got " << g << ", want " << w;
        ++reported;
      }
    }
  }
}

}  // namespace kiln::testing
