#pragma once
// Shapes whose dims are numbers, named symbols (ONNX dim_param) or unknown.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

/// One dimension: a known size, a symbol such as "batch", or unknown.
class Dim {
 public:
  Dim() = default;  ///< unknown
  Dim(int64_t v) : value_(v) {}  // NOLINT: a number is a dim
  static Dim symbol(std::string name) {
    Dim d;
    d.symbol_ = std::move(name);
    return d;
  }
  bool is_known() const { return value_ >= 0; }
  bool is_symbol() const { return value_ < 0 && !symbol_.empty(); }
  int64_t value() const { return value_; }  ///< the size; -1 when not known
  const std::string& symbol_name() const { return symbol_; }
  /// "224", "batch" or "?".
  std::string str() const;
  bool operator==(const Dim& o) const { return value_ == o.value_ && symbol_ == o.symbol_; }

 private:
  int64_t value_ = -1;
  std::string symbol_;
};

/// A tensor shape; `rank_known` is false when even the number of dims is unknown.
struct Shape {
  std::vector<Dim> dims;
  bool rank_known = true;

  Shape() = default;
  Shape(std::vector<Dim> d) : dims(std::move(d)) {}  // NOLINT
  static Shape from(const std::vector<int64_t>& v);
  static Shape unknown_rank() {
    Shape s;
    s.rank_known = false;
    return s;
  }
  size_t rank() const { return dims.size(); }
  /// True when the rank and every dim are known numbers.
  bool is_concrete() const;
  /// The dims as numbers; only valid when is_concrete().
  std::vector<int64_t> values() const;
  /// "[batch,3,224,224]" or "[?]" for unknown rank.
  std::string str() const;
  bool operator==(const Shape& o) const { return rank_known == o.rank_known && dims == o.dims; }
};

/// "1x3x224x224" style formatting of concrete dims.
std::string dims_str(const std::vector<int64_t>& dims);

}  // namespace kiln
