// kiln-loadgen --url HOST:PORT --protocol grpc|http-binary|http-json --model NAME
//              (--input NAME=FILE | --shape NAME=DIMS)... [--clients N] [--requests N] [--seconds S] [--json]
//
// Closed-loop load on a KServe v2 (Open Inference Protocol) server: N clients, each on its own connection and
// thread, send the same inference request, wait for the answer, and send again, until --requests are sent or
// --seconds have passed. Prints the answered and failed counts, throughput, latency percentiles and this
// process's CPU time per request: the client's own cost, which a load generator sharing the server's cores
// must keep small (the reason it is C++, not Python threads). Exit status 1 when any request failed or none
// was answered.

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <random>

#include "bench_stats.h"
#include "cli_util.h"
#include "input_feeds.h"
#include "load_run.h"

namespace {

using namespace kiln;
using json = nlohmann::ordered_json;

struct Args {
  std::string url, protocol = "grpc", model;
  std::vector<std::string> inputs, shapes;
  uint64_t seed = 0;
  int clients = 1;
  loadgen::LoadBounds bounds{0, 10};
  bool json = false;
};

// The same inputs for every request: files as given, random FP32 data for --shape.
loadgen::NamedInputs read_inputs(const Args& args) {
  loadgen::NamedInputs inputs;
  for (const std::string& s : args.inputs) {
    auto [name, file] = cli::split_assignment(s, "--input");
    inputs.emplace_back(name, cli::read_tensor_file(file));
  }
  std::mt19937_64 rng(args.seed);
  for (const auto& [name, dims] : cli::parse_shape_args(args.shapes))
    inputs.emplace_back(name, cli::random_tensor(name, DType::kFloat32, dims, rng));
  if (inputs.empty()) throw Error(ErrorCode::kInvalidArgument, "give the model's inputs with --input or --shape");
  return inputs;
}

json report(const Args& args, const loadgen::LoadResult& r) {
  const cli::LatencySummary latency = cli::summarize_latencies(r.latencies_ms);
  const int64_t sent = r.answered + r.failed;
  return {{"protocol", args.protocol},
          {"clients", args.clients},
          {"count", r.answered},
          {"failed", r.failed},
          {"seconds", r.wall_seconds},
          {"throughput_per_s", r.wall_seconds > 0 ? static_cast<double>(r.answered) / r.wall_seconds : 0.0},
          {"latency_ms", {{"p50", latency.median}, {"p90", latency.p90}, {"p99", latency.p99}, {"max", latency.max}}},
          {"client_cpu_seconds", r.cpu_seconds},
          {"client_cpu_ms_per_request", sent ? 1e3 * r.cpu_seconds / static_cast<double>(sent) : 0.0},
          {"first_failure", r.first_failure.empty() ? json(nullptr) : json(r.first_failure)}};
}

int run(const Args& args) {
  const size_t colon = args.url.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == args.url.size())
    throw Error(ErrorCode::kInvalidArgument, fmt::format("--url expects HOST:PORT, got '{}'", args.url));
  const std::string host = args.url.substr(0, colon), port = args.url.substr(colon + 1);
  const loadgen::NamedInputs inputs = read_inputs(args);

  loadgen::HttpInferBody http_body;
  inference::ModelInferRequest grpc_request;
  std::function<std::unique_ptr<loadgen::InferClient>()> connect;
  if (args.protocol == "grpc") {
    grpc_request = loadgen::grpc_infer_request(args.model, inputs);
    connect = [&] { return loadgen::connect_grpc(host, port, grpc_request); };
  } else {
    http_body = loadgen::http_infer_body(inputs, args.protocol == "http-binary");
    connect = [&] { return loadgen::connect_http(host, port, args.model, http_body); };
  }
  const loadgen::LoadResult result = loadgen::run_load(args.clients, connect, args.bounds);
  const json out = report(args, result);
  if (args.json) {
    std::puts(out.dump(2).c_str());
  } else {
    fmt::print("{} clients, {}: {} answered, {} failed in {:.2f} s: {:.1f}/s; latency p50 {:.2f} ms, p90 {:.2f}, "
               "p99 {:.2f}, max {:.2f}; client CPU {:.3f} ms per request\n",
               args.clients, args.protocol, result.answered, result.failed, result.wall_seconds,
               out["throughput_per_s"].get<double>(), out["latency_ms"]["p50"].get<double>(),
               out["latency_ms"]["p90"].get<double>(), out["latency_ms"]["p99"].get<double>(),
               out["latency_ms"]["max"].get<double>(), out["client_cpu_ms_per_request"].get<double>());
    if (!result.first_failure.empty()) fmt::print("first failure: {}\n", result.first_failure);
  }
  return result.failed == 0 && result.answered > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"kiln-loadgen: closed-loop load on a KServe v2 inference server"};
  app.add_option("--url", args.url, "the server's HOST:PORT (the gRPC port for --protocol grpc)")->required();
  app.add_option("--protocol", args.protocol, "how requests are sent")
      ->check(CLI::IsMember({"grpc", "http-binary", "http-json"}));
  app.add_option("--model", args.model, "the model's name on the server")->required();
  app.add_option("--input", args.inputs, "NAME=FILE: an input's data (.npy or ONNX TensorProto .pb)");
  app.add_option("--shape", args.shapes, "NAME=DIMS: an input of random FP32 data (uniform [0,1)), e.g. 1x3x224x224");
  app.add_option("--seed", args.seed, "of the random inputs");
  app.add_option("--clients", args.clients, "concurrent clients, each with its own connection")
      ->check(CLI::Range(1, 1024));
  app.add_option("--requests", args.bounds.requests, "requests to send in all (0: no count bound)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seconds", args.bounds.seconds, "start no request after this long (0: no time bound)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", args.json, "print the figures as JSON");
  CLI11_PARSE(app, argc, argv);
  if (args.bounds.requests == 0 && args.bounds.seconds == 0) {
    std::fputs("kiln-loadgen: give --requests or --seconds (a run must be bounded)\n", stderr);
    return 2;
  }
  if (args.protocol == "grpc") {
    // The client shares the server's cores, so its CPU per request counts (issue 11). gRPC's "poll" engine has
    // each client thread poll its own channel, where the default (epoll1) has one thread poll for all and wake
    // the others; and malloc, left to itself, gives back each large answer's pages and faults them in again.
    // Together: 0.21-0.23 ms of client CPU per request against 0.26-0.28 (super_resolution, 16 clients, 13:32).
    // GRPC_POLL_STRATEGY set in the environment wins.
    setenv("GRPC_POLL_STRATEGY", "poll", 0);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
  }
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln-loadgen: %s\n", e.what());
    return 2;
  }
}
