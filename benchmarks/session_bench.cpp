// Whole-model timing for side-by-side comparisons (benchmarks/compare_ort_elementwise.py): one benchmark per
// model listed in KILN_BENCH_MODELS (comma-separated .onnx paths, fixed input shapes), run with
// KILN_BENCH_THREADS intra-op threads (default 1) on random float inputs in [-3, 3]. Nothing is registered
// when the variable is unset.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <sstream>
#include <string>

#include "kiln/session.h"

namespace {

void bench_session(benchmark::State& st, const std::string& path, int threads) {
  kiln::SessionOptions opts;
  opts.intra_op_threads = threads;
  kiln::Session session = kiln::Session::from_file(path, opts);
  kiln::NamedTensors feeds;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  for (const kiln::IoInfo& in : session.inputs()) {
    kiln::Tensor t(in.dtype, in.shape.values());
    for (float& v : t.span<float>()) v = u(rng);
    feeds.emplace_back(in.name, std::move(t));
  }
  session.run(feeds);  // plan and prepare outside the timing
  for (auto _ : st) benchmark::DoNotOptimize(session.run(feeds));
}

int register_models() {
  const char* models = std::getenv("KILN_BENCH_MODELS");
  if (!models) return 0;
  const char* t = std::getenv("KILN_BENCH_THREADS");
  const int threads = t ? std::atoi(t) : 1;
  std::stringstream list(models);
  std::string path;
  while (std::getline(list, path, ',')) {
    if (path.empty()) continue;
    const std::string name = "session/" + path.substr(path.find_last_of('/') + 1) + "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(name.c_str(), bench_session, path, threads)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  return 0;
}

const int registered = register_models();

}  // namespace
