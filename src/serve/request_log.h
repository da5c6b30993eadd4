#pragma once
// One structured line per request at debug level (`kiln serve --log-level debug`): a JSON object on standard
// error, written with one call so lines from several threads never interleave. Off by default: a busy server
// writes nothing per request.

#include <cstdint>
#include <string_view>

namespace kiln::serve {

struct RequestRecord {
  std::string_view transport;  ///< "http" or "grpc"
  std::string_view method;     ///< "POST", "GET", or the gRPC method ("ModelInfer")
  std::string_view target;     ///< the HTTP path, or the model a gRPC call names
  int status = 0;              ///< the HTTP status, or the gRPC status code
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t microseconds = 0;   ///< from the request's arrival (its body read) to its reply
};

/// Turns the per-request lines on or off (process-wide).
void set_request_logging(bool on);
bool request_logging();
/// Writes `record` when request logging is on.
void log_request(const RequestRecord& record);

}  // namespace kiln::serve
