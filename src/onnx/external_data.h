#pragma once
// Tensor data stored beside the model (TensorProto.data_location = EXTERNAL). The reference is untrusted:
// the file must lie inside the model's folder, reached without symlinks, with one hard link, and the byte
// range must lie inside the file. Each file is mapped once and shared by every tensor that reads it.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace kiln::onnx {

/// Where one tensor's external bytes lie, as TensorProto.external_data says.
struct ExternalDataRef {
  std::string location;  ///< path relative to the model's folder
  int64_t offset = 0;
  int64_t length = -1;  ///< -1: up to the end of the file
};

/// Checks the key/value entries of TensorProto.external_data: the keys ONNX defines ("location", "offset",
/// "length", "checksum"), each at most once, "location" present, offset and length decimal numbers within
/// int64. Throws Error(kInvalidModel) naming `tensor_name` and what was wrong.
ExternalDataRef parse_external_data_entries(const std::string& tensor_name,
                                            const std::vector<std::pair<std::string, std::string>>& entries);

/// Bytes of one tensor inside a mapped external file; `owner` keeps the mapping alive.
struct ExternalBytes {
  std::span<const uint8_t> data;
  std::shared_ptr<const void> owner;
};

/// Resolves external-data references against one model folder, mapping each file once.
class ExternalDataResolver {
 public:
  /// `folder` is the model's folder ("" for the current one).
  explicit ExternalDataResolver(std::string folder) : folder_(std::move(folder)) {}

  /// The bytes `ref` names for tensor `tensor_name`. Throws Error(kInvalidModel) naming the tensor and the
  /// path when the location is absolute, has a `..` component, passes through a symlink, names a symlink, a
  /// file that is not a regular file or has more than one hard link, or when the range is outside the file;
  /// Error(kIo) when the file cannot be opened or mapped.
  ExternalBytes resolve(const std::string& tensor_name, const ExternalDataRef& ref);

 private:
  struct Mapped {
    const uint8_t* data = nullptr;
    size_t size = 0;
    std::shared_ptr<const void> owner;
  };
  Mapped open_checked(const std::string& tensor_name, const std::string& location,
                      const std::vector<std::string>& parts);

  std::string folder_;
  std::map<std::string, Mapped> files_;  // by normalized relative path
};

}  // namespace kiln::onnx
