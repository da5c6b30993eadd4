#include "base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/error.h"

namespace kiln {

namespace {
struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && size) munmap(addr, size);
  }
};
}  // namespace

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
  auto m = std::make_shared<Mapping>();
  if (st.st_size > 0) {
    m->addr = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->addr == MAP_FAILED) {
      int e = errno;
      m->addr = nullptr;
      ::close(fd);
      fail(ErrorCode::kIo, "cannot map '{}': {}", path, std::strerror(e));
    }
    m->size = static_cast<size_t>(st.st_size);
  }
  ::close(fd);
  f.data_ = static_cast<const uint8_t*>(m->addr);
  f.size_ = m->size;
  f.owner_ = std::move(m);
  return f;
}

MappedFile MappedFile::from_bytes(std::span<const uint8_t> bytes) {
  auto copy = std::make_shared<std::vector<uint8_t>>(bytes.begin(), bytes.end());
  MappedFile f;
  f.data_ = copy->data();
  f.size_ = copy->size();
  f.owner_ = std::move(copy);
  return f;
}

}  // namespace kiln
