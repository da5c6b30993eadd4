#include "tensor_bytes.h"

#include <fmt/format.h>

#include <cstring>

#include "datatype.h"
#include "serve_error.h"

namespace kiln::serve {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

uint32_t read_le32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

int64_t checked_element_count(std::string_view what, const std::vector<int64_t>& shape) {
  constexpr int64_t kMaxElements = int64_t{1} << 62;
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) bad_request(fmt::format("{}: shape {} has a negative dim", what, shape_text(shape)));
    if (d != 0 && count > kMaxElements / d)
      bad_request(fmt::format("{}: shape {} has more than 2^62 elements", what, shape_text(shape)));
    count *= d;
  }
  return count;
}

Tensor tensor_from_raw(std::string_view input_name, DType dtype, const std::vector<int64_t>& shape,
                       std::string_view raw) {
  const std::string what = fmt::format("input '{}'", input_name);
  const int64_t count = checked_element_count(what, shape);
  if (dtype != DType::kString) {
    const size_t element = dtype_size(dtype);
    // count * element cannot overflow past the raw size unnoticed: compare by division first.
    if (static_cast<uint64_t>(count) > raw.size() / element || static_cast<size_t>(count) * element != raw.size())
      bad_request(fmt::format("{}: {} raw bytes were sent, but shape {} of {} needs {} ({} elements of {} bytes)",
                              what, raw.size(), shape_text(shape), datatype_name(dtype),
                              static_cast<double>(count) * static_cast<double>(element), count, element));
    Tensor t(dtype, shape);
    if (!raw.empty()) std::memcpy(t.raw_data(), raw.data(), raw.size());
    if (dtype == DType::kBool) {
      auto* bytes = static_cast<uint8_t*>(t.raw_data());
      for (int64_t i = 0; i < count; ++i) bytes[i] = bytes[i] != 0;
    }
    return t;
  }
  // BYTES: each element is a 4-byte length then its bytes. At least 4 bytes per element bounds the count by the
  // buffer before anything is allocated.
  if (static_cast<uint64_t>(count) > raw.size() / 4 + (raw.empty() ? 0 : 1))
    bad_request(fmt::format("{}: shape {} of BYTES needs {} elements, but {} raw bytes cannot hold that many",
                            what, shape_text(shape), count, raw.size()));
  Tensor t(dtype, shape);
  std::string* elements = t.data<std::string>();
  size_t pos = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (raw.size() - pos < 4)
      bad_request(fmt::format("{}: BYTES element {} of {} has no 4-byte length: the raw data ends at byte {}", what,
                              i, count, raw.size()));
    const uint32_t len = read_le32(raw.data() + pos);
    pos += 4;
    if (raw.size() - pos < len)
      bad_request(fmt::format("{}: BYTES element {} of {} declares {} bytes but only {} remain", what, i, count,
                              len, raw.size() - pos));
    elements[i].assign(raw.data() + pos, len);
    pos += len;
  }
  if (pos != raw.size())
    bad_request(fmt::format("{}: {} raw bytes were sent, but the {} BYTES elements of shape {} take {}", what,
                            raw.size(), count, shape_text(shape), pos));
  return t;
}

size_t raw_byte_size(const Tensor& tensor) {
  if (tensor.dtype() != DType::kString) return static_cast<size_t>(tensor.numel()) * dtype_size(tensor.dtype());
  size_t total = 0;
  for (const std::string& s : tensor.span<std::string>()) total += 4 + s.size();
  return total;
}

void append_raw(const Tensor& tensor, std::string& out) {
  if (tensor.dtype() != DType::kString) {
    out.append(static_cast<const char*>(tensor.raw_data()), raw_byte_size(tensor));
    return;
  }
  for (const std::string& s : tensor.span<std::string>()) {
    const auto len = static_cast<uint32_t>(s.size());
    const char le[4] = {static_cast<char>(len), static_cast<char>(len >> 8), static_cast<char>(len >> 16),
                        static_cast<char>(len >> 24)};
    out.append(le, 4);
    out.append(s);
  }
}

}  // namespace kiln::serve
