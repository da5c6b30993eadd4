#include "onnx/tensor_proto.h"

#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "base/mapped_file.h"
#include "ir/dispatch.h"
#include "ir/narrow_types.h"
#include "kiln/shape.h"

namespace kiln::onnx {

namespace {

// TensorProto field numbers (onnx/onnx.proto).
enum TensorField : uint32_t {
  kDims = 1, kDataType = 2, kSegment = 3, kFloatData = 4, kInt32Data = 5, kStringData = 6, kInt64Data = 7,
  kName = 8, kRawData = 9, kDoubleData = 10, kUInt64Data = 11, kExternalData = 13, kDataLocation = 14,
};

std::string label(const TensorProtoFields& f) {
  if (!f.name.empty()) return fmt::format("tensor '{}'", printable(f.name));
  return fmt::format("unnamed tensor at byte {}", f.offset);
}

// The typed field that carries elements of type t when raw_data is absent.
uint32_t typed_field_for(DType t) {
  switch (t) {
    case DType::kFloat32: return kFloatData;
    case DType::kInt32: case DType::kInt16: case DType::kInt8: case DType::kUInt16: case DType::kUInt8:
    case DType::kBool: case DType::kFloat16: case DType::kBFloat16: return kInt32Data;
    case DType::kFloat8E4M3FN: case DType::kFloat8E4M3FNUZ: case DType::kFloat8E5M2: case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0: case DType::kFloat4E2M1: case DType::kUInt4: case DType::kInt4: case DType::kUInt2:
    case DType::kInt2: return kInt32Data;  // one byte per entry: a float8, or two 4-bit / four 2-bit elements
    case DType::kString: return kStringData;
    case DType::kInt64: return kInt64Data;
    case DType::kFloat64: return kDoubleData;
    case DType::kUInt32: case DType::kUInt64: return kUInt64Data;
    default: return 0;
  }
}

const char* typed_field_name(uint32_t n) {
  switch (n) {
    case kFloatData: return "float_data";
    case kInt32Data: return "int32_data";
    case kStringData: return "string_data";
    case kInt64Data: return "int64_data";
    case kDoubleData: return "double_data";
    case kUInt64Data: return "uint64_data";
    default: return "?";
  }
}

DType checked_dtype(const TensorProtoFields& f) {
  if (f.data_type == 0) fail(ErrorCode::kInvalidModel, "{} has no data type (UNDEFINED)", label(f));
  std::string onnx_name = onnx_type_name(f.data_type);
  if (onnx_name.empty())
    fail(ErrorCode::kInvalidModel, "{} has data type {}, which is not an ONNX type", label(f), f.data_type);
  if (!dtype_is_known(f.data_type) || !dtype_is_supported(static_cast<DType>(f.data_type)))
    fail(ErrorCode::kUnsupported, "{} has element type {} ({}), which kiln cannot hold", label(f), onnx_name,
         f.data_type);
  return static_cast<DType>(f.data_type);
}

bool is_packed(DType t) { return dtype_packed_bits(t) < 8; }

// " (two elements per byte)" for the packed types, to explain a byte count in an error.
const char* packing_note(DType t) {
  switch (dtype_packed_bits(t)) {
    case 4: return " (two elements per byte)";
    case 2: return " (four elements per byte)";
    default: return "";
  }
}

// Element count and serialized byte size from dims (packed for 4- and 2-bit types), refusing negative dims
// and overflow.
std::pair<int64_t, int64_t> checked_sizes(const TensorProtoFields& f, DType t) {
  int64_t n = 1;
  for (size_t i = 0; i < f.dims.size(); ++i) {
    if (f.dims[i] < 0) fail(ErrorCode::kInvalidModel, "{} has negative dim {} = {}", label(f), i, f.dims[i]);
    if (__builtin_mul_overflow(n, f.dims[i], &n))
      fail(ErrorCode::kInvalidModel, "{}: the element count of dims {} overflows 64 bits", label(f),
           dims_text(f.dims));
  }
  int64_t bytes = 0;
  if (__builtin_mul_overflow(n, static_cast<int64_t>(dtype_size(t)), &bytes))
    fail(ErrorCode::kInvalidModel, "{}: the byte size of dims {} overflows 64 bits", label(f), dims_text(f.dims));
  if (is_packed(t)) bytes = packed_byte_size(t, n);
  return {n, bytes};
}

Tensor from_bytes(const TensorProtoFields& f, DType t, int64_t bytes, std::span<const uint8_t> data,
                  const std::shared_ptr<const void>& owner, const char* where) {
  if (t == DType::kString) fail(ErrorCode::kInvalidModel, "{} holds strings but stores them in {}", label(f), where);
  if (static_cast<uint64_t>(bytes) != data.size())
    fail(ErrorCode::kInvalidModel, "{}: {} holds {} bytes but dims {} of {} need {}{}", label(f), where, data.size(),
         dims_text(f.dims), dtype_name(t), bytes, packing_note(t));
  if (bytes == 0) return Tensor(t, f.dims);
  if (is_packed(t)) {  // kiln holds one element per byte
    Tensor out(t, f.dims);
    unpack_narrow(t, data.data(), out.numel(), static_cast<uint8_t*>(out.raw_data()));
    release_mapped_pages(data.data(), data.size());  // copied: the file's pages need not stay in memory
    return out;
  }
  bool bool_ok = true;
  if (t == DType::kBool)
    for (uint8_t b : data) bool_ok &= b <= 1;
  auto addr = reinterpret_cast<uintptr_t>(data.data());
  if (owner && bool_ok && addr % dtype_size(t) == 0) return Tensor::view(t, f.dims, data.data(), owner);
  if (owner && bool_ok) {
    // A model's initializer whose bytes are not aligned for its type (raw_data starts wherever the protobuf put
    // it): copied into an aligned buffer of its own, held as the aligned ones are (a view whose owner keeps the
    // memory). Not a Tensor of its own: that zero-fills first, and ResNet-18's 45 MB of weights spent a tenth of
    // the session creation in that fill and its page faults.
    const size_t size = (data.size() + 63) / 64 * 64;
    void* copy = std::aligned_alloc(64, size);
    if (!copy) fail(ErrorCode::kLimitExceeded, "out of memory copying {} bytes of {}", data.size(), label(f));
    std::shared_ptr<const void> keep(copy, std::free);
    std::memcpy(copy, data.data(), data.size());
    release_mapped_pages(data.data(), data.size());  // copied: the file's pages need not stay in memory
    return Tensor::view(t, f.dims, copy, std::move(keep));
  }
  Tensor out(t, f.dims);
  if (t == DType::kBool) {
    auto* dst = static_cast<uint8_t*>(out.raw_data());
    for (size_t i = 0; i < data.size(); ++i) dst[i] = data[i] != 0;  // a bool byte other than 0/1 is UB in C++
  } else if (!data.empty()) {
    std::memcpy(out.raw_data(), data.data(), data.size());
  }
  release_mapped_pages(data.data(), data.size());  // copied: the file's pages need not stay in memory
  return out;
}

Tensor from_typed_fields(const WireReader& r, const TensorProtoFields& f, DType t, int64_t numel) {
  const uint32_t expected = typed_field_for(t);
  size_t count = 0;
  for (const WireField& w : f.typed_data) {
    if (w.number != expected)
      fail(ErrorCode::kInvalidModel, "{} of type {} stores data in {}; ONNX keeps {} elements in {}", label(f),
           dtype_name(t), typed_field_name(w.number), dtype_name(t), typed_field_name(expected));
    switch (expected) {
      case kFloatData: count += w.type == WireType::kLengthDelimited ? w.bytes.size() / 4 : 1; break;
      case kDoubleData: count += w.type == WireType::kLengthDelimited ? w.bytes.size() / 8 : 1; break;
      case kStringData: count += 1; break;
      default: count += r.count_varints(w); break;
    }
  }
  const int64_t entries = is_packed(t) ? packed_byte_size(t, numel) : numel;
  if (count != static_cast<uint64_t>(entries))
    fail(ErrorCode::kInvalidModel, "{}: {} holds {} {} but dims {} need {}{}", label(f), typed_field_name(expected),
         count, is_packed(t) ? "entries" : "elements", dims_text(f.dims), entries, packing_note(t));
  Tensor out(t, f.dims);
  if (t == DType::kString) {
    auto* s = out.data<std::string>();
    for (size_t i = 0; i < f.typed_data.size(); ++i) s[i] = r.as_string(f.typed_data[i]);
    return out;
  }
  if (t == DType::kFloat32) {
    std::vector<float> v;
    v.reserve(count);
    for (const WireField& w : f.typed_data) r.append_floats(w, v);
    if (!v.empty()) std::memcpy(out.raw_data(), v.data(), v.size() * 4);
    return out;
  }
  if (t == DType::kFloat64) {
    std::vector<double> v;
    v.reserve(count);
    for (const WireField& w : f.typed_data) r.append_doubles(w, v);
    if (!v.empty()) std::memcpy(out.raw_data(), v.data(), v.size() * 8);
    return out;
  }
  std::vector<int64_t> v;
  v.reserve(count);
  for (const WireField& w : f.typed_data) r.append_varints(w, v);
  KILN_ASSERT(v.size() == count);
  if (dtype_is_narrow(t)) {  // one byte per entry (the entry's low 8 bits)
    std::vector<uint8_t> bytes(v.size());
    for (size_t i = 0; i < v.size(); ++i) bytes[i] = static_cast<uint8_t>(v[i]);
    auto* dst = static_cast<uint8_t*>(out.raw_data());
    if (is_packed(t)) unpack_narrow(t, bytes.data(), numel, dst);
    else if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
    return out;
  }
  // int32_data carries the narrow types (float16/bfloat16 as their bit patterns); uint64_data uint32/64.
  visit_numeric_or_bool(t, [&]<typename T>() {
    T* dst = static_cast<T*>(out.raw_data());
    for (size_t i = 0; i < v.size(); ++i) {
      if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)
        dst[i].bits = static_cast<uint16_t>(v[i]);
      else if constexpr (std::is_same_v<T, bool>)
        dst[i] = v[i] != 0;
      else
        dst[i] = static_cast<T>(v[i]);
    }
  }, "TensorProto");
  return out;
}

}  // namespace

