#pragma once
// Tensor data in the protocol's JSON form: "data" as a flat or nested (row-major) array of numbers, booleans
// (BOOL) or strings (BYTES), read into a kiln Tensor and written back as a flat array.

#include <rapidjson/document.h>
#include <rapidjson/writer.h>
#include <rapidjson/stringbuffer.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::serve {

/// Deepest JSON nesting accepted in a request body (a tensor of rank 32 nested as arrays needs 35).
inline constexpr int kMaxJsonDepth = 64;

/// Refuses (400) a JSON text nested deeper than kMaxJsonDepth, before any parser recurses into it.
void check_json_depth(std::string_view json);

/// The tensor `data` holds for input `name`, of `dtype` and `shape`; refuses (400) an element count that does not
/// match the shape and an element of the wrong kind or out of the type's range, naming the input and element.
Tensor tensor_from_json(std::string_view name, DType dtype, const std::vector<int64_t>& shape,
                        const rapidjson::Value& data);

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                     rapidjson::CrtAllocator, rapidjson::kWriteNanAndInfFlag>;

/// Writes a string of any bytes (the length is given, so it may hold NULs).
void write_json_string(JsonWriter& writer, std::string_view s);
/// Writes the "name", "datatype" and "shape" members every tensor description of the protocol starts with.
void write_tensor_description(JsonWriter& writer, std::string_view name, std::string_view datatype,
                              const std::vector<int64_t>& shape);

/// Writes `tensor`'s elements as a flat JSON array.
void write_json_data(const Tensor& tensor, JsonWriter& writer);

}  // namespace kiln::serve
