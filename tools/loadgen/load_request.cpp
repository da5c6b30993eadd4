#include "load_request.h"

#include <fmt/format.h>

#include "datatype.h"
#include "json_tensor.h"
#include "kiln/error.h"
#include "tensor_bytes.h"

namespace kiln::loadgen {

namespace {

std::string_view protocol_datatype(const std::string& name, const Tensor& t) {
  const std::string_view datatype = serve::datatype_name(t.dtype());
  if (datatype.empty() || !t.is_tensor())
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("input '{}': the protocol has no datatype for {}", name, dtype_name(t.dtype())));
  return datatype;
}

}  // namespace

HttpInferBody http_infer_body(const NamedInputs& inputs, bool binary) {
  rapidjson::StringBuffer header;
  serve::JsonWriter w(header);
  std::string binary_data;
  w.StartObject();
  w.Key("inputs");
  w.StartArray();
  for (const auto& [name, tensor] : inputs) {
    w.StartObject();
    serve::write_tensor_description(w, name, protocol_datatype(name, tensor), tensor.dims());
    if (binary) {
      const size_t before = binary_data.size();
      serve::append_raw(tensor, binary_data);
      w.Key("parameters");
      w.StartObject();
      w.Key("binary_data_size");
      w.Uint64(binary_data.size() - before);
      w.EndObject();
    } else {
      w.Key("data");
      serve::write_json_data(tensor, w);
    }
    w.EndObject();
  }
  w.EndArray();
  if (binary) {
    w.Key("parameters");
    w.StartObject();
    w.Key("binary_data_output");
    w.Bool(true);
    w.EndObject();
  }
  w.EndObject();

  HttpInferBody out;
  out.body.assign(header.GetString(), header.GetSize());
  if (binary) {
    out.json_header_length = out.body.size();
    out.body += binary_data;
  }
  // KServe's own client sends these two; a server may read a body without one as binary tensors.
  out.content_type = binary ? "application/octet-stream" : "application/json";
  return out;
}

inference::ModelInferRequest grpc_infer_request(const std::string& model, const NamedInputs& inputs) {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  for (const auto& [name, tensor] : inputs) {
    inference::ModelInferRequest::InferInputTensor* in = request.add_inputs();
    in->set_name(name);
    in->set_datatype(std::string(protocol_datatype(name, tensor)));
    for (int64_t d : tensor.dims()) in->add_shape(d);
    serve::append_raw(tensor, *request.add_raw_input_contents());
  }
  return request;
}

}  // namespace kiln::loadgen
