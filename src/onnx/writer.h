#pragma once
// Writing kiln::ir::Model back to an ONNX file. Everything the loader reads survives a write and a load:
// graphs and subgraphs, value types with symbolic dims, attributes of every kind, initializers (written
// inline as raw_data, also those that came from external data), functions and metadata.

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln::onnx {

/// IR version written for a model whose ir_version is 0 (built in code rather than loaded).
constexpr int64_t kDefaultIrVersion = 10;

/// Serializes `m` as a binary ModelProto. Sparse attributes are written as COO sparse tensors; sparse
/// initializers (densified on load) are written dense. Throws Error(kInvalidArgument) for a model that
/// cannot be written (a tensor with no data, a value id out of range).
std::vector<uint8_t> serialize_model(const ir::Model& m);

/// serialize_model(), written to `path` through a temporary file that is renamed into place, so a failed
/// write never leaves half a model behind. Throws Error(kIo) when the file cannot be written.
void save_model(const ir::Model& m, const std::string& path);

}  // namespace kiln::onnx
