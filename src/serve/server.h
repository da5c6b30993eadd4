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
  /// requests at once. 0: default_workers() of the repository.
  int http_threads = 0;
  /// Threads running gRPC inference requests (and model loads), the same for gRPC. 0: default_workers().
  int grpc_threads = 0;
  HttpLimits http_limits;   ///< max_body_bytes also caps a gRPC message
  std::chrono::milliseconds exit_timeout{30'000};  ///< what in-flight requests get to finish at stop()
};

/// The inference workers each protocol gets by default: the CPUs the process may use (kernels' usable_cpus():
/// affinity and cgroup quota), so a protocol runs at most one request per core at once (more only time-slice the
/// cores and their caches), but never fewer than a model of the repository needs to do what its config.json
/// asks: a batching model's max_batch_size (a batch gathers at most as many requests as there are workers)
/// times its instances, an unbatched model's instances.
int default_workers(const ModelRepository& repository);

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
  /// The inference workers of each protocol (the options', or default_workers() where they were 0).
  int http_threads() const;
  int grpc_threads() const;

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
