// Whole-model timing for side-by-side comparisons (benchmarks/compare_ort_elementwise.py): one benchmark per
// model listed in KILN_BENCH_MODELS (comma-separated .onnx paths, fixed input shapes), run with
// KILN_BENCH_THREADS intra-op threads (default 1) on random float inputs in [-3, 3]. Nothing is registered
// when the variable is unset.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/session.h"

namespace {

double process_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

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
  // Per-run minimum and median besides the mean: on a shared machine the minimum is the least disturbed figure.
  // cpu_min_ms: the process's CPU time per run (the time it was not descheduled), the figure to compare at
  // one thread when other jobs share the cores.
  std::vector<double> ms, cpu;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_ms();
    benchmark::DoNotOptimize(session.run(feeds));
    cpu.push_back(process_cpu_ms() - c0);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  st.counters["min_ms"] = ms.front();
  st.counters["median_ms"] = ms[ms.size() / 2];
  st.counters["cpu_min_ms"] = *std::min_element(cpu.begin(), cpu.end());
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
