#include "onnx/wire.h"

#include <bit>
#include <cstring>

#include "base/error.h"

namespace kiln::onnx {

static_assert(std::endian::native == std::endian::little, "the wire format and raw_data are little-endian");

namespace {

enum class VarintStatus { kOk, kTruncated, kTooLong };

// Reads a varint at p (advancing it). At most 10 bytes; the 10th may only carry the 64th bit.
VarintStatus read_varint(const uint8_t*& p, const uint8_t* end, uint64_t& out) {
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (p == end) return VarintStatus::kTruncated;
    uint8_t b = *p++;
    if (i == 9 && b > 1) return VarintStatus::kTooLong;
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      out = v;
      return VarintStatus::kOk;
    }
  }
  return VarintStatus::kTooLong;
}

const char* wire_type_name(WireType t) {
  switch (t) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "64-bit";
    case WireType::kLengthDelimited: return "length-delimited";
    case WireType::kStartGroup: return "start-group";
    case WireType::kEndGroup: return "end-group";
    case WireType::kFixed32: return "32-bit";
  }
  return "unknown";
}

}  // namespace

WireReader::WireReader(std::span<const uint8_t> msg, const uint8_t* origin, const char* message_name)
    : pos_(msg.data()), end_(msg.data() + msg.size()), origin_(origin), name_(message_name) {
  if (msg.empty()) pos_ = end_ = origin;  // an empty span may carry a null pointer
}

bool WireReader::next(WireField& f) {
  if (pos_ == end_) return false;
  const uint8_t* start = pos_;
  f.offset = offset_of(start);
  uint64_t key = 0;
  switch (read_varint(pos_, end_, key)) {
    case VarintStatus::kOk: break;
    case VarintStatus::kTruncated:
      fail(ErrorCode::kInvalidModel, "truncated field tag in {} at byte {}", name_, f.offset);
    case VarintStatus::kTooLong:
      fail(ErrorCode::kInvalidModel, "field tag longer than 10 bytes in {} at byte {}", name_, f.offset);
  }
  uint64_t number = key >> 3;
  auto type = static_cast<uint8_t>(key & 7);
  if (number == 0 || number > 0x1fffffff)
    fail(ErrorCode::kInvalidModel, "invalid field number {} in {} at byte {}", number, name_, f.offset);
  f.number = static_cast<uint32_t>(number);
  f.type = static_cast<WireType>(type);
  f.value = 0;
  f.bytes = {};
  const auto remaining = [&] { return static_cast<size_t>(end_ - pos_); };
  const auto truncated = [&](uint64_t need) {
    fail(ErrorCode::kInvalidModel, "truncated field {} of {} at byte {}: it needs {} bytes, {} remain", f.number,
         name_, f.offset, need, remaining());
  };
  switch (f.type) {
    case WireType::kVarint:
      switch (read_varint(pos_, end_, f.value)) {
        case VarintStatus::kOk: break;
        case VarintStatus::kTruncated:
          fail(ErrorCode::kInvalidModel, "truncated field {} of {} at byte {}", f.number, name_, f.offset);
        case VarintStatus::kTooLong:
          fail(ErrorCode::kInvalidModel, "varint longer than 10 bytes in field {} of {} at byte {}", f.number,
               name_, f.offset);
      }
      break;
    case WireType::kFixed64:
      if (remaining() < 8) truncated(8);
      std::memcpy(&f.value, pos_, 8);
      pos_ += 8;
      break;
    case WireType::kFixed32: {
      if (remaining() < 4) truncated(4);
      uint32_t v;
      std::memcpy(&v, pos_, 4);
      f.value = v;
      pos_ += 4;
      break;
    }
    case WireType::kLengthDelimited: {
      uint64_t len = 0;
      switch (read_varint(pos_, end_, len)) {
        case VarintStatus::kOk: break;
        case VarintStatus::kTruncated:
          fail(ErrorCode::kInvalidModel, "truncated length of field {} of {} at byte {}", f.number, name_,
               f.offset);
        case VarintStatus::kTooLong:
          fail(ErrorCode::kInvalidModel, "length of field {} of {} at byte {} is longer than 10 bytes", f.number,
               name_, f.offset);
      }
      if (len > remaining()) truncated(len);
      f.bytes = {pos_, static_cast<size_t>(len)};
      pos_ += len;
      break;
    }
    case WireType::kStartGroup:
    case WireType::kEndGroup:
      fail(ErrorCode::kInvalidModel,
           "field {} of {} at byte {} uses wire type {} (groups), which ONNX files never contain", f.number,
           name_, f.offset, type);
    default:
      fail(ErrorCode::kInvalidModel, "unknown wire type {} in field {} of {} at byte {}", type, f.number, name_,
           f.offset);
  }
  return true;
}

