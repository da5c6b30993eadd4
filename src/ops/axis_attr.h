#pragma once
// One check for every list that holds a value per axis or per spatial dim of some tensor: kernel_shape,
// strides, dilations, pads, output_padding, output_shape, perm, repeats, scales, sizes, pooled_shape...
// Ops call it before indexing such a list, so a list of the wrong length is refused with one message that
// names the node, the list, its length and the rank it had to fit, instead of being read past its end.

#include <cstddef>
#include <string>
#include <string_view>

#include "ops/op.h"

namespace kiln::ops {

/// How many values a per-axis list needs for a tensor of rank r.
enum class AxisSpan {
  kAxes,          ///< one per axis: r (perm, repeats, scales, sizes)
  kAxesTwice,     ///< a begin and an end per axis: 2r (Pad's pads)
  kSpatial,       ///< one per spatial dim, after N and C: r - 2 (kernel_shape, strides, dilations)
  kSpatialTwice,  ///< a begin and an end per spatial dim: 2(r - 2) (the window ops' pads)
};

/// The tensor whose rank decides a list's length, as messages name it: its role and shape, "X [1,3,?,?]".
struct RankOf {
  size_t rank = 0;
  std::string what;
};
/// RankOf for a shape of known rank: `role` followed by the shape.
RankOf rank_of(std::string_view role, const Shape& shape);
/// RankOf for concrete dims.
RankOf rank_of(std::string_view role, const std::vector<int64_t>& dims);

/// The number of values `span` asks for at rank `rank` (0 for a spatial span below rank 2).
size_t axis_count(AxisSpan span, size_t rank);

/// Fails with Error(kInvalidModel) unless attribute `name`, holding `length` values, fits `of`:
///   "attribute 'kernel_shape' has 1 value, but W [3,1,3,3] has rank 4, so it needs 2 (one per spatial dim)".
void check_axis_attr(const NodeContext& ctx, std::string_view name, size_t length, AxisSpan span, const RankOf& of);

/// The same for a list given as an input (Tile's repeats, Resize's scales): the values may be fed at run time,
/// so a mismatch is Error(kInvalidArgument). `name` is the input's name in the operator's spec.
void check_axis_input(const NodeContext& ctx, std::string_view name, size_t length, AxisSpan span, const RankOf& of);

}  // namespace kiln::ops
