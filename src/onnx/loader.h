#pragma once
// Loading ONNX models (ModelProto files) into kiln::ir::Model. The input is untrusted: every length and size
// is checked, nesting is limited, and every refusal is an Error that says what was wrong and where.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ir/graph.h"

namespace kiln::onnx {

struct LoadOptions {
  int max_nesting = 32;  ///< deepest subgraph nesting accepted (If/Loop/Scan bodies inside bodies)
};

/// Maps the file at `path` and reads the model. Initializers stored in raw_data are zero-copy views into the
/// mapping (kept alive by Model::keepalive) when suitably aligned; external data is resolved against the
/// file's folder and mapped the same way. Does not run ir::validate: the caller does.
/// Throws Error(kIo) when the file cannot be read, Error(kInvalidModel) for malformed content,
/// Error(kUnsupported) for valid ONNX kiln cannot hold (element types, IR versions newer than it knows),
/// Error(kLimitExceeded) past max_nesting.
ir::Model load_model(const std::string& path, const LoadOptions& opts = {});

/// Reads a model from bytes (copied; initializers view the copy). With no folder to resolve it against,
/// external data is refused with a clear error.
ir::Model load_model_from_bytes(std::span<const uint8_t> bytes, const LoadOptions& opts = {});

/// Reads a model from bytes that stay valid while `owner` lives (a section of a mapped engine file): nothing is
/// copied, and initializers view the bytes when suitably aligned, as load_model's do. External data is refused.
ir::Model load_model_from_view(std::span<const uint8_t> bytes, std::shared_ptr<const void> owner,
                               const LoadOptions& opts = {});

/// The newest IR version this reader knows (onnx.proto of ONNX 1.23: IR_VERSION = 14).
constexpr int64_t kMaxIrVersion = 14;

}  // namespace kiln::onnx
