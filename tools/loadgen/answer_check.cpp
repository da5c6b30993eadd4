#include "answer_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rapidjson/document.h>

#include <charconv>
#include <stdexcept>

#include "datatype.h"
#include "kiln/dtype.h"

namespace kiln::loadgen {

namespace {

using rapidjson::Value;

[[noreturn]] void wrong(const std::string& what) { throw std::runtime_error(what); }

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Bytes a shape's elements take in the raw layout; nullopt for BYTES, whose elements carry their own lengths.
std::optional<size_t> raw_bytes(const std::string& name, const std::string& datatype,
                                const std::vector<int64_t>& shape) {
  const std::optional<DType> dtype = serve::datatype_from_name(datatype);
  if (!dtype) wrong(fmt::format("output '{}' has the unknown datatype '{}'", name, datatype));
  if (*dtype == DType::kString) return std::nullopt;
  return static_cast<size_t>(element_count(shape)) * dtype_size(*dtype);
}

// A whole number >= 0: a JSON number, or (a JSON answer is parsed with its numbers left as text) its text.
std::optional<uint64_t> json_count(const Value& v) {
  if (v.IsUint64()) return v.GetUint64();
  uint64_t n = 0;
  if (!v.IsString()) return std::nullopt;
  const char* end = v.GetString() + v.GetStringLength();
  auto [stop, error] = std::from_chars(v.GetString(), end, n);
  if (error != std::errc() || stop != end) return std::nullopt;
  return n;
}

// Elements in a flat or nested JSON "data" array.
int64_t json_elements(const Value& data) {
  if (!data.IsArray()) return 1;
  int64_t n = 0;
  for (const Value& v : data.GetArray()) n += json_elements(v);
  return n;
}

const Value& member(const Value& object, const char* key, const std::string& where) {
  if (!object.IsObject()) wrong(fmt::format("{} is not a JSON object", where));
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) wrong(fmt::format("{} has no \"{}\"", where, key));
  return it->value;
}

// An output's parameters.binary_data_size; null when it has none ("parameters" may be missing, or null).
const Value* binary_data_size(const Value& output) {
  auto params = output.FindMember("parameters");
  if (params == output.MemberEnd() || !params->value.IsObject()) return nullptr;
  auto size = params->value.FindMember("binary_data_size");
  return size == params->value.MemberEnd() ? nullptr : &size->value;
}

// The "outputs" of a parsed JSON answer (or binary-extension header); `data_bytes_left` is the binary data after
// the header, each output's binary_data_size taken from it.
AnswerShape json_outputs(const rapidjson::Document& doc, size_t data_bytes_left) {
  if (doc.HasParseError()) wrong("the answer is not JSON");
  const Value& outputs = member(doc, "outputs", "the answer");
  if (!outputs.IsArray() || outputs.Empty()) wrong("the answer has no outputs");
  AnswerShape shape;
  for (const Value& out : outputs.GetArray()) {
    const Value& name = member(out, "name", "an output");
    if (!name.IsString()) wrong("an output's name is not a string");
    shape.names.emplace_back(name.GetString());
    const std::string where = fmt::format("output '{}'", shape.names.back());
    const Value& shape_array = member(out, "shape", where);
    const Value& datatype = member(out, "datatype", where);
    if (!shape_array.IsArray() || !datatype.IsString()) wrong(where + ": its shape or datatype is malformed");
    std::vector<int64_t>& dims = shape.shapes.emplace_back();
    for (const Value& d : shape_array.GetArray()) {
      const std::optional<uint64_t> size = json_count(d);
      if (!size) wrong(where + ": its shape holds something other than sizes");
      dims.push_back(static_cast<int64_t>(*size));
    }
    const std::optional<size_t> expected = raw_bytes(shape.names.back(), datatype.GetString(), dims);
    if (const Value* binary = binary_data_size(out)) {
      const std::optional<uint64_t> bytes = json_count(*binary);
      if (!bytes) wrong(where + ": binary_data_size is not a byte count");
      const uint64_t size = *bytes;
      if (size > data_bytes_left || (expected && size != *expected))
        wrong(fmt::format("{}: {} bytes of binary data for shape [{}] ({} bytes left)", where, size,
                          fmt::join(dims, ","), data_bytes_left));
      data_bytes_left -= size;
    } else {
      const int64_t count = json_elements(member(out, "data", where));
      if (count != element_count(dims))
        wrong(fmt::format("{}: {} elements for shape [{}]", where, count, fmt::join(dims, ",")));
    }
  }
  if (data_bytes_left != 0) wrong(fmt::format("{} bytes of binary data no output claims", data_bytes_left));
  return shape;
}

// Elements in an InferTensorContents: only the field of the output's datatype is set.
int64_t typed_elements(const inference::InferTensorContents& c) {
  return c.bool_contents_size() + c.int_contents_size() + c.int64_contents_size() + c.uint_contents_size() +
         c.uint64_contents_size() + c.fp32_contents_size() + c.fp64_contents_size() + c.bytes_contents_size();
}

}  // namespace

AnswerShape check_json_answer(std::string& body) {
  rapidjson::Document doc;
  // Numbers left as text: the data's elements are counted, never converted (most of a parse's time otherwise).
  // kiln serve writes NaN and Infinity as such (JSON has no other way).
  doc.ParseInsitu<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseNanAndInfFlag>(body.data());
  return json_outputs(doc, 0);
}

AnswerShape check_binary_answer(std::string_view body, size_t json_header_length) {
  if (json_header_length > body.size())
    wrong(fmt::format("Inference-Header-Content-Length {} is past the body's {} bytes", json_header_length,
                      body.size()));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseNanAndInfFlag>(body.data(), json_header_length);
  return json_outputs(doc, body.size() - json_header_length);
}

AnswerShape check_grpc_answer(const inference::ModelInferResponse& answer) {
  if (answer.outputs_size() == 0) wrong("the answer has no outputs");
  const bool raw = answer.raw_output_contents_size() > 0;
  if (raw && answer.raw_output_contents_size() != answer.outputs_size())
    wrong(fmt::format("{} raw_output_contents for {} outputs", answer.raw_output_contents_size(),
                      answer.outputs_size()));
  AnswerShape shape;
  for (int i = 0; i < answer.outputs_size(); ++i) {
    const auto& out = answer.outputs(i);
    shape.names.push_back(out.name());
    std::vector<int64_t>& dims = shape.shapes.emplace_back(out.shape().begin(), out.shape().end());
    if (raw) {
      const std::optional<size_t> expected = raw_bytes(out.name(), out.datatype(), dims);
      if (expected && answer.raw_output_contents(i).size() != *expected)
        wrong(fmt::format("output '{}': {} bytes for shape [{}]", out.name(), answer.raw_output_contents(i).size(),
                          fmt::join(dims, ",")));
    } else if (typed_elements(out.contents()) != element_count(dims)) {
      wrong(fmt::format("output '{}': {} elements for shape [{}]", out.name(), typed_elements(out.contents()),
                        fmt::join(dims, ",")));
    }
  }
  return shape;
}

}  // namespace kiln::loadgen
