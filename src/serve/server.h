#pragma once
// A running server: the model repository, the protocol core, and its three listeners (HTTP, gRPC, Prometheus
// metrics), started together and stopped together. `kiln serve` (tools/cmd_serve.cpp) is a thin shell over it.

#include <chrono>
#include <memory>
#include <string>

#include "http_server.h"
#include "model_repository.h"

namespace kiln::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int http_port = 8000;     ///< 0: a free port; -1: no HTTP listener
  int grpc_port = 8001;     ///< 0: a free port; -1: no gRPC listener
  int metrics_port = 8002;  ///< 0: a free port; -1: no metrics listener
  /// Threads running HTTP inference requests; with dynamic batching, a batch gathers at most this many HTTP
  /// requests at once.
  int http_threads = 16;
  /// Threads running gRPC inference requests (and model loads), the same for gRPC.
  int grpc_threads = 16;
  HttpLimits http_limits;   ///< max_body_bytes also caps a gRPC message
  std::chrono::milliseconds exit_timeout{30'000};  ///< what in-flight requests get to finish at stop()
};

class Server {
 public:
  /// Starts every listener over `repository` (scanned, not loaded: the server answers not ready until
  /// load_models()). Throws kiln::Error when one cannot listen.
  Server(ModelRepository repository, const ServerOptions& options);
  ~Server();

  /// The ports listened on (-1 for a listener switched off).
  int http_port() const;
  int grpc_port() const;
  int metrics_port() const;

  /// Loads every model; each turns ready once loaded, the server once all are. Throws kiln::Error naming a model
  /// that cannot be loaded.
  void load_models();
  /// Turns readiness false, stops accepting, lets requests already received finish within the exit timeout.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::serve
