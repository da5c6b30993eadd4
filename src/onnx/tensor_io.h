#pragma once
// Single tensors in ONNX's TensorProto form: the input_N.pb / output_N.pb files of the ONNX test data and
// anything else that stores one tensor.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::onnx {

/// Decodes a serialized TensorProto into a tensor that owns its memory. Throws Error(kInvalidModel) for
/// malformed bytes or sizes that disagree, Error(kUnsupported) for element types kiln cannot hold; external
/// data is refused (there is no folder to resolve it against).
Tensor parse_tensor(std::span<const uint8_t> bytes);

/// Reads a file holding one serialized TensorProto. External data, if any, is resolved against the file's
/// folder with the same safety rules as for models. Throws Error(kIo) when the file cannot be read.
Tensor load_tensor_file(const std::string& path);

/// Serializes `t` as a TensorProto called `name` (raw_data, or string_data for strings).
std::vector<uint8_t> serialize_tensor(const Tensor& t, const std::string& name);

}  // namespace kiln::onnx
