#include "server.h"

#include <algorithm>
#include <thread>

#include "grpc_server.h"
#include "inference_service.h"
#include "kernels/thread_pool.h"

namespace kiln::serve {

namespace {

// Prometheus text for GET /metrics on the metrics port (the protocol's paths are not served there).
HttpReply metrics_reply(const ModelRepository& repository, const HttpRequest& request) {
  const std::string_view path = request.target.substr(0, request.target.find('?'));
  if (path != "/metrics") return http_error(404, "the metrics port answers GET /metrics only");
  std::vector<LabelledMetrics> models;
  for (const auto& m : repository.models()) models.push_back({m->name, m->version, &m->metrics});
  HttpReply reply;
  reply.content_type = "text/plain; version=0.0.4";
  reply.body = prometheus_text(models);
  return reply;
}

}  // namespace

int default_workers(const ModelRepository& repository) {
  int64_t workers = static_cast<int64_t>(kernels::usable_cpus());
  for (const ServedModel* m : repository.models()) {
    const int64_t instances = std::max<int64_t>(m->instances, 1);
    if (m->batching.max_batch_size > 0)
      workers = std::max(workers, m->batching.max_batch_size * instances);
    else
      workers = std::max(workers, m->instances);
  }
  return static_cast<int>(std::min<int64_t>(workers, 1024));
}

struct Server::Impl {
  Impl(ModelRepository repo, const ServerOptions& opts) : options(opts), repository(std::move(repo)), core(repository) {}
  ServerOptions options;
  ModelRepository repository;
  InferenceService core;
  std::unique_ptr<HttpServer> http, metrics;
  std::unique_ptr<GrpcServer> grpc;
};

Server::Server(ModelRepository repository, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(std::move(repository), options)) {
  Impl& s = *impl_;
  const int workers = default_workers(s.repository);
  if (s.options.http_threads <= 0) s.options.http_threads = workers;
  if (s.options.grpc_threads <= 0) s.options.grpc_threads = workers;
  if (options.http_port >= 0)
    s.http = std::make_unique<HttpServer>(options.host, static_cast<uint16_t>(options.http_port),
                                          s.options.http_threads, options.http_limits,
                                          [&core = s.core](const HttpRequest& r) { return handle_http(core, r); },
                                          [&core = s.core] { core.request_queued(); },
                                          [&core = s.core] { core.request_started(); });
  if (options.grpc_port >= 0)
    s.grpc = std::make_unique<GrpcServer>(options.host, static_cast<uint16_t>(options.grpc_port), s.core,
                                          options.http_limits.max_body_bytes, s.options.grpc_threads);
  if (options.metrics_port >= 0)
    s.metrics = std::make_unique<HttpServer>(
        options.host, static_cast<uint16_t>(options.metrics_port), 1, HttpLimits{},
        [&repo = s.repository](const HttpRequest& r) { return metrics_reply(repo, r); });
}

Server::~Server() { stop(); }

int Server::http_port() const { return impl_->http ? impl_->http->port() : -1; }
int Server::grpc_port() const { return impl_->grpc ? impl_->grpc->port() : -1; }
int Server::metrics_port() const { return impl_->metrics ? impl_->metrics->port() : -1; }
int Server::http_threads() const { return impl_->options.http_threads; }
int Server::grpc_threads() const { return impl_->options.grpc_threads; }

void Server::load_models() { impl_->repository.load_all(); }

void Server::stop() {
  Impl& s = *impl_;
  s.core.begin_shutdown();
  const auto deadline = std::chrono::steady_clock::now() + s.options.exit_timeout;
  // gRPC and HTTP drain side by side, against one deadline.
  std::thread grpc_drain([&] {
    if (s.grpc) s.grpc->stop(std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                  std::chrono::steady_clock::now()));
  });
  if (s.http) s.http->drain(deadline);
  grpc_drain.join();
  if (s.metrics) s.metrics->stop();
}

}  // namespace kiln::serve
