#pragma once
// Output comparison as the ONNX backend runner does it: floats within rtol/atol (NaN equals NaN),
// integers, bools and strings exactly; dtype and dims must match. Sequences and optionals match value by value.

#include <string>

#include "kiln/tensor.h"

namespace kiln::conformance {

/// "" when `got` matches `want`, else a one-line description of the first difference.
std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol);

}  // namespace kiln::conformance
