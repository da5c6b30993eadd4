#pragma once
// Little-endian encoding for the engine file's fixed fields and small sections. The reader is bounded: every
// read checks the bytes left and fails with Error(kInvalidModel) naming what it was reading, so a hostile
// engine can make it refuse, never read past its span.

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"

namespace kiln::engine {

/// Appends little-endian integers and length-prefixed strings to a byte vector.
class ByteWriter {
 public:
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void i64(int64_t v) { put(static_cast<uint64_t>(v), 8); }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void raw(std::span<const uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  /// Zero bytes up to the next multiple of `alignment`.
  void pad_to(size_t alignment) { bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment, 0); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
};

/// Reads what ByteWriter wrote, refusing any read past the end of its span. `where` names the part of the
/// engine being read ("the profiles section") in every error; `damaged` is what such an error says the file is and
/// what to do (the engine's by default).
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, std::string where,
             std::string damaged = "the engine is truncated or corrupt; rebuild it with kiln build")
      : bytes_(bytes), where_(std::move(where)), damaged_(std::move(damaged)) {}
  uint16_t u16(const char* what) { return static_cast<uint16_t>(get(2, what)); }
  uint32_t u32(const char* what) { return static_cast<uint32_t>(get(4, what)); }
  uint64_t u64(const char* what) { return get(8, what); }
  int64_t i64(const char* what) { return static_cast<int64_t>(get(8, what)); }
  std::string str(const char* what) {
    uint32_t n = u32(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  /// A count of items that each take at least `min_item_bytes`: refused when it exceeds `limit` or the bytes
  /// left could not hold that many, so an absurd count fails here rather than in an allocation.
  uint32_t count(const char* what, uint32_t limit, size_t min_item_bytes) {
    uint32_t n = u32(what);
    if (n > limit || n * min_item_bytes > bytes_.size() - pos_)
      fail(ErrorCode::kInvalidModel, "{}: {} is {}, more than {} (at most {}); {}", where_, what, n,
           n > limit ? "kiln allows" : "the bytes left can hold",
           n > limit ? limit : (bytes_.size() - pos_) / min_item_bytes, damaged_);
    return n;
  }
  size_t left() const { return bytes_.size() - pos_; }
  const std::string& where() const { return where_; }

 private:
  void need(size_t n, const char* what) {
    if (n > bytes_.size() - pos_)
      fail(ErrorCode::kInvalidModel, "{} ends inside {} (needs {} more bytes, {} left): {}", where_, what, n,
           bytes_.size() - pos_, damaged_);
  }
  uint64_t get(int n, const char* what) {
    need(static_cast<size_t>(n), what);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t{bytes_[pos_ + i]} << (8 * i);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  std::string where_, damaged_;
};

}  // namespace kiln::engine
