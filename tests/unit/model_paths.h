#pragma once
// Paths of the models in models/ that several test files load whole.

namespace kiln::testing {

/// Conv, Relu, DepthToSpace; input [batch, 1, h, w].
inline constexpr const char* kSuperResolutionModel = KILN_SOURCE_DIR "/models/super_resolution.onnx";

}  // namespace kiln::testing
