#pragma once
// Internals of the dim-key derivation (shape_facts.h), shared by dim_keys.cpp (element-wise, Conv/Pool, MatMul,
// size arithmetic, the driver) and dim_keys_movement.cpp (ops that move or select elements).

#include <limits>
#include <optional>
#include <vector>

#include "passes/rewrite_util.h"
#include "passes/shape_facts.h"

namespace kiln::passes::dim_keys_detail {

using Keys = std::vector<DimKey>;
// Keys of 1-element or 1-D integer values that hold sizes (Shape -> Gather -> Concat -> Reshape chains).
using Contents = std::vector<std::optional<Keys>>;

struct Deriver {
  const ir::Graph& g;
  const std::vector<ops::ValueInfo>& infos;
  std::vector<DimKeys> keys;
  Contents contents;

  const Keys* k(const ir::Node& n, size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i] < 0) return nullptr;
    const DimKeys& d = keys[static_cast<size_t>(n.inputs[i])];
    return d ? &*d : nullptr;
  }
  const Keys* c(const ir::Node& n, size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i] < 0) return nullptr;
    const auto& d = contents[static_cast<size_t>(n.inputs[i])];
    return d ? &*d : nullptr;
  }
  const Tensor* value(const ir::Node& n, size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i] < 0) return nullptr;
    return infos[static_cast<size_t>(n.inputs[i])].value;
  }
  std::optional<std::vector<int64_t>> ints(const ir::Node& n, size_t i) const {
    const Tensor* t = value(n, i);
    if (!t || !dtype_is_integer(t->dtype())) return std::nullopt;
    return t->to_int64_vector();
  }

  void run();
  DimKeys tensor_rule(const ir::Node& n, size_t out) const;
  std::optional<Keys> content_rule(const ir::Node& n) const;
  std::optional<Keys> select_rule(const ir::Node& n) const;  // Equal, Where
  DimKeys spatial(const ir::Node& n) const;
  DimKeys spatial_of(const ir::Node& n, const Keys& x, const Keys* w, bool conv) const;
  DimKeys nhwc_conv(const ir::Node& n) const;
  /// Ops that move or select elements: Transpose, Reshape, Expand, (Un)Squeeze, Slice, Split, Concat, Gather,
  /// reductions, ConstantOfShape, Range (dim_keys_movement.cpp).
  DimKeys movement_rule(const ir::Node& n) const;
};

/// Right-aligned broadcasting of keys: a dim is the one key all non-1 inputs agree on, else unknown.
Keys broadcast(const std::vector<const Keys*>& ins);

// Sums and products of sizes and attributes, which a hostile model may make overflow, are computed wide and
// refused (nullopt) when they do not fit.
__extension__ using Wide = __int128;
inline std::optional<int64_t> fits(Wide v) {
  if (v > std::numeric_limits<int64_t>::max() || v < std::numeric_limits<int64_t>::min()) return std::nullopt;
  return static_cast<int64_t>(v);
}

}  // namespace kiln::passes::dim_keys_detail
