#include "onnx/npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "base/error.h"
#include "base/mapped_file.h"
#include "ir/narrow_types.h"
#include "kiln/shape.h"
#include "onnx/wire.h"

namespace kiln::onnx {

namespace {

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
// This parses exactly that grammar (strings, True/False, tuples of ints), nothing of Python beyond it.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
    bool has_descr = false, has_fortran = false, has_shape = false;
    expect('{');
    while (!peek('}')) {
      std::string key = string();
      expect(':');
      if (key == "descr") {
        if (peek('[')) bad("structured arrays (a list descr) are not supported; save a plain numeric array");
        descr = string();
        has_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        has_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        has_shape = true;
      } else {
        bad(fmt::format("unexpected key '{}' in the header", key));
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    if (!has_descr || !has_fortran || !has_shape)
      bad("the header lacks one of 'descr', 'fortran_order' and 'shape'");
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail(ErrorCode::kInvalidArgument, "'{}' is not a usable .npy file: {}", path_, why);
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) bad(fmt::format("malformed header: expected '{}' at character {}", c, pos_));
    ++pos_;
  }
  std::string string() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"'))
      bad(fmt::format("malformed header: expected a string at character {}", pos_));
    char quote = s_[pos_++];
    size_t end = s_.find(quote, pos_);
    if (end == std::string_view::npos) bad("malformed header: unterminated string");
    std::string r(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return r;
  }
  bool boolean() {
    skip_space();
    if (s_.substr(pos_, 4) == "True") return pos_ += 4, true;
    if (s_.substr(pos_, 5) == "False") return pos_ += 5, false;
    bad("malformed header: 'fortran_order' is neither True nor False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (!peek(')')) {
      skip_space();
      int64_t v = 0;
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[pos_] - '0', &v))
          bad("a dimension in 'shape' does not fit in 64 bits");
        ++pos_;
      }
      if (pos_ == start) bad(fmt::format("malformed header: expected a dimension at character {}", pos_));
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long literals
      dims.push_back(v);
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }

  std::string_view s_;
  const std::string& path_;
  size_t pos_ = 0;
};

DType dtype_from_descr(const std::string& descr, const std::string& path) {
  const auto bad = [&](const std::string& why) {
    fail(ErrorCode::kInvalidArgument, "'{}': arrays of dtype '{}' are not supported: {}", path, descr, why);
  };
  if (descr.size() < 2) bad("unknown dtype");
  char order = descr[0], kind = descr[1];
  std::string size = descr.substr(2);
  if (kind == 'O') bad("object arrays hold Python objects; convert to a numeric dtype");
  if (kind == 'U' || kind == 'S' || kind == 'a') bad("string arrays cannot be read; kiln reads numeric arrays");
  if (kind == 'c') bad("complex numbers are not supported");
  if (kind == 'V') bad("void/structured arrays are not supported");
  if (kind == 'M' || kind == 'm') bad("datetime arrays are not supported");
  if (order != '<' && order != '|' && order != '=' && order != '>') bad("unknown byte order");
  static const struct { char kind; const char* size; DType type; } table[] = {
      {'b', "1", DType::kBool},    {'i', "1", DType::kInt8},     {'i', "2", DType::kInt16},
      {'i', "4", DType::kInt32},   {'i', "8", DType::kInt64},    {'u', "1", DType::kUInt8},
      {'u', "2", DType::kUInt16},  {'u', "4", DType::kUInt32},   {'u', "8", DType::kUInt64},
      {'f', "2", DType::kFloat16}, {'f', "4", DType::kFloat32},  {'f', "8", DType::kFloat64},
  };
  for (const auto& e : table) {
    if (e.kind != kind || size != e.size) continue;
    if (order == '>' && dtype_size(e.type) > 1)
      bad("the data is big-endian; save it little-endian (arr.astype(arr.dtype.newbyteorder('<')))");
    return e.type;
  }
  fail(ErrorCode::kInvalidArgument, "'{}': arrays of dtype '{}' are not supported: unknown dtype", path, descr);
}

const char* descr_of(DType t) {
  switch (t) {
    case DType::kBool: return "|b1";
    case DType::kInt8: return "|i1";
    case DType::kInt16: return "<i2";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
    case DType::kUInt8: return "|u1";
    case DType::kUInt16: return "<u2";
    case DType::kUInt32: return "<u4";
    case DType::kUInt64: return "<u8";
    case DType::kFloat16: return "<f2";
    case DType::kFloat32: return "<f4";
    case DType::kFloat64: return "<f8";
    // Narrow types, one byte per element as kiln holds them: int4/int2 as their int8 values, uint4/uint2 as
    // uint8 values, the float8 types and float4e2m1 as uint8 bit patterns (NumPy has no dtype for them;
    // ml_dtypes users can .view(ml_dtypes.float8_e4m3fn) and so on).
    case DType::kInt4: case DType::kInt2: return "|i1";
    case DType::kUInt4: case DType::kUInt2: case DType::kFloat8E4M3FN: case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2: case DType::kFloat8E5M2FNUZ: case DType::kFloat8E8M0: case DType::kFloat4E2M1:
      return "|u1";
    default: return nullptr;
  }
}

}  // namespace

