#pragma once
// The JSON bodies of POST .../infer (KServe v2 with Triton's binary tensor extension): request decoding and
// response encoding.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inference_types.h"

namespace kiln::serve {

/// Decodes an infer request body. `json_length` (Inference-Header-Content-Length) splits the body into the JSON
/// header and the binary inputs that follow it, which inputs claim in order by their "binary_data_size"
/// parameter. Throws ServeError 400 naming what is malformed.
InferRequest parse_infer_request(std::string_view body, std::optional<size_t> json_length);

/// Encodes a response: JSON, then the binary outputs' bytes. Returns the JSON part's size when binary outputs
/// follow (the reply's Inference-Header-Content-Length). With `tail`, the bytes of binary outputs of fixed-size
/// datatypes are not copied into `body` but listed there, pointing into `response`'s tensors (which must then
/// outlive the reply): `body` holds the JSON (and BYTES outputs, whose length prefixes are written), and body
/// followed by the tail pieces is the same bytes as without `tail`.
std::optional<size_t> write_infer_response(const InferResponse& response, std::string& body,
                                           std::vector<std::string_view>* tail = nullptr);

}  // namespace kiln::serve
