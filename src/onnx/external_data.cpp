#include "onnx/external_data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/mapped_file.h"
#include "onnx/wire.h"

namespace kiln::onnx {

namespace {

// Closes a descriptor on every path out of a function.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int64_t parse_decimal(const std::string& tensor_name, const std::string& key, const std::string& raw_text) {
  const std::string text = printable(raw_text, 40);
  if (raw_text.empty() || raw_text.size() > 19)
    fail(ErrorCode::kInvalidModel, "tensor '{}': external data {} '{}' is not a non-negative decimal number below 2^63",
         tensor_name, key, text);
  int64_t v = 0;
  for (char c : raw_text) {
    if (c < '0' || c > '9')
      fail(ErrorCode::kInvalidModel, "tensor '{}': external data {} '{}' is not a non-negative decimal number",
           tensor_name, key, text);
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v))
      fail(ErrorCode::kInvalidModel, "tensor '{}': external data {} '{}' does not fit in 64 bits", tensor_name, key,
           text);
  }
  return v;
}

// Splits a relative location into its components, refusing what could leave the model's folder.
std::vector<std::string> split_location(const std::string& tensor_name, const std::string& location) {
  const auto refuse = [&](const char* why) {
    fail(ErrorCode::kInvalidModel, "tensor '{}': external data location '{}' is refused: {}", printable(tensor_name),
         printable(location), why);
  };
  if (location.empty()) refuse("it is empty");
  if (location.find('\0') != std::string::npos) refuse("it contains a NUL byte");
  if (location.front() == '/') refuse("it is an absolute path; locations are relative to the model's folder");
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= location.size()) {
    size_t slash = location.find('/', start);
    if (slash == std::string::npos) slash = location.size();
    std::string part = location.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") refuse("it has a '..' component; external data must lie inside the model's folder");
    parts.push_back(std::move(part));
  }
  if (parts.empty()) refuse("it names no file");
  return parts;
}

}  // namespace

ExternalDataRef parse_external_data_entries(const std::string& raw_name,
                                            const std::vector<std::pair<std::string, std::string>>& entries) {
  const std::string tensor_name = printable(raw_name);
  ExternalDataRef ref;
  bool seen_location = false, seen_offset = false, seen_length = false, seen_checksum = false, seen_base = false;
  for (const auto& [key, value] : entries) {
    bool* seen = nullptr;
    if (key == "location") seen = &seen_location;
    else if (key == "offset") seen = &seen_offset;
    else if (key == "length") seen = &seen_length;
    else if (key == "checksum") seen = &seen_checksum;  // a SHA1 digest; not verified
    else if (key == "basepath") seen = &seen_base;      // written by onnx's Python tools; never used here
    else
      fail(ErrorCode::kInvalidModel,
           "tensor '{}': unknown external data key '{}' (ONNX defines location, offset, length, checksum)",
           tensor_name, printable(key));
    if (*seen) fail(ErrorCode::kInvalidModel, "tensor '{}': external data key '{}' appears twice", tensor_name, key);
    *seen = true;
    if (key == "location") ref.location = value;
    if (key == "offset") ref.offset = parse_decimal(tensor_name, key, value);
    if (key == "length") ref.length = parse_decimal(tensor_name, key, value);
  }
  if (!seen_location)
    fail(ErrorCode::kInvalidModel, "tensor '{}' stores its data externally but gives no location", tensor_name);
  return ref;
}

ExternalBytes ExternalDataResolver::resolve(const std::string& raw_name, const ExternalDataRef& ref) {
  std::vector<std::string> parts = split_location(raw_name, ref.location);
  const std::string tensor_name = printable(raw_name);
  std::string key;
  for (const std::string& p : parts) key += (key.empty() ? "" : "/") + p;
  auto it = files_.find(key);
  if (it == files_.end()) it = files_.emplace(key, open_checked(tensor_name, ref.location, parts)).first;
  const Mapped& m = it->second;
  if (ref.offset < 0 || static_cast<uint64_t>(ref.offset) > m.size)
    fail(ErrorCode::kInvalidModel, "tensor '{}': external data offset {} is past the end of '{}' ({} bytes)",
         tensor_name, ref.offset, printable(ref.location), m.size);
  size_t available = m.size - static_cast<size_t>(ref.offset);
  size_t length = available;
  if (ref.length >= 0) {
    if (static_cast<uint64_t>(ref.length) > available)
      fail(ErrorCode::kInvalidModel,
           "tensor '{}': external data range offset {} + length {} is past the end of '{}' ({} bytes)", tensor_name,
           ref.offset, ref.length, printable(ref.location), m.size);
    length = static_cast<size_t>(ref.length);
  }
  return {{m.data + ref.offset, length}, m.owner};
}

ExternalDataResolver::Mapped ExternalDataResolver::open_checked(const std::string& raw_name,
                                                                const std::string& raw_location,
                                                                const std::vector<std::string>& parts) {
  const std::string tensor_name = printable(raw_name), location = printable(raw_location);
  const auto refuse = [&](const std::string& why) {
    fail(ErrorCode::kInvalidModel, "tensor '{}': external data location '{}' is refused: {}", tensor_name, location,
         why);
  };
  std::string folder = folder_.empty() ? "." : folder_;
  Fd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0)
    fail(ErrorCode::kIo, "tensor '{}': cannot open the model's folder '{}': {}", tensor_name, folder,
         std::strerror(errno));
  // Walk the folders one component at a time with O_NOFOLLOW, so no symlink anywhere on the way is followed
  // (realpath checks would race with a file system that changes underneath).
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd = ::openat(dir.fd, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == ELOOP || e == ENOTDIR) {
        struct stat st {};
        if (fstatat(dir.fd, parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
          refuse(fmt::format("folder '{}' is a symbolic link; external data must not leave the model's folder",
                             printable(parts[i])));
        refuse(fmt::format("'{}' is not a folder", printable(parts[i])));
      }
      fail(ErrorCode::kIo, "tensor '{}': cannot open folder '{}' of external data location '{}': {}", tensor_name,
           printable(parts[i]), location, std::strerror(e));
    }
    ::close(dir.fd);
    dir.fd = fd;
  }
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a regular file.
  Fd file(::openat(dir.fd, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.fd < 0) {
    int e = errno;
    if (e == ELOOP) refuse("the file is a symbolic link; external data must be a regular file in the model's folder");
    fail(ErrorCode::kIo, "tensor '{}': cannot open external data file '{}' (relative to '{}'): {}", tensor_name,
         location, folder, std::strerror(e));
  }
  struct stat st {};
  if (fstat(file.fd, &st) != 0)
    fail(ErrorCode::kIo, "tensor '{}': cannot stat external data file '{}': {}", tensor_name, location,
         std::strerror(errno));
  if (!S_ISREG(st.st_mode)) refuse("it is not a regular file");
  // A second hard link could be a name for a file outside the folder that the model's author should not see.
  if (st.st_nlink != 1)
    refuse(fmt::format("the file has {} hard links; external data must have exactly one", st.st_nlink));
  Mapped m;
  if (st.st_size > 0) {
    m.owner = map_file_readonly(file.fd, static_cast<size_t>(st.st_size));
    if (!m.owner)
      fail(ErrorCode::kIo, "tensor '{}': cannot map external data file '{}': {}", tensor_name, location,
           std::strerror(errno));
    m.data = static_cast<const uint8_t*>(m.owner.get());
    m.size = static_cast<size_t>(st.st_size);
  }
  return m;
}

}  // namespace kiln::onnx