Tensor read_npy(const std::string& path) {
  MappedFile file = MappedFile::open(path);
  std::span<const uint8_t> b = file.bytes();
  const auto bad = [&](const std::string& why) {
    fail(ErrorCode::kInvalidArgument, "'{}' is not a usable .npy file: {}", path, why);
  };
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) bad("it does not start with the .npy magic");
  const uint8_t major = b[6];
  if (major < 1 || major > 3) bad(fmt::format("format version {}.{} is unknown (kiln reads 1.0 to 3.0)", major, b[7]));
  size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = static_cast<size_t>(b[8]) | static_cast<size_t>(b[9]) << 8;
    prefix = 10;
  } else {
    if (b.size() < 12) bad("the file is truncated inside its header");
    header_len = static_cast<size_t>(b[8]) | static_cast<size_t>(b[9]) << 8 | static_cast<size_t>(b[10]) << 16 |
                 static_cast<size_t>(b[11]) << 24;
    prefix = 12;
  }
  if (header_len > b.size() - prefix) bad("the file is truncated inside its header");
  std::string_view header(reinterpret_cast<const char*>(b.data() + prefix), header_len);
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  HeaderParser(header, path).parse(descr, fortran, shape);
  DType t = dtype_from_descr(descr, path);
  int64_t numel = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(numel, d, &numel)) bad(fmt::format("shape {} overflows 64 bits", dims_text(shape)));
  int64_t bytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(t)), &bytes))
    bad(fmt::format("shape {} overflows 64 bits", dims_text(shape)));
  if (fortran && shape.size() > 1)  // 0-d and 1-d arrays are the same in either order
    bad("the array is in Fortran order; save np.ascontiguousarray(arr) instead");
  const size_t data_at = prefix + header_len;
  if (static_cast<uint64_t>(bytes) != b.size() - data_at)
    bad(fmt::format("shape {} of {} needs {} bytes of data but the file holds {}", dims_text(shape), dtype_name(t),
                    bytes, b.size() - data_at));
  Tensor out(t, shape);
  if (t == DType::kBool) {
    auto* dst = static_cast<uint8_t*>(out.raw_data());
    for (int64_t i = 0; i < numel; ++i) dst[i] = b[data_at + static_cast<size_t>(i)] != 0;
  } else if (bytes > 0) {
    std::memcpy(out.raw_data(), b.data() + data_at, static_cast<size_t>(bytes));
  }
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  const char* descr = descr_of(t.dtype());
  if (!descr)
    fail(ErrorCode::kUnsupported, "cannot write '{}': NumPy has no dtype for {} tensors", path, dtype_name(t.dtype()));
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) shape += fmt::format("{}{}", i ? ", " : "", t.dim(i));
  shape += t.rank() == 1 ? ",)" : ")";
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  // Pad with spaces so the data starts on a 64-byte boundary, ending the header with a newline.
  const size_t prefix = header.size() + 1 + 10 > 65535 ? 12 : 10;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6);
  out += static_cast<char>(prefix == 10 ? 1 : 2);
  out += '\0';
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  out += header;
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) fail(ErrorCode::kIo, "cannot write '{}': {}", path, std::strerror(errno));
  bool ok = std::fwrite(out.data(), 1, out.size(), f.get()) == out.size();
  const void* data = t.raw_data();
  std::vector<uint8_t> canonical;  // int4/int2 bytes may hold bits above the value (readers ignore them)
  if (dtype_packed_bits(t.dtype()) < 8) {
    const auto* b = static_cast<const uint8_t*>(t.raw_data());
    canonical.resize(t.nbytes());
    for (size_t i = 0; i < canonical.size(); ++i)
      canonical[i] = dtype_is_narrow_integer(t.dtype()) ? narrow_int_from(t.dtype(), narrow_int_value(t.dtype(), b[i]))
                                                        : static_cast<uint8_t>(b[i] & 0x0F);
    data = canonical.data();
  }
  if (ok && t.nbytes()) ok = std::fwrite(data, 1, t.nbytes(), f.get()) == t.nbytes();
  if (!ok || std::fclose(f.release()) != 0) fail(ErrorCode::kIo, "cannot write '{}': {}", path, std::strerror(errno));
}

}  // namespace kiln::onnx
