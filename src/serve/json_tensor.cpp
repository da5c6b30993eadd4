#include "json_tensor.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <limits>

#include "datatype.h"
#include "serve_error.h"
#include "tensor_bytes.h"

namespace kiln::serve {

namespace {

// A nested array's leaves, counted; nesting was bounded by check_json_depth.
size_t count_leaves(const rapidjson::Value& v) {
  if (!v.IsArray()) return 1;
  size_t n = 0;
  for (const rapidjson::Value& item : v.GetArray()) n += item.IsArray() ? count_leaves(item) : 1;
  return n;
}

// Calls fill(leaf, i) on each leaf of a nested array in row-major order, i counting from `index`. Walked in
// place: gathering the leaves into a vector of pointers first took 1.4 ms of a ResNet-18 request (150 K floats,
// the vector regrown as it went).
template <typename Fill>
void for_each_leaf(const rapidjson::Value& v, size_t& index, Fill& fill) {
  if (!v.IsArray()) {
    fill(v, index++);
    return;
  }
  for (const rapidjson::Value& item : v.GetArray()) {
    if (item.IsArray())
      for_each_leaf(item, index, fill);
    else
      fill(item, index++);
  }
}

template <typename Fill>
void for_each_leaf(const rapidjson::Value& data, Fill fill) {
  size_t index = 0;
  for_each_leaf(data, index, fill);
}

std::string_view kind_of(const rapidjson::Value& v) {
  if (v.IsNumber()) return "a number";
  if (v.IsBool()) return "a boolean";
  if (v.IsString()) return "a string";
  if (v.IsNull()) return "null";
  return v.IsObject() ? "an object" : "an array";
}

template <typename T>
void fill_integers(std::string_view name, const rapidjson::Value& data, T* out) {
  for_each_leaf(data, [&](const rapidjson::Value& v, size_t i) {
    bool fits = false;
    if constexpr (std::is_signed_v<T>) {
      fits = v.IsInt64() && v.GetInt64() >= std::numeric_limits<T>::min() &&
             v.GetInt64() <= std::numeric_limits<T>::max();
      if (fits) out[i] = static_cast<T>(v.GetInt64());
    } else {
      fits = v.IsUint64() && v.GetUint64() <= std::numeric_limits<T>::max();
      if (fits) out[i] = static_cast<T>(v.GetUint64());
    }
    if (!fits)
      bad_request(fmt::format("input '{}': element {} of \"data\" is {}, not a whole number in {}'s range", name, i,
                              kind_of(v), datatype_name(dtype_of<T>())));
  });
}

template <typename T>
void fill_floats(std::string_view name, DType dtype, const rapidjson::Value& data, T* out) {
  for_each_leaf(data, [&](const rapidjson::Value& v, size_t i) {
    if (!v.IsNumber())
      bad_request(fmt::format("input '{}': element {} of \"data\" is {}, not a number ({})", name, i, kind_of(v),
                              datatype_name(dtype)));
    out[i] = static_cast<T>(v.GetDouble());
  });
}

// The bytes check_json_depth stops at; it skips every other byte (digits, separators, letters) in a tight loop:
// a ResNet-18 request is 1.6 MB, nearly all numbers, and the scan that weighed each byte took 2 ms of it.
constexpr std::array<bool, 256> kDepthScanStops = [] {
  std::array<bool, 256> stops{};
  for (unsigned char c : std::string_view("\"\\[]{}")) stops[c] = true;
  return stops;
}();

}  // namespace

void check_json_depth(std::string_view json) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    while (i < json.size() && !kDepthScanStops[static_cast<unsigned char>(json[i])]) ++i;
    if (i == json.size()) break;
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        bad_request(fmt::format("the JSON request is nested more than {} levels deep (at byte {})", kMaxJsonDepth, i));
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

Tensor tensor_from_json(std::string_view name, DType dtype, const std::vector<int64_t>& shape,
                        const rapidjson::Value& data) {
  const size_t leaves = count_leaves(data);
  const int64_t count = checked_element_count(fmt::format("input '{}'", name), shape);
  if (static_cast<uint64_t>(count) != leaves)
    bad_request(fmt::format("input '{}': \"data\" holds {} elements but shape [{}] needs {}", name, leaves,
                            fmt::join(shape, ", "), count));
  Tensor t(dtype, shape);
  switch (dtype) {
    case DType::kBool: {
      auto* out = static_cast<bool*>(t.raw_data());
      for_each_leaf(data, [&](const rapidjson::Value& v, size_t i) {
        if (!v.IsBool())
          bad_request(fmt::format("input '{}': element {} of \"data\" is {}, not a boolean (BOOL)", name, i,
                                  kind_of(v)));
        out[i] = v.GetBool();
      });
      break;
    }
    case DType::kString: {
      std::string* out = t.data<std::string>();
      for_each_leaf(data, [&](const rapidjson::Value& v, size_t i) {
        if (!v.IsString())
          bad_request(fmt::format("input '{}': element {} of \"data\" is {}, not a string (BYTES)", name, i,
                                  kind_of(v)));
        out[i].assign(v.GetString(), v.GetStringLength());
      });
      break;
    }
    case DType::kInt8: fill_integers(name, data, t.data<int8_t>()); break;
    case DType::kInt16: fill_integers(name, data, t.data<int16_t>()); break;
    case DType::kInt32: fill_integers(name, data, t.data<int32_t>()); break;
    case DType::kInt64: fill_integers(name, data, t.data<int64_t>()); break;
    case DType::kUInt8: fill_integers(name, data, t.data<uint8_t>()); break;
    case DType::kUInt16: fill_integers(name, data, t.data<uint16_t>()); break;
    case DType::kUInt32: fill_integers(name, data, t.data<uint32_t>()); break;
    case DType::kUInt64: fill_integers(name, data, t.data<uint64_t>()); break;
    case DType::kFloat16: fill_floats(name, dtype, data, t.data<Float16>()); break;
    case DType::kBFloat16: fill_floats(name, dtype, data, t.data<BFloat16>()); break;
    case DType::kFloat32: fill_floats(name, dtype, data, t.data<float>()); break;
    case DType::kFloat64: fill_floats(name, dtype, data, t.data<double>()); break;
    default: bad_request(fmt::format("input '{}': {} cannot be sent as JSON", name, dtype_name(dtype)));
  }
  return t;
}

void write_json_string(JsonWriter& writer, std::string_view s) {
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_tensor_description(JsonWriter& writer, std::string_view name, std::string_view datatype,
                              const std::vector<int64_t>& shape) {
  writer.Key("name");
  write_json_string(writer, name);
  writer.Key("datatype");
  write_json_string(writer, datatype);
  writer.Key("shape");
  writer.StartArray();
  for (int64_t d : shape) writer.Int64(d);
  writer.EndArray();
}

void write_json_data(const Tensor& tensor, JsonWriter& writer) {
  writer.StartArray();
  const int64_t n = tensor.numel();
  switch (tensor.dtype()) {
    case DType::kBool:
      for (int64_t i = 0; i < n; ++i) writer.Bool(static_cast<const bool*>(tensor.raw_data())[i]);
      break;
    case DType::kString:
      for (const std::string& s : tensor.span<std::string>())
        writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      break;
    case DType::kInt8: case DType::kInt16: case DType::kInt32: case DType::kInt64:
    case DType::kUInt8: case DType::kUInt16: case DType::kUInt32:
      for (int64_t i = 0; i < n; ++i) writer.Int64(tensor.int_at(i));
      break;
    case DType::kUInt64:
      for (uint64_t v : tensor.span<uint64_t>()) writer.Uint64(v);
      break;
    case DType::kFloat32:
      // The shortest decimal that reads back as the same float (fmt's "{}"): about half the digits of the
      // double's, so half the bytes to send and to parse on both sides, and the client's float32 conversion
      // gives the same bits back. NaN and infinities go through the writer's own spelling.
      for (float v : tensor.span<float>()) {
        if (!std::isfinite(v)) {
          writer.Double(v);
          continue;
        }
        char text[32];
        const auto end = fmt::format_to_n(text, sizeof(text), "{}", v).out;
        writer.RawValue(text, static_cast<size_t>(end - text), rapidjson::kNumberType);
      }
      break;
    default:
      for (int64_t i = 0; i < n; ++i) writer.Double(tensor.double_at(i));
  }
  writer.EndArray();
}

}  // namespace kiln::serve