std::string onnx_type_name(int32_t n) {
  if (dtype_is_known(n)) return std::string(dtype_name(static_cast<DType>(n)));
  return "";
}

TensorProtoFields read_tensor_fields(WireReader r) {
  TensorProtoFields f;
  WireField w;
  bool first = true;
  while (r.next(w)) {
    if (first) f.offset = w.offset;
    first = false;
    switch (w.number) {
      case kDims: r.append_varints(w, f.dims); break;
      case kDataType: f.data_type = r.as_int32(w); break;
      case kSegment: r.as_bytes(w); f.has_segment = true; break;
      case kFloatData: case kInt32Data: case kStringData: case kInt64Data: case kDoubleData: case kUInt64Data:
        f.typed_data.push_back(w);
        break;
      case kName: f.name = r.as_string(w); break;
      case kRawData: f.raw_data = r.as_bytes(w); f.has_raw_data = true; break;
      case kExternalData: {
        WireReader e = r.message(w, "StringStringEntryProto");
        std::pair<std::string, std::string> kv;
        WireField x;
        while (e.next(x)) {
          if (x.number == 1) kv.first = e.as_string(x);
          else if (x.number == 2) kv.second = e.as_string(x);
        }
        f.external_data.push_back(std::move(kv));
        break;
      }
      case kDataLocation: f.data_location = r.as_int32(w); break;
      default: break;  // doc_string, metadata_props and fields newer than this reader
    }
  }
  return f;
}

