#pragma once
// The one inference request kiln-loadgen sends over and over, built once per run in each protocol's form (the
// same data every time, so a request costs the client a write and a read, never an encode).

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "grpc_predict_v2.pb.h"
#include "kiln/tensor.h"

namespace kiln::loadgen {

using NamedInputs = std::vector<std::pair<std::string, Tensor>>;

/// An HTTP request body for POST /v2/models/NAME/infer.
struct HttpInferBody {
  std::string body;
  std::string content_type;
  /// Binary tensor extension: the length of the JSON header the binary data follows
  /// (Inference-Header-Content-Length); empty for a JSON request.
  std::optional<size_t> json_header_length;
};

/// binary: each input's bytes after the JSON header (binary_data_size), outputs asked for in binary
/// (binary_data_output), as tritonclient sends them; else every input as a JSON "data" array.
HttpInferBody http_infer_body(const NamedInputs& inputs, bool binary);

/// A ModelInfer request with each input's bytes in raw_input_contents, as tritonclient sends it.
inference::ModelInferRequest grpc_infer_request(const std::string& model, const NamedInputs& inputs);

}  // namespace kiln::loadgen
