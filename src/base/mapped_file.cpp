#include "base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "base/error.h"

namespace kiln {

namespace {

// The live mappings, for release_mapped_pages: an address range is released only when it lies in one of them.
std::mutex g_mappings_mutex;
std::vector<std::pair<uintptr_t, size_t>> g_mappings;

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  Mapping(void* a, size_t n) : addr(a), size(n) {
    std::lock_guard<std::mutex> lock(g_mappings_mutex);
    g_mappings.emplace_back(reinterpret_cast<uintptr_t>(addr), size);
  }
  ~Mapping() {
    {
      std::lock_guard<std::mutex> lock(g_mappings_mutex);
      std::erase(g_mappings, std::pair<uintptr_t, size_t>(reinterpret_cast<uintptr_t>(addr), size));
    }
    munmap(addr, size);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

}  // namespace

std::shared_ptr<const void> map_file_readonly(int fd, size_t size) {
  void* addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) return nullptr;
  // Aliasing: the pointer is the mapped bytes, the control block keeps the Mapping (and so the mapping) alive.
  return std::shared_ptr<const void>(std::make_shared<const Mapping>(addr, size), addr);
}

void release_mapped_pages(const void* data, size_t size) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(data), end = begin + size;
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;  // whole pages only
  if (first >= last) return;
  std::lock_guard<std::mutex> lock(g_mappings_mutex);
  for (const auto& [at, n] : g_mappings)
    if (begin >= at && end <= at + n) {
      madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
      return;
    }
}

MappedFile MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::kIo, "cannot open '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail(ErrorCode::kIo, "cannot stat '{}': {}", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::kIo, "'{}' is not a regular file", path);
  }
  MappedFile f;
  if (st.st_size > 0) {
    f.owner_ = map_file_readonly(fd, static_cast<size_t>(st.st_size));
    if (!f.owner_) {
      int e = errno;
      ::close(fd);
      fail(ErrorCode::kIo, "cannot map '{}': {}", path, std::strerror(e));
    }
    f.data_ = static_cast<const uint8_t*>(f.owner_.get());
    f.size_ = static_cast<size_t>(st.st_size);
  }
  ::close(fd);
  return f;
}

MappedFile MappedFile::from_bytes(std::span<const uint8_t> bytes) {
  void* copy = std::aligned_alloc(64, std::max<size_t>((bytes.size() + 63) / 64 * 64, 64));
  if (!copy) fail(ErrorCode::kLimitExceeded, "cannot allocate {} bytes for a copy of the model", bytes.size());
  if (!bytes.empty()) std::memcpy(copy, bytes.data(), bytes.size());
  MappedFile f;
  f.data_ = static_cast<const uint8_t*>(copy);
  f.size_ = bytes.size();
  f.owner_ = std::shared_ptr<const void>(copy, std::free);
  return f;
}

}  // namespace kiln
