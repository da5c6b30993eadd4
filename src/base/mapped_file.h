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
  /// Wraps bytes already in memory (a copy is made and owned, 64-byte aligned as a mapping's pages are, so an
  /// engine's aligned sections are usable in place from it too).
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

/// Maps `size` bytes of the open file `fd` read-only (MAP_PRIVATE); the mapping lives while the returned owner
/// does; the owner's pointer is the mapped bytes. Returns null with errno set when mmap fails. Every file mapping kiln makes goes through here, so
/// release_mapped_pages() knows them.
std::shared_ptr<const void> map_file_readonly(int fd, size_t size);

/// Drops from this process's memory the whole pages of [data, data + size) that lie inside a live file mapping
/// made by map_file_readonly (madvise MADV_DONTNEED): touched again, they are read back from the file, so the
/// bytes seen never change. Memory that is not such a mapping is left alone. Called for weights a prepared
/// kernel has packed into a layout of its own, so the session does not hold them twice.
void release_mapped_pages(const void* data, size_t size);

}  // namespace kiln
