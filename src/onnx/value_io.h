#pragma once
// Values that are not single tensors, as ONNX stores them: SequenceProto (a list of tensors) and
// OptionalProto (empty, or one tensor or sequence). The ONNX test data feeds and expects such values in its
// input_N.pb / output_N.pb files; which message a file holds is known only from the graph's declared type.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/tensor.h"

namespace kiln::onnx {

/// Decodes `bytes` as the message `declared` calls for: a TensorProto for a tensor, a SequenceProto for a
/// sequence, an OptionalProto for an optional. The element type of an empty container is the declared one.
/// Throws Error(kInvalidModel) for malformed bytes, Error(kUnsupported) for contents kiln does not hold (maps,
/// sparse tensors, sequences of sequences).
Tensor parse_value(std::span<const uint8_t> bytes, const ir::FlatType& declared);

/// Reads a file holding one serialized value of the declared type (see parse_value); external tensor data
/// is resolved against the file's folder as for models.
Tensor load_value_file(const std::string& path, const ir::FlatType& declared);

/// Serializes `t` (a tensor, sequence or optional) as a TensorProto, SequenceProto or OptionalProto.
std::vector<uint8_t> serialize_value(const Tensor& t, const std::string& name);

}  // namespace kiln::onnx
