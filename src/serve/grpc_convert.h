#pragma once
// ModelInfer's protobuf messages to and from the transport-independent request and response.

#include "grpc_predict_v2.pb.h"
#include "inference_types.h"

namespace kiln::serve {

/// Decodes a ModelInferRequest: each input from raw_input_contents (one entry per input, in order) or from its
/// typed contents. Throws ServeError 400 naming what does not fit.
InferRequest request_from_proto(const inference::ModelInferRequest& proto);

/// Encodes a response, every output's bytes in raw_output_contents.
void response_to_proto(const InferResponse& response, inference::ModelInferResponse& proto);

}  // namespace kiln::serve
