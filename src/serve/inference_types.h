#pragma once
// A transport-independent inference request and response: what the HTTP/JSON and gRPC front ends decode into
// and encode from, so validation and execution (inference_service.h) are written once.

#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::serve {

struct InferInput {
  std::string name;
  Tensor tensor;  ///< decoded, with the request's dtype and shape
};

struct RequestedOutput {
  std::string name;
  bool binary = false;  ///< HTTP only: answer with Triton's binary tensor extension instead of JSON data
};

struct InferRequest {
  std::string model_name;
  std::string model_version;  ///< empty: the server's choice
  std::string id;             ///< echoed in the response
  std::vector<InferInput> inputs;
  std::vector<RequestedOutput> outputs;  ///< empty: every output of the model, in its order
  bool binary_outputs = false;           ///< HTTP only: the binary default for outputs not listed
};

struct InferOutput {
  std::string name;
  Tensor tensor;
  bool binary = false;
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<InferOutput> outputs;
};

}  // namespace kiln::serve