Tensor decode_tensor(const WireReader& r, const TensorProtoFields& f, const TensorSource& src) {
  DType t = checked_dtype(f);
  auto [numel, bytes] = checked_sizes(f, t);
  if (f.has_segment)
    fail(ErrorCode::kUnsupported, "{} is a segment of a larger tensor (TensorProto.segment); kiln cannot join them",
         label(f));
  if (f.data_location != 0 && f.data_location != 1)
    fail(ErrorCode::kInvalidModel, "{} has data_location {}; ONNX defines 0 (DEFAULT) and 1 (EXTERNAL)", label(f),
         f.data_location);
  if (f.has_raw_data && !f.typed_data.empty())
    fail(ErrorCode::kInvalidModel, "{} stores data both in raw_data and in {}", label(f),
         typed_field_name(f.typed_data.front().number));
  if (f.data_location == 1) {
    if (f.has_raw_data || !f.typed_data.empty())
      fail(ErrorCode::kInvalidModel, "{} stores data both externally and inside the file", label(f));
    if (t == DType::kString)
      fail(ErrorCode::kInvalidModel, "{} holds strings, which ONNX cannot store externally", label(f));
    ExternalDataRef ref = parse_external_data_entries(f.name, f.external_data);
    if (!src.external)
      fail(ErrorCode::kInvalidModel, "{} stores its data in external file '{}', which cannot be read: {}", label(f),
           ref.location, src.no_external_reason);
    ExternalBytes ext = src.external->resolve(f.name, ref);
    return from_bytes(f, t, bytes, ext.data, ext.owner, "its external data");
  }
  if (f.has_raw_data) return from_bytes(f, t, bytes, f.raw_data, src.owner, "raw_data");
  if (!f.typed_data.empty()) return from_typed_fields(r, f, t, numel);
  if (numel != 0)
    fail(ErrorCode::kInvalidModel, "{} has dims {} ({} elements) but carries no data", label(f), dims_text(f.dims),
         numel);
  return Tensor(t, f.dims);
}

Tensor read_tensor(const WireReader& parent, const WireField& field, const TensorSource& src, std::string* name) {
  WireReader r = parent.message(field, "TensorProto");
  TensorProtoFields f = read_tensor_fields(r);
  if (f.offset == 0) f.offset = field.offset;
  if (name) *name = f.name;
  return decode_tensor(r, f, src);
}

void write_tensor_fields(WireWriter& w, const Tensor& t, const std::string& name) {
  if (!t.defined()) fail(ErrorCode::kInvalidArgument, "cannot serialize tensor '{}': it holds no data", name);
  for (int64_t d : t.dims()) w.int64_field(kDims, d);  // dims is not declared packed in onnx.proto
  w.int64_field(kDataType, static_cast<int32_t>(t.dtype()));
  if (t.dtype() == DType::kString) {
    for (const std::string& s : t.span<std::string>()) w.string_field(kStringData, s);
  }
  if (!name.empty()) w.string_field(kName, name);
  if (is_packed(t.dtype())) {
    std::vector<uint8_t> packed(static_cast<size_t>(packed_byte_size(t.dtype(), t.numel())));
    pack_narrow(t.dtype(), static_cast<const uint8_t*>(t.raw_data()), t.numel(), packed.data());
    w.bytes_field(kRawData, packed);
  } else if (t.dtype() != DType::kString) {
    w.bytes_field(kRawData, {static_cast<const uint8_t*>(t.raw_data()), t.nbytes()});
  }
}

}  // namespace kiln::onnx
