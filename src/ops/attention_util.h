#pragma once
// Numerics the attention ops share (Attention, FlexAttention): rounding an intermediate to the element type
// a function body's op would produce, and a softmax row computed in a chosen precision.

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "ir/dispatch.h"
#include "ops/numeric.h"

namespace kiln::ops::attention {

/// Rounds a computed value to element type T and back (the value a T-typed intermediate would hold).
template <typename T> double round_to(double x) { return to_double(from_double<T>(x)); }

/// Softmax of one row in precision P, in place. A row whose maximum is -inf shifts by 0 (no NaN from
/// -inf - -inf); an all-zero sum divides by 1. bfloat16 accumulates in bfloat16, as a bfloat16 ReduceSum does.
template <typename P> void softmax_row(std::vector<double>& x) {
  double mx = -std::numeric_limits<double>::infinity();
  for (double& v : x) {
    v = round_to<P>(v);
    if (std::isnan(v) || v > mx) mx = std::isnan(mx) ? mx : v;
  }
  const double shift = std::isinf(mx) && mx < 0 ? 0.0 : mx;
  double sum = 0;
  for (double& v : x) {
    v = round_to<P>(std::exp(round_to<P>(v - shift)));
    sum = std::is_same_v<P, BFloat16> ? round_to<P>(sum + v) : sum + v;
  }
  sum = round_to<P>(sum);
  if (sum == 0) sum = 1;
  for (double& v : x) v = round_to<P>(v / sum);
}

using SoftmaxFn = void (*)(std::vector<double>&);

/// softmax_row for precision `p` (a float type; others are refused naming `what`).
inline SoftmaxFn softmax_for(DType p, const char* what) {
  return visit_float(p, []<typename P>() -> SoftmaxFn { return &softmax_row<P>; }, what);
}

}  // namespace kiln::ops::attention
