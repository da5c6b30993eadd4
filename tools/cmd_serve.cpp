// kiln serve MODEL_REPOSITORY|MODEL.onnx [--model-name NAME] [--host H] [--http-port P] [--grpc-port P] [--metrics-port P]
//            [--threads N] [--http-threads N] [--grpc-threads N] [--max-request-bytes N] [--header-timeout S] [--log-level info|debug]
//            [--exit-timeout S]
// Serves the models over the Open Inference Protocol (KServe v2): HTTP/REST and gRPC (src/serve).

#include <csignal>
#include <fmt/format.h>

#include <cstdio>

#include "commands.h"
#include "request_log.h"
#include "server.h"

namespace kiln::cli {

namespace {

struct ServeArgs {
  std::string repository;
  std::string model_name;
  serve::ServerOptions server;
  int threads = 0;
  uint64_t max_request_bytes = serve::HttpLimits{}.max_body_bytes;
  double exit_timeout_seconds = 30;
  double header_timeout_seconds = 30;
  std::string log_level = "info";
};

int run_serve(const ServeArgs& args) {
  // SIGINT and SIGTERM are taken by this thread alone (sigwait below): blocked before any server thread starts,
  // so every thread inherits the mask and none is interrupted.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  serve::set_request_logging(args.log_level == "debug");
  serve::RepositoryOptions repo_options;
  repo_options.session.intra_op_threads = args.threads;
  repo_options.model_name = args.model_name;
  serve::ModelRepository repository = serve::ModelRepository::scan(args.repository, repo_options);
  std::vector<std::string> names;
  for (const auto& m : repository.models()) names.push_back(m->name);

  serve::ServerOptions options = args.server;
  options.http_limits.max_body_bytes = args.max_request_bytes;
  options.exit_timeout = std::chrono::milliseconds(static_cast<int64_t>(args.exit_timeout_seconds * 1000));
  options.http_limits.header_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(args.header_timeout_seconds * 1000));
  serve::Server server(std::move(repository), options);
  // Tests and scripts read the ports from these lines (a port given as 0 is the one the system chose).
  std::printf("kiln serve: models %s\n", fmt::format("{}", fmt::join(names, ", ")).c_str());
  if (server.http_port() >= 0) std::printf("kiln serve: HTTP on %s:%d\n", options.host.c_str(), server.http_port());
  if (server.grpc_port() >= 0) std::printf("kiln serve: gRPC on %s:%d\n", options.host.c_str(), server.grpc_port());
  if (server.metrics_port() >= 0)
    std::printf("kiln serve: metrics on %s:%d\n", options.host.c_str(), server.metrics_port());
  std::printf("kiln serve: inference workers: HTTP %d, gRPC %d\n", server.http_threads(), server.grpc_threads());
  std::fflush(stdout);
  // Loaded while the listeners answer (health/ready says 503 until every model is in). A model that cannot be
  // loaded stops the server: serving a repository without one of its models would hide the failure.
  try {
    server.load_models();
  } catch (...) {
    server.stop();
    throw;
  }
  std::printf("kiln serve: ready\n");
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::printf("kiln serve: %s received, stopping\n", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  std::fflush(stdout);
  server.stop();
  return 0;
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve models over the Open Inference Protocol (KServe v2) on HTTP and gRPC, for Triton's and "
               "KServe's clients");
  cmd->add_option("repository", args->repository,
                  "A model repository (a folder with one sub-folder per model, each holding one .onnx file and "
                  "optionally config.json) or one .onnx file")
      ->required();
  cmd->add_option("--model-name", args->model_name,
                  "Name to serve a single model (an .onnx file or a folder holding one) under; default: the file's "
                  "stem");
  cmd->add_option("--host", args->server.host, "Address to listen on (0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--http-port", args->server.http_port, "HTTP/REST port; 0 picks a free one, -1 turns HTTP off")
      ->capture_default_str();
  cmd->add_option("--grpc-port", args->server.grpc_port, "gRPC port; 0 picks a free one, -1 turns gRPC off")
      ->capture_default_str();
  cmd->add_option("--metrics-port", args->server.metrics_port,
                  "Prometheus /metrics port; 0 picks a free one, -1 turns it off")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "Threads each model's run uses (0: the CPUs the process may use)")
      ->capture_default_str();
  cmd->add_option("--http-threads", args->server.http_threads,
                  "Threads running HTTP inference requests (a dynamic batch gathers at most this many). 0: the "
                  "CPUs the process may use, or more when a model's config.json needs more (max_batch_size x "
                  "instances of a batching model, instances of another)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--grpc-threads", args->server.grpc_threads,
                  "Threads running gRPC inference requests and model loads, the same way (0: as for --http-threads)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-request-bytes", args->max_request_bytes,
                  "Largest request body (HTTP) or message (gRPC); larger ones get 400 before their body is read")
      ->capture_default_str();
  cmd->add_option("--header-timeout", args->header_timeout_seconds,
                  "Seconds an HTTP client may take to send a request's header (also how long an idle keep-alive "
                  "connection stays open)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--log-level", args->log_level,
                  "info: start-up and shutdown lines; debug: also one JSON line per request on standard error")
      ->check(CLI::IsMember({"info", "debug"}))
      ->capture_default_str();
  cmd->add_option("--exit-timeout", args->exit_timeout_seconds,
                  "Seconds in-flight requests get to finish after SIGTERM or SIGINT")
      ->capture_default_str();
  return [args] { return run_serve(*args); };
}

}  // namespace kiln::cli
