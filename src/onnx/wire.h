#pragma once
// The protocol-buffer wire format, as much of it as ONNX uses: a reader that walks the fields of one message
// in untrusted bytes (every length checked, varints capped at 10 bytes, never reading past the message), and
// a writer that appends fields to a byte vector. No schema is compiled in: the callers know ONNX's field
// numbers (onnx/onnx.proto) and ask for the field types they expect.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::onnx {

/// The low three bits of a field tag.
enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,  // deprecated groups: ONNX never uses them; the reader refuses them
  kEndGroup = 4,
  kFixed32 = 5,
};

/// One field as read from a message: its number, wire type and payload.
struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t value = 0;              ///< the payload of varint, fixed32 and fixed64 fields
  std::span<const uint8_t> bytes;  ///< the payload of length-delimited fields
  size_t offset = 0;               ///< byte offset of the field's tag in the whole buffer (for messages)
};

/// Reads the fields of one message. All errors are Error(kInvalidModel) naming the message type, the field
/// number and the byte offset in the whole buffer ("truncated field 4 of GraphProto at byte 1234").
class WireReader {
 public:
  /// `msg` is the message's bytes; `origin` the start of the whole buffer they lie in (offsets in errors
  /// count from there); `message_name` the protobuf message type, for errors ("GraphProto").
  WireReader(std::span<const uint8_t> msg, const uint8_t* origin, const char* message_name);

  /// Reads the next field into `f`; false at the end of the message.
  bool next(WireField& f);

  /// A reader over the nested message held by length-delimited field `f`.
  WireReader message(const WireField& f, const char* message_name) const;

  // Typed views of a field's payload; each checks the wire type ONNX declares for the field.
  uint64_t as_uint64(const WireField& f) const;  ///< varint
  int64_t as_int64(const WireField& f) const;    ///< varint (two's complement)
  int32_t as_int32(const WireField& f) const;    ///< varint, truncated to 32 bits as protobuf does
  bool as_bool(const WireField& f) const;        ///< varint
  float as_float(const WireField& f) const;      ///< fixed32
  double as_double(const WireField& f) const;    ///< fixed64
  std::span<const uint8_t> as_bytes(const WireField& f) const;  ///< length-delimited
  std::string as_string(const WireField& f) const;               ///< length-delimited, copied

  // Repeated scalar fields arrive packed (one length-delimited field) or unpacked (one field per element);
  // a conforming reader accepts both. These append the elements of one such field to `out`.
  void append_varints(const WireField& f, std::vector<int64_t>& out) const;
  void append_floats(const WireField& f, std::vector<float>& out) const;
  void append_doubles(const WireField& f, std::vector<double>& out) const;
  /// Number of elements one field of a repeated varint field holds (to size a vector before appending).
  size_t count_varints(const WireField& f) const;

  /// Throws Error(kInvalidModel): "<what> (field N of Message at byte B)".
  [[noreturn]] void fail_field(const WireField& f, std::string_view what) const;
  /// Byte offset of `p` from the start of the whole buffer.
  size_t offset_of(const uint8_t* p) const { return static_cast<size_t>(p - origin_); }
  const char* message_name() const { return name_; }
  const uint8_t* origin() const { return origin_; }

 private:
  [[noreturn]] void wrong_type(const WireField& f, WireType expected) const;

  const uint8_t* pos_;
  const uint8_t* end_;
  const uint8_t* origin_;
  const char* name_;
};

/// Appends protobuf fields to a byte vector. Nested messages are written in place: begin_message() leaves
/// room for a one-byte length and end_message() widens it when the body turned out longer than 127 bytes.
class WireWriter {
 public:
  void varint_field(uint32_t number, uint64_t v);
  void int64_field(uint32_t number, int64_t v) { varint_field(number, static_cast<uint64_t>(v)); }
  void float_field(uint32_t number, float v);
  void double_field(uint32_t number, double v);
  void bytes_field(uint32_t number, std::span<const uint8_t> v);
  void string_field(uint32_t number, std::string_view v);
  /// Repeated scalars, packed (one length-delimited field); nothing is written for an empty list.
  void packed_varints(uint32_t number, std::span<const int64_t> v);
  void packed_floats(uint32_t number, std::span<const float> v);

  /// Starts nested message field `number`; returns the mark to pass to end_message().
  size_t begin_message(uint32_t number);
  void end_message(size_t mark);

  const std::vector<uint8_t>& bytes() const { return buf_; }
  std::vector<uint8_t> take() { return std::move(buf_); }

 private:
  void tag(uint32_t number, WireType type);
  void raw_varint(uint64_t v);

  std::vector<uint8_t> buf_;
};

/// "[2,3]" ("[]" for a scalar): dims as error messages quote them.
std::string dims_text(std::span<const int64_t> dims);

/// `s` made safe to quote in an error message: control bytes escaped as \xNN, cut after `max` bytes.
std::string printable(std::string_view s, size_t max = 256);

}  // namespace kiln::onnx
