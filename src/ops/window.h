#pragma once
// Sliding-window geometry shared by Conv, ConvTranspose, the integer convolutions and the pools:
// reading and checking kernel_shape / strides / dilations / pads / auto_pad once, and the output-size
// rules (explicit pads, SAME_UPPER / SAME_LOWER, VALID, ceil_mode).

#include <cstdint>
#include <vector>

#include "base/int_math.h"
#include "ops/axis_attr.h"
#include "ops/op.h"

namespace kiln::ops {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

/// The window attributes of one node, checked (lengths match the spatial rank, sizes positive).
struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel;     ///< per spatial dim; empty when not known (Conv without kernel_shape or W shape)
  std::vector<int64_t> strides;    ///< per spatial dim
  std::vector<int64_t> dilations;  ///< per spatial dim
  std::vector<int64_t> pads;       ///< begins then ends (2 x spatial rank), used when auto_pad is NOTSET
  bool ceil_mode = false;
};

/// Reads auto_pad, strides, dilations, pads (and ceil_mode when `with_ceil_mode`) for the spatial dims of
/// `of` (its rank minus N and C), each list checked with check_axis_attr before use. `kernel` is the window
/// size when known (kernel_shape_attr or the weights' dims); pass it empty if unknown.
WindowAttrs read_window_attrs(const NodeContext& ctx, const RankOf& of, std::vector<int64_t> kernel,
                              bool with_ceil_mode);

/// The kernel_shape attribute, checked to hold one value per spatial dim of `of`; empty when absent (or given
/// as an empty list, which exporters write for "not given").
std::vector<int64_t> kernel_shape_attr(const NodeContext& ctx, const RankOf& of);

/// Parses auto_pad ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"); fails naming the node otherwise.
AutoPad parse_auto_pad(const NodeContext& ctx);

/// The window resolved for concrete input spatial dims: output size and the pads actually applied.
struct WindowGeometry {
  std::vector<int64_t> in, out, kernel, strides, dilations, pad_begin, pad_end;
  size_t rank() const { return in.size(); }
  int64_t in_size() const;      ///< product of in
  int64_t out_size() const;     ///< product of out
  int64_t kernel_size() const;  ///< product of kernel
};

/// One spatial axis of a forward window for input size `in`: output size and the pads applied.
struct WindowAxis {
  int64_t out, pad_begin, pad_end;
};
/// Resolves axis i of `a` (a.kernel known) without allocating (prepared kernels call it on every run);
/// out = -1 when the padded input is smaller than the window.
WindowAxis resolve_window_axis(const WindowAttrs& a, size_t i, int64_t in);

/// Resolves the forward window (Conv, pools) for concrete spatial input dims; bad_input when the padded input
/// is smaller than the window.
WindowGeometry resolve_window(const NodeContext& ctx, const WindowAttrs& a, const std::vector<int64_t>& in_spatial);

/// Output spatial dims for inference: dims of an unknown or symbolic input dim are unknown.
/// `x_shape` is the full input shape (N, C, spatial...); its rank must be known.
std::vector<Dim> window_output_dims(const NodeContext& ctx, const WindowAttrs& a, const Shape& x_shape);

}  // namespace kiln::ops