WireReader WireReader::message(const WireField& f, const char* message_name) const {
  if (f.type != WireType::kLengthDelimited) wrong_type(f, WireType::kLengthDelimited);
  return WireReader(f.bytes, origin_, message_name);
}

void WireReader::fail_field(const WireField& f, std::string_view what) const {
  fail(ErrorCode::kInvalidModel, "{} (field {} of {} at byte {})", what, f.number, name_, f.offset);
}

void WireReader::wrong_type(const WireField& f, WireType expected) const {
  fail(ErrorCode::kInvalidModel, "field {} of {} at byte {} has wire type {} ({}) where ONNX declares {}",
       f.number, name_, f.offset, static_cast<int>(f.type), wire_type_name(f.type), wire_type_name(expected));
}

uint64_t WireReader::as_uint64(const WireField& f) const {
  if (f.type != WireType::kVarint) wrong_type(f, WireType::kVarint);
  return f.value;
}

int64_t WireReader::as_int64(const WireField& f) const { return static_cast<int64_t>(as_uint64(f)); }

int32_t WireReader::as_int32(const WireField& f) const {
  return static_cast<int32_t>(static_cast<uint32_t>(as_uint64(f)));
}

bool WireReader::as_bool(const WireField& f) const { return as_uint64(f) != 0; }

float WireReader::as_float(const WireField& f) const {
  if (f.type != WireType::kFixed32) wrong_type(f, WireType::kFixed32);
  auto bits = static_cast<uint32_t>(f.value);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

double WireReader::as_double(const WireField& f) const {
  if (f.type != WireType::kFixed64) wrong_type(f, WireType::kFixed64);
  double v;
  std::memcpy(&v, &f.value, 8);
  return v;
}

std::span<const uint8_t> WireReader::as_bytes(const WireField& f) const {
  if (f.type != WireType::kLengthDelimited) wrong_type(f, WireType::kLengthDelimited);
  return f.bytes;
}

std::string WireReader::as_string(const WireField& f) const {
  auto b = as_bytes(f);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

size_t WireReader::count_varints(const WireField& f) const {
  if (f.type == WireType::kVarint) return 1;
  if (f.type != WireType::kLengthDelimited) wrong_type(f, WireType::kVarint);
  // Every varint ends with the one byte whose top bit is clear.
  size_t n = 0;
  for (uint8_t b : f.bytes) n += (b & 0x80) == 0;
  return n;
}

void WireReader::append_varints(const WireField& f, std::vector<int64_t>& out) const {
  if (f.type == WireType::kVarint) {
    out.push_back(static_cast<int64_t>(f.value));
    return;
  }
  if (f.type != WireType::kLengthDelimited) wrong_type(f, WireType::kVarint);
  const uint8_t* p = f.bytes.data();
  const uint8_t* end = p + f.bytes.size();
  while (p != end) {
    uint64_t v = 0;
    const uint8_t* at = p;
    if (read_varint(p, end, v) != VarintStatus::kOk)
      fail(ErrorCode::kInvalidModel, "bad varint at byte {} in packed field {} of {} at byte {}", offset_of(at),
           f.number, name_, f.offset);
    out.push_back(static_cast<int64_t>(v));
  }
}

void WireReader::append_floats(const WireField& f, std::vector<float>& out) const {
  if (f.type == WireType::kFixed32) {
    out.push_back(as_float(f));
    return;
  }
  if (f.type != WireType::kLengthDelimited) wrong_type(f, WireType::kFixed32);
  if (f.bytes.size() % 4 != 0)
    fail_field(f, fmt::format("packed floats take {} bytes, not a multiple of 4", f.bytes.size()));
  size_t old = out.size();
  out.resize(old + f.bytes.size() / 4);
  if (!f.bytes.empty()) std::memcpy(out.data() + old, f.bytes.data(), f.bytes.size());
}

void WireReader::append_doubles(const WireField& f, std::vector<double>& out) const {
  if (f.type == WireType::kFixed64) {
    out.push_back(as_double(f));
    return;
  }
  if (f.type != WireType::kLengthDelimited) wrong_type(f, WireType::kFixed64);
  if (f.bytes.size() % 8 != 0)
    fail_field(f, fmt::format("packed doubles take {} bytes, not a multiple of 8", f.bytes.size()));
  size_t old = out.size();
  out.resize(old + f.bytes.size() / 8);
  if (!f.bytes.empty()) std::memcpy(out.data() + old, f.bytes.data(), f.bytes.size());
}

std::string dims_text(std::span<const int64_t> dims) {
  std::string r = "[";
  for (size_t i = 0; i < dims.size(); ++i) r += fmt::format("{}{}", i ? "," : "", dims[i]);
  return r + "]";
}

std::string printable(std::string_view s, size_t max) {
  std::string r;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) r += fmt::format("\\x{:02x}", c);
    else r += static_cast<char>(c);
  }
  if (s.size() > max) r += "...";
  return r;
}

