#pragma once
// Shared helpers of the ONNX layer's tests: where the fixtures are, CRC-32 as Python's zlib computes it,
// temporary folders, hand-built protobuf bytes for hostile inputs, and error expectations.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/error.h"
#include "kiln/tensor.h"
#include "onnx/wire.h"

namespace kiln::testing {

namespace fs = std::filesystem;

/// tests/unit/data/onnx in the source tree. (KILN_SOURCE_DIR, not __FILE__: ccache may make __FILE__ relative.)
inline fs::path onnx_fixture_dir() { return fs::path(KILN_SOURCE_DIR) / "tests" / "unit" / "data" / "onnx"; }

/// The model test data the onnx wheel ships (…/site-packages/onnx/backend/test/data) in the project's venv
/// ($KILN_VENV, else .venv at the repository root); empty when not found.
inline fs::path venv_onnx_data_dir() {
  fs::path venv = getenv("KILN_VENV") ? fs::path(getenv("KILN_VENV"))
                                      : fs::path(KILN_SOURCE_DIR) / ".venv";
  std::error_code ec;
  if (!fs::is_directory(venv / "lib", ec)) return {};
  for (const auto& e : fs::directory_iterator(venv / "lib", ec)) {
    fs::path p = e.path() / "site-packages" / "onnx" / "backend" / "test" / "data";
    if (e.path().filename().string().rfind("python3", 0) == 0 && fs::is_directory(p, ec)) return p;
  }
  return {};
}

/// CRC-32 (the polynomial of zlib.crc32), continuing from `crc`.
inline uint32_t crc32(const void* data, size_t n, uint32_t crc = 0) {
  static const auto table = [] {
    std::vector<uint32_t> t(256);
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/// CRC-32 of a tensor's elements as make_fixtures.py computes it (strings: each followed by a NUL byte;
/// int4/int2 as the unsigned 4-/2-bit fields numpy_helper unpacks them to, where kiln sign-extends).
inline uint32_t tensor_crc32(const Tensor& t) {
  if (t.dtype() == DType::kInt4 || t.dtype() == DType::kInt2) {
    std::vector<uint8_t> fields(static_cast<const uint8_t*>(t.raw_data()),
                                static_cast<const uint8_t*>(t.raw_data()) + t.nbytes());
    for (uint8_t& b : fields) b &= t.dtype() == DType::kInt4 ? 0x0F : 0x03;
    return crc32(fields.data(), fields.size());
  }
  if (t.dtype() != DType::kString) return crc32(t.raw_data(), t.nbytes());
  uint32_t c = 0;
  for (const std::string& s : t.span<std::string>()) {
    c = crc32(s.data(), s.size(), c);
    c = crc32("", 1, c);
  }
  return c;
}

/// A fresh folder under the system's temporary folder, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kiln_onnx_test_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// Runs `fn`, expecting a kiln::Error of `code` whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& fn, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an error (" << error_code_name(code) << ") containing '"
                  << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

/// The address range of this process's mapping of `file` (from /proc/self/maps), or {0, 0}.
inline std::pair<uintptr_t, uintptr_t> mapping_of(const fs::path& file) {
  std::string want = fs::canonical(file).string();
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode >> path;
    if (path != want) continue;
    size_t dash = range.find('-');
    return {std::stoull(range.substr(0, dash), nullptr, 16), std::stoull(range.substr(dash + 1), nullptr, 16)};
  }
  return {0, 0};
}

/// True when all of `t`'s bytes lie inside `range`.
inline bool points_into(const Tensor& t, std::pair<uintptr_t, uintptr_t> range) {
  auto p = reinterpret_cast<uintptr_t>(t.raw_data());
  return p >= range.first && p + t.nbytes() <= range.second;
}

/// Hand-built ONNX messages for tests that need bytes the writer would never produce.
struct ProtoBuilder {
  /// A TensorProto body: dims, data_type, name, then `extra` appended verbatim.
  static std::vector<uint8_t> tensor(const std::vector<int64_t>& dims, int32_t type, const std::string& name,
                                     const std::function<void(onnx::WireWriter&)>& extra = {}) {
    onnx::WireWriter w;
    for (int64_t d : dims) w.int64_field(1, d);
    w.int64_field(2, type);
    w.string_field(8, name);
    if (extra) extra(w);
    return w.take();
  }
  /// An external-data TensorProto of float32 `dims` with the given key/value entries.
  static std::vector<uint8_t> external_tensor(const std::vector<int64_t>& dims, const std::string& name,
                                              const std::vector<std::pair<std::string, std::string>>& entries) {
    return tensor(dims, 1, name, [&](onnx::WireWriter& w) {
      for (const auto& [k, v] : entries) {
        size_t m = w.begin_message(13);
        w.string_field(1, k);
        w.string_field(2, v);
        w.end_message(m);
      }
      w.int64_field(14, 1);
    });
  }
  /// A ModelProto (opset 13) whose graph "g" holds only `initializers` (TensorProto bodies).
  static std::vector<uint8_t> model_with_initializers(const std::vector<std::vector<uint8_t>>& initializers,
                                                      int64_t ir_version = 8) {
    onnx::WireWriter w;
    w.int64_field(1, ir_version);
    size_t g = w.begin_message(7);
    w.string_field(2, "g");
    for (const auto& t : initializers) w.bytes_field(5, t);
    w.end_message(g);
    size_t o = w.begin_message(8);
    w.int64_field(2, 13);
    w.end_message(o);
    return w.take();
  }
};

/// The names of the values `ids` (a node's inputs or outputs; "" for an absent one, id -1).
inline std::vector<std::string> value_names(const ir::Graph& g, const std::vector<int>& ids) {
  std::vector<std::string> r;
  for (int id : ids) r.push_back(id < 0 ? "" : g.value(id).name);
  return r;
}

}  // namespace kiln::testing
