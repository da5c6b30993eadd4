#pragma once
// The gRPC transport: `inference.GRPCInferenceService` (grpc_predict_v2.proto) on gRPC's callback API, answering
// from an InferenceService. Refusals carry the HTTP status's gRPC code (400 INVALID_ARGUMENT, 404 NOT_FOUND,
// 503 UNAVAILABLE, 500 INTERNAL) and the same message. gRPC stays inside grpc_server.cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "inference_service.h"

namespace kiln::serve {

class GrpcServer {
 public:
  /// Listens on `host`:`port` (0: a free port, see port()); messages up to `max_message_bytes` are accepted;
  /// inferences (and model loads) run on `workers` threads. Throws kiln::Error naming the address when it cannot
  /// listen there.
  GrpcServer(const std::string& host, uint16_t port, const InferenceService& service, uint64_t max_message_bytes,
             int workers = 16);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  uint16_t port() const;
  /// Stops accepting calls; calls in flight get until `deadline` to finish, then are cancelled.
  void stop(std::chrono::milliseconds deadline);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::serve
