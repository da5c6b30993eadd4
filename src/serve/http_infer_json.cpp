#include "http_infer_json.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

#include <algorithm>

#include "datatype.h"
#include "json_tensor.h"
#include "serve_error.h"
#include "tensor_bytes.h"

namespace kiln::serve {

namespace {

using rapidjson::Value;

const Value* member(const Value& object, const char* key) {
  auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string string_member(const Value& object, const char* key, std::string_view where, bool required) {
  const Value* v = member(object, key);
  if (!v) {
    if (required) bad_request(fmt::format("{} has no \"{}\"", where, key));
    return {};
  }
  if (!v->IsString()) bad_request(fmt::format("\"{}\" of {} must be a string", key, where));
  return {v->GetString(), v->GetStringLength()};
}

// A boolean parameter of a "parameters" object, or `fallback` when absent.
bool bool_parameter(const Value& object, const char* key, std::string_view where, bool fallback) {
  const Value* params = member(object, "parameters");
  if (!params) return fallback;
  if (!params->IsObject()) bad_request(fmt::format("\"parameters\" of {} must be an object", where));
  const Value* v = member(*params, key);
  if (!v) return fallback;
  if (!v->IsBool()) bad_request(fmt::format("parameter \"{}\" of {} must be true or false", key, where));
  return v->GetBool();
}

// The binary_data_size parameter of an input, when it has one.
std::optional<uint64_t> binary_size(const Value& input, std::string_view where) {
  const Value* params = member(input, "parameters");
  if (!params || !params->IsObject()) return std::nullopt;
  const Value* v = member(*params, "binary_data_size");
  if (!v) return std::nullopt;
  if (!v->IsUint64()) bad_request(fmt::format("\"binary_data_size\" of {} must be a whole number >= 0", where));
  return v->GetUint64();
}

std::vector<int64_t> shape_of(const Value& input, std::string_view where) {
  const Value* v = member(input, "shape");
  if (!v) bad_request(fmt::format("{} has no \"shape\"", where));
  if (!v->IsArray()) bad_request(fmt::format("\"shape\" of {} must be an array of whole numbers", where));
  std::vector<int64_t> shape;
  for (const Value& d : v->GetArray()) {
    if (!d.IsInt64() || d.GetInt64() < 0)
      bad_request(fmt::format("\"shape\" of {} must hold whole numbers >= 0", where));
    shape.push_back(d.GetInt64());
  }
  return shape;
}

}  // namespace

InferRequest parse_infer_request(std::string_view body, std::optional<size_t> json_length) {
  const size_t json_size = json_length.value_or(body.size());
  if (json_size > body.size())
    bad_request(fmt::format("Inference-Header-Content-Length is {} but the body holds only {} bytes", json_size,
                            body.size()));
  const std::string_view json = body.substr(0, json_size);
  std::string_view binary = body.substr(json_size);
  check_json_depth(json);

  rapidjson::Document doc;
  // The JSON part is not NUL-terminated inside a binary body: parse it by length. Full precision: the fast
  // path may round a decimal to the double next to the nearest, and FP64 (or FP32 at a halfway) data must
  // arrive as the client's value.
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  if (doc.HasParseError())
    bad_request(fmt::format("the request body is not valid JSON: {} at byte {}",
                            rapidjson::GetParseError_En(doc.GetParseError()), doc.GetErrorOffset()));
  if (!doc.IsObject()) bad_request("the request body must be a JSON object with \"inputs\"");

  InferRequest request;
  request.id = string_member(doc, "id", "the request", false);
  request.binary_outputs = bool_parameter(doc, "binary_data_output", "the request", false);

  const Value* inputs = member(doc, "inputs");
  if (!inputs || !inputs->IsArray()) bad_request("the request has no \"inputs\" array");
  for (const Value& in : inputs->GetArray()) {
    if (!in.IsObject()) bad_request("each element of \"inputs\" must be an object");
    InferInput input;
    input.name = string_member(in, "name", "an input", true);
    const std::string where = fmt::format("input '{}'", input.name);
    const std::string datatype = string_member(in, "datatype", where, true);
    const std::optional<DType> dtype = datatype_from_name(datatype);
    if (!dtype)
      bad_request(fmt::format("{}: unknown datatype \"{}\" (BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, "
                              "FP64, BYTES)", where, datatype));
    const std::vector<int64_t> shape = shape_of(in, where);
    if (std::optional<uint64_t> size = binary_size(in, where)) {
      if (member(in, "data")) bad_request(fmt::format("{} has both \"data\" and \"binary_data_size\"", where));
      if (*size > binary.size())
        bad_request(fmt::format("{}: binary_data_size is {} but only {} bytes of binary data remain", where, *size,
                                binary.size()));
      input.tensor = tensor_from_raw(input.name, *dtype, shape, binary.substr(0, *size));
      binary.remove_prefix(*size);
    } else {
      const Value* data = member(in, "data");
      if (!data) bad_request(fmt::format("{} has neither \"data\" nor a \"binary_data_size\" parameter", where));
      input.tensor = tensor_from_json(input.name, *dtype, shape, *data);
    }
    request.inputs.push_back(std::move(input));
  }
  if (!binary.empty())
    bad_request(fmt::format("{} bytes of binary data follow the JSON that no input's binary_data_size claims",
                            binary.size()));

  if (const Value* outputs = member(doc, "outputs")) {
    if (!outputs->IsArray()) bad_request("\"outputs\" must be an array");
    for (const Value& out : outputs->GetArray()) {
      if (!out.IsObject()) bad_request("each element of \"outputs\" must be an object");
      RequestedOutput wanted;
      wanted.name = string_member(out, "name", "a requested output", true);
      wanted.binary = bool_parameter(out, "binary_data", fmt::format("output '{}'", wanted.name),
                                     request.binary_outputs);
      request.outputs.push_back(std::move(wanted));
    }
  }
  return request;
}

std::optional<size_t> write_infer_response(const InferResponse& response, std::string& body,
                                           std::vector<std::string_view>* tail) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  bool any_binary = false, binary_bytes = false;
  w.StartObject();
  w.Key("model_name");
  w.String(response.model_name.c_str());
  w.Key("model_version");
  w.String(response.model_version.c_str());
  if (!response.id.empty()) {
    w.Key("id");
    write_json_string(w, response.id);
  }
  w.Key("outputs");
  w.StartArray();
  for (const InferOutput& out : response.outputs) {
    w.StartObject();
    write_tensor_description(w, out.name, datatype_name(out.tensor.dtype()), out.tensor.dims());
    if (out.binary) {
      any_binary = true;
      binary_bytes |= out.tensor.dtype() == DType::kString;
      w.Key("parameters");
      w.StartObject();
      w.Key("binary_data_size");
      w.Uint64(raw_byte_size(out.tensor));
      w.EndObject();
    } else {
      w.Key("data");
      write_json_data(out.tensor, w);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  body.assign(buffer.GetString(), buffer.GetSize());
  if (!any_binary) return std::nullopt;
  const size_t json_size = body.size();
  // A BYTES output's binary form (a length before each element) exists nowhere to point at: with one, every
  // binary output is copied after the JSON, in order. Otherwise each is a piece pointing into its tensor.
  for (const InferOutput& out : response.outputs) {
    if (!out.binary) continue;
    if (tail && !binary_bytes)
      tail->emplace_back(static_cast<const char*>(out.tensor.raw_data()), raw_byte_size(out.tensor));
    else
      append_raw(out.tensor, body);
  }
  return json_size;
}

}  // namespace kiln::serve
