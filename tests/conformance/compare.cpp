#include "compare.h"

#include <fmt/format.h>

#include <cmath>

#include "kiln/shape.h"

namespace kiln::conformance {

namespace {

std::string compare_tensors(const Tensor& got, const Tensor& want, double rtol, double atol);

// Containers match when they are the same kind, hold as many values, and each value matches.
std::string compare_containers(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.kind() != want.kind())
    return fmt::format("a {} but expected a {}", tensor_kind_name(got.kind()), tensor_kind_name(want.kind()));
  const auto& a = got.elements();
  const auto& b = want.elements();
  if (got.is_optional() && a.size() != b.size())
    return got.has_element() ? "an optional holding a value but expected an empty one"
                             : "an empty optional but expected one holding a value";
  if (a.size() != b.size())
    return fmt::format("a sequence of {} tensors but expected {}", a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    std::string diff = compare(a[i], b[i], rtol, atol);
    if (!diff.empty()) return fmt::format("{} {}: {}", got.is_sequence() ? "tensor" : "value", i, diff);
  }
  return "";
}

}  // namespace

std::string compare(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (!got.is_tensor() || !want.is_tensor()) return compare_containers(got, want, rtol, atol);
  return compare_tensors(got, want, rtol, atol);
}

namespace {

std::string compare_tensors(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (got.dtype() != want.dtype())
    return fmt::format("element type {} but expected {}", dtype_name(got.dtype()), dtype_name(want.dtype()));
  if (got.dims() != want.dims())
    return fmt::format("dims {} but expected {}", dims_str(got.dims()), dims_str(want.dims()));
  if (got.dtype() == DType::kString) {
    for (int64_t i = 0; i < got.numel(); ++i)
      if (got.data<std::string>()[i] != want.data<std::string>()[i])
        return fmt::format("string element {} is '{}' but expected '{}'", i, got.data<std::string>()[i],
                           want.data<std::string>()[i]);
    return "";
  }
  if (!dtype_is_float(got.dtype())) {
    for (int64_t i = 0; i < got.numel(); ++i)
      if (got.int_at(i) != want.int_at(i))
        return fmt::format("element {} is {} but expected {}", i, got.int_at(i), want.int_at(i));
    return "";
  }
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double a = got.double_at(i), b = want.double_at(i);
    if (std::isnan(a) && std::isnan(b)) continue;
    if (std::isinf(a) || std::isinf(b)) {
      if (a == b) continue;
    } else if (std::abs(a - b) <= atol + rtol * std::abs(b)) {
      continue;
    }
    if (first < 0) first = i;
    ++bad;
    if (!(std::abs(a - b) <= worst)) worst = std::abs(a - b);
  }
  if (bad == 0) return "";
  return fmt::format("{} of {} elements differ (first at {}: {} vs expected {}; largest difference {:.3g})", bad,
                     got.numel(), first, got.double_at(first), want.double_at(first), worst);
}

}  // namespace

}  // namespace kiln::conformance
