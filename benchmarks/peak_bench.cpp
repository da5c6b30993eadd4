// The machine's limits as micro-benchmarks (kernels/peak): each FMA loop of peak_list.h (GFLOP/s in the
// "FLOPS" counter) and the triad at working sets from L1 to DRAM (bytes_per_second). A kernel's benchmark
// reads best next to these, measured in the same process.
//
//   build/kiln_microbench --benchmark_filter='Peak'

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <vector>

#include "kernels/isa.h"
#include "kernels/peak/peak.h"

namespace {

using kiln::kernels::IsaTier;
using kiln::kernels::peak::FmaLoop;

void PeakFma(benchmark::State& state, IsaTier tier, FmaLoop loop) {
  if (!kiln::kernels::isa_available(tier)) {
    state.SkipWithError("this CPU lacks the tier");
    return;
  }
  constexpr uint64_t kIterations = 1 << 16;
  float sink = 0;
  uint64_t flops = 0;
  for (auto _ : state) {
    flops += loop(kIterations, &sink);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["FLOPS"] = benchmark::Counter(static_cast<double>(flops), benchmark::Counter::kIsRate);
}

#define KILN_PEAK_FMA(name, tier, chains, lanes) \
  BENCHMARK_CAPTURE(PeakFma, name, IsaTier::tier, kiln::kernels::peak::name);
#include "kernels/peak/peak_list.h"
#undef KILN_PEAK_FMA
BENCHMARK_CAPTURE(PeakFma, peak_fma_f32_12x1_ref, IsaTier::kRef, kiln::kernels::peak::fma_loop(IsaTier::kRef));

// Triad over three arrays of state.range(0) bytes together.
void PeakTriad(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0)) / (3 * sizeof(float));
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  for (auto _ : state) {
    kiln::kernels::peak::triad_f32(a.data(), b.data(), c.data(), 0.5f, n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n * 3 * sizeof(float)));
}
BENCHMARK(PeakTriad)->Arg(24 << 10)->Arg(384 << 10)->Arg(8 << 20)->Arg(256 << 20);

}  // namespace
