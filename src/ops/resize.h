#pragma once
// What Resize and Upsample share between the op definitions (resize.cpp: versions, attributes, output
// sizes) and the separable kernel (resize_kernel.cpp).

#include <cstdint>
#include <vector>

#include "kiln/tensor.h"
#include "ops/op.h"

namespace kiln::ops::resize {

enum class Mode { kNearest, kLinear, kCubic };

enum class CoordMode { kHalfPixel, kHalfPixelSymmetric, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfCropAndResize };

/// How nearest mode rounds a source coordinate. kSimple is the rule of Upsample and Resize-10, before
/// nearest_mode existed: truncate when upsampling, round up when downsampling (what onnxruntime does).
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

/// One input axis: its input and output length, the scale the coordinate transform uses, the fractional
/// output width (scale * in; it differs from `out` when a scale does not divide evenly), and its RoI.
struct Axis {
  int64_t in = 1, out = 1;
  double scale = 1;
  double out_width = 1;
  double roi_start = 0, roi_end = 1;
};

struct Params {
  Mode mode = Mode::kNearest;
  CoordMode coord = CoordMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0;
  std::vector<Axis> axes;  // one per input dim
};

/// Resamples x into y (already allocated with each axis's `out`), one axis at a time.
void run(const NodeContext& ctx, const Params& p, const Tensor& x, Tensor& y);

/// The node's attributes and its scales/sizes/roi inputs resolved for input `x`: what the reference kernel
/// runs with, for the prepared kernel (resize_prepared.cpp) to build its tables from. Fails as the reference does.
Params params_for_run(const KernelContext& ctx, const Tensor& x);

}  // namespace kiln::ops::resize