// ---- writer ----

void WireWriter::raw_varint(uint64_t v) {
  while (v >= 0x80) {
    buf_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  buf_.push_back(static_cast<uint8_t>(v));
}

void WireWriter::tag(uint32_t number, WireType type) {
  raw_varint((static_cast<uint64_t>(number) << 3) | static_cast<uint64_t>(type));
}

void WireWriter::varint_field(uint32_t number, uint64_t v) {
  tag(number, WireType::kVarint);
  raw_varint(v);
}

void WireWriter::float_field(uint32_t number, float v) {
  tag(number, WireType::kFixed32);
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  buf_.insert(buf_.end(), b, b + 4);
}

void WireWriter::double_field(uint32_t number, double v) {
  tag(number, WireType::kFixed64);
  uint8_t b[8];
  std::memcpy(b, &v, 8);
  buf_.insert(buf_.end(), b, b + 8);
}

void WireWriter::bytes_field(uint32_t number, std::span<const uint8_t> v) {
  tag(number, WireType::kLengthDelimited);
  raw_varint(v.size());
  buf_.insert(buf_.end(), v.begin(), v.end());
}

void WireWriter::string_field(uint32_t number, std::string_view v) {
  bytes_field(number, {reinterpret_cast<const uint8_t*>(v.data()), v.size()});
}

void WireWriter::packed_varints(uint32_t number, std::span<const int64_t> v) {
  if (v.empty()) return;
  size_t mark = begin_message(number);
  for (int64_t x : v) raw_varint(static_cast<uint64_t>(x));
  end_message(mark);
}

void WireWriter::packed_floats(uint32_t number, std::span<const float> v) {
  if (v.empty()) return;
  bytes_field(number, {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)});
}

size_t WireWriter::begin_message(uint32_t number) {
  tag(number, WireType::kLengthDelimited);
  buf_.push_back(0);  // room for a length below 128; end_message() widens it when needed
  return buf_.size() - 1;
}

void WireWriter::end_message(size_t mark) {
  uint64_t len = buf_.size() - mark - 1;
  uint8_t enc[10];
  size_t n = 0;
  for (uint64_t v = len;; v >>= 7) {
    enc[n++] = static_cast<uint8_t>(v >= 0x80 ? (v | 0x80) : v);
    if (v < 0x80) break;
  }
  if (n > 1) buf_.insert(buf_.begin() + static_cast<std::ptrdiff_t>(mark) + 1, n - 1, 0);
  std::memcpy(buf_.data() + mark, enc, n);
}

}  // namespace kiln::onnx
