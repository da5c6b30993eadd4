#include "kiln/shape.h"

#include <fmt/format.h>

namespace kiln {

std::string Dim::str() const {
  if (is_known()) return std::to_string(value_);
  if (is_symbol()) return symbol_;
  return "?";
}

Shape Shape::from(const std::vector<int64_t>& v) {
  Shape s;
  for (int64_t d : v) s.dims.emplace_back(d);
  return s;
}

bool Shape::is_concrete() const {
  if (!rank_known) return false;
  for (const Dim& d : dims)
    if (!d.is_known()) return false;
  return true;
}

std::vector<int64_t> Shape::values() const {
  std::vector<int64_t> v;
  v.reserve(dims.size());
  for (const Dim& d : dims) v.push_back(d.value());
  return v;
}

std::string Shape::str() const {
  if (!rank_known) return "[?]";
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += dims[i].str();
  }
  return s + "]";
}

std::string dims_str(const std::vector<int64_t>& dims) {
  if (dims.empty()) return "scalar";
  return fmt::format("{}", fmt::join(dims, "x"));
}

}  // namespace kiln
