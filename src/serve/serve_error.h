#pragma once
// The one error type of the server: a message naming what was wrong and the HTTP status it maps to. The gRPC
// front end maps the same status to a gRPC code (grpc_server.cpp), so both transports refuse alike.

#include <stdexcept>
#include <string>

namespace kiln::serve {

/// HTTP statuses the protocol uses for refusals.
enum class Status : int {
  kBadRequest = 400,          ///< malformed, oversize (the protocol has no 413), or not what the model takes
  kNotFound = 404,            ///< no such model (or version)
  kUnavailable = 503,         ///< not ready, overloaded or shutting down
  kInternal = 500,            ///< a failure of the server or of the model's run
};

class ServeError : public std::runtime_error {
 public:
  ServeError(Status status, std::string message) : std::runtime_error(std::move(message)), status_(status) {}
  Status status() const { return status_; }
  int http_status() const { return static_cast<int>(status_); }

 private:
  Status status_;
};

[[noreturn]] inline void bad_request(std::string message) { throw ServeError(Status::kBadRequest, std::move(message)); }

}  // namespace kiln::serve
