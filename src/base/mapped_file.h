#pragma once
// Read-only memory mapping of a whole file; the bytes stay valid while any copy of the handle lives.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace kiln {

/// A read-only mapped file. Copies share the mapping.
class MappedFile {
 public:
  /// Maps `path`; throws Error(kIo) naming the path when it cannot be opened or mapped.
  static MappedFile open(const std::string& path);
  /// Wraps bytes already in memory (a copy is made and owned).
  static MappedFile from_bytes(std::span<const uint8_t> bytes);

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  /// Keeps the mapping alive; tensors that view the file hold this.
  const std::shared_ptr<const void>& owner() const { return owner_; }

 private:
  std::shared_ptr<const void> owner_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kiln
