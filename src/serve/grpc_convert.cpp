#include "grpc_convert.h"

#include <fmt/format.h>

#include <limits>

#include "datatype.h"
#include "serve_error.h"
#include "tensor_bytes.h"

namespace kiln::serve {

namespace {

// A tensor of `dtype` from one typed contents field, each value converted to T (checked where T is narrower
// than the field: INT8 and INT16 travel in int_contents, UINT8 and UINT16 in uint_contents).
template <typename T, typename Values>
Tensor from_typed(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const Values& values,
                  std::string_view field) {
  const int64_t count = checked_element_count(fmt::format("input '{}'", name), shape);
  if (static_cast<int64_t>(values.size()) != count)
    bad_request(fmt::format("input '{}': contents.{} holds {} values but shape [{}] needs {}", name, field,
                            values.size(), fmt::join(shape, ", "), count));
  Tensor t(dtype, shape);
  T* out = static_cast<T*>(t.raw_data());
  for (int64_t i = 0; i < count; ++i) {
    const auto v = values[static_cast<int>(i)];
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> && sizeof(T) < sizeof(v)) {
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
        bad_request(fmt::format("input '{}': value {} at {} of contents.{} is outside {}'s range", name, v, i, field,
                                datatype_name(dtype)));
    }
    out[i] = static_cast<T>(v);
  }
  return t;
}

Tensor from_contents(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                     const inference::InferTensorContents& c) {
  switch (dtype) {
    case DType::kBool: return from_typed<bool>(name, dtype, shape, c.bool_contents(), "bool_contents");
    case DType::kInt8: return from_typed<int8_t>(name, dtype, shape, c.int_contents(), "int_contents");
    case DType::kInt16: return from_typed<int16_t>(name, dtype, shape, c.int_contents(), "int_contents");
    case DType::kInt32: return from_typed<int32_t>(name, dtype, shape, c.int_contents(), "int_contents");
    case DType::kInt64: return from_typed<int64_t>(name, dtype, shape, c.int64_contents(), "int64_contents");
    case DType::kUInt8: return from_typed<uint8_t>(name, dtype, shape, c.uint_contents(), "uint_contents");
    case DType::kUInt16: return from_typed<uint16_t>(name, dtype, shape, c.uint_contents(), "uint_contents");
    case DType::kUInt32: return from_typed<uint32_t>(name, dtype, shape, c.uint_contents(), "uint_contents");
    case DType::kUInt64: return from_typed<uint64_t>(name, dtype, shape, c.uint64_contents(), "uint64_contents");
    case DType::kFloat32: return from_typed<float>(name, dtype, shape, c.fp32_contents(), "fp32_contents");
    case DType::kFloat64: return from_typed<double>(name, dtype, shape, c.fp64_contents(), "fp64_contents");
    case DType::kString: {
      const int64_t count = checked_element_count(fmt::format("input '{}'", name), shape);
      if (c.bytes_contents_size() != count)
        bad_request(fmt::format("input '{}': contents.bytes_contents holds {} values but shape [{}] needs {}", name,
                                c.bytes_contents_size(), fmt::join(shape, ", "), count));
      Tensor t(dtype, shape);
      for (int64_t i = 0; i < count; ++i) t.data<std::string>()[i] = c.bytes_contents(static_cast<int>(i));
      return t;
    }
    default:
      bad_request(fmt::format("input '{}': {} has no typed contents field; send it in raw_input_contents", name,
                              datatype_name(dtype)));
  }
}

}  // namespace

InferRequest request_from_proto(const inference::ModelInferRequest& proto) {
  InferRequest request;
  request.model_name = proto.model_name();
  request.model_version = proto.model_version();
  request.id = proto.id();
  const bool raw = proto.raw_input_contents_size() > 0;
  if (raw && proto.raw_input_contents_size() != proto.inputs_size())
    bad_request(fmt::format("raw_input_contents has {} entries but the request has {} inputs (one entry per input)",
                            proto.raw_input_contents_size(), proto.inputs_size()));
  for (int i = 0; i < proto.inputs_size(); ++i) {
    const auto& in = proto.inputs(i);
    const std::optional<DType> dtype = datatype_from_name(in.datatype());
    if (!dtype)
      bad_request(fmt::format("input '{}': unknown datatype \"{}\" (BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, "
                              "FP32, FP64, BYTES)", in.name(), in.datatype()));
    std::vector<int64_t> shape(in.shape().begin(), in.shape().end());
    InferInput input{in.name(), {}};
    if (raw) {
      if (in.has_contents())
        bad_request(fmt::format("input '{}' has typed contents while the request uses raw_input_contents", in.name()));
      input.tensor = tensor_from_raw(in.name(), *dtype, shape, proto.raw_input_contents(i));
    } else {
      input.tensor = from_contents(in.name(), *dtype, shape, in.contents());
    }
    request.inputs.push_back(std::move(input));
  }
  for (const auto& out : proto.outputs()) request.outputs.push_back({out.name(), true});
  return request;
}

void response_to_proto(const InferResponse& response, inference::ModelInferResponse& proto) {
  proto.set_model_name(response.model_name);
  proto.set_model_version(response.model_version);
  proto.set_id(response.id);
  for (const InferOutput& out : response.outputs) {
    auto* meta = proto.add_outputs();
    meta->set_name(out.name);
    meta->set_datatype(std::string(datatype_name(out.tensor.dtype())));
    for (int64_t d : out.tensor.dims()) meta->add_shape(d);
    std::string* bytes = proto.add_raw_output_contents();
    bytes->reserve(raw_byte_size(out.tensor));
    append_raw(out.tensor, *bytes);
  }
}

}  // namespace kiln::serve
