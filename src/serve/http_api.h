#pragma once
// The protocol's HTTP/REST endpoints, as a function from a parsed request to a reply: routing, JSON bodies,
// Triton's binary tensor extension. No sockets here (http_server.h carries bytes), so every endpoint can be
// exercised without a network.
//
//   GET  /v2/health/live, /v2/health/ready           200, or 503 when not ready
//   GET  /v2                                         server metadata
//   GET  /v2/models/M[/versions/V]                   model metadata (404 unknown)
//   GET  /v2/models/M[/versions/V]/ready             200, or 404 unknown / 503 not ready
//   POST /v2/models/M[/versions/V]/infer             inference
//   POST /v2/repository/index                        [{"name", "version", "state", "reason"?}] ({"ready": true}: READY only)
//   POST /v2/repository/models/M/load, .../unload    {} (Triton's model repository extension; 400 naming the cause)
// Refusals are {"error": "..."} with 400, 404, 405, 503 or 500.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inference_service.h"

namespace kiln::serve {

struct HttpRequest {
  bool is_get = false, is_post = false;  ///< other methods are refused
  std::string_view target;               ///< path and query, as sent
  std::string_view body;
  /// The Inference-Header-Content-Length header when present (binary tensor extension): the JSON part's size.
  std::optional<std::string_view> inference_header_length;
};

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  /// Set when the body is JSON followed by binary output tensors: the JSON part's size.
  std::optional<size_t> inference_header_length;
  /// More of the body, sent after `body` straight from where it lies (the binary outputs' tensors, which
  /// `tail_owner` keeps alive): the transport gathers the pieces in one write, with no copy.
  std::vector<std::string_view> tail;
  std::shared_ptr<const void> tail_owner;

  /// The body's full size: body and tail.
  size_t size() const;
  /// The body and tail in one string (tests, logs).
  std::string full_body() const;
};

/// Answers one request. Never throws: every failure becomes an error reply.
HttpReply handle_http(const InferenceService& service, const HttpRequest& request);

/// An error reply: {"error": message}.
HttpReply http_error(int status, std::string_view message);

}  // namespace kiln::serve
