// The linear layers of the benchmark suite's small transformers (make bench: ViT-tiny, BERT-mini, GPT-mini) as
// their prepared MatMul runs them: gemm_f32 with the weight prepacked as B, at 1 and 2 threads. Both clocks are
// reported: `cpu_us` is the process CPU time per call (all threads: at 2 threads, whatever one thread waits or
// repeats shows up here even when the machine is too loaded for wall time to mean anything), and the usual
// wall-time column. GFLOP/s per second of wall time.
//   build/kiln_microbench --benchmark_filter=transformer_linear

#include <benchmark/benchmark.h>

#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/thread_pool.h"

namespace kiln::kernels {
namespace {

struct Linear {
  const char* name;
  int64_t M, N, K;
};

// tokens x (in -> out): ViT-tiny 197 tokens, dim 192, MLP 768; BERT-/GPT-mini 128 tokens, dim 256, MLP 1024.
constexpr Linear kLinears[] = {
    {"vit_qkv", 197, 576, 192}, {"vit_fc1", 197, 768, 192}, {"vit_fc2", 197, 192, 768}, {"vit_out", 197, 192, 192},
    {"bert_qkv", 128, 768, 256}, {"bert_fc1", 128, 1024, 256}, {"bert_fc2", 128, 256, 1024},
    {"bert_out", 128, 256, 256}, {"gpt_head", 128, 1000, 256},
};

double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void transformer_linear(benchmark::State& state, Linear l, int threads) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(l.M * l.K)), b(static_cast<size_t>(l.K * l.N)), c(static_cast<size_t>(l.M * l.N));
  for (float& v : a) v = u(rng);
  for (float& v : b) v = u(rng);
  const PackedGemmOperand pb = pack_gemm_operand(GemmSide::kB, MatrixRef{b.data(), l.N, false}, l.K, l.N);
  GemmArgs g;
  g.M = l.M;
  g.N = l.N;
  g.K = l.K;
  g.a = MatrixRef{a.data(), l.K, false};
  g.packed_b = &pb;
  g.c = c.data();
  g.ldc = l.N;
  ThreadPool pool(static_cast<size_t>(threads));
  gemm_f32(g, &pool);  // warm the buffers
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    gemm_f32(g, &pool);
    benchmark::ClobberMemory();
  }
  const double cpu = process_cpu_seconds() - cpu0;
  const double flops = 2.0 * static_cast<double>(l.M * l.N * l.K);
  state.counters["cpu_us"] = cpu * 1e6 / static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

int register_all() {
  for (const Linear& l : kLinears)
    for (int t : {1, 2})
      benchmark::RegisterBenchmark((std::string("transformer_linear/") + l.name + "/t" + std::to_string(t)).c_str(),
                                   transformer_linear, l, t)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  return 0;
}
const int registered = register_all();

}  // namespace
}  // namespace kiln::kernels
