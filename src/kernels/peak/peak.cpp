// Dispatch and timing of the peak measurements (baseline code; the per-ISA loops are in peak_<isa>.cpp).

#include "kernels/peak/peak.h"

#include <cpuinfo.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include "base/error.h"
#include "kernels/thread_pool.h"

namespace kiln::kernels::peak {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The reference tier's loop: the same 12 chains as scalar multiply-adds (the compiler may pack them into SSE
// registers; that is what baseline code gets).
uint64_t peak_fma_f32_12x1_ref(uint64_t iterations, float* sink) {
  constexpr int kChains = 12;
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = static_cast<float>(c) * 0.01f;
  for (uint64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999999f + 1e-6f;
  float sum = 0;
  for (float a : acc) sum += a;
  *sink = sum;
  return iterations * kChains * 2;
}

// Iterations for one call of `loop` to take about `seconds` on one thread.
uint64_t calibrate(FmaLoop loop, double seconds) {
  float sink = 0;
  for (uint64_t it = uint64_t{1} << 12;; it *= 4) {
    auto start = Clock::now();
    loop(it, &sink);
    double took = seconds_since(start);
    if (took > seconds / 16 || it > (uint64_t{1} << 40))
      return std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(it) * seconds / std::max(took, 1e-9)));
  }
}

struct AlignedFloats {
  explicit AlignedFloats(size_t n)
      : data(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64)), std::free) {
    if (!data) fail(ErrorCode::kLimitExceeded, "could not allocate {} bytes for the bandwidth test", n * sizeof(float));
  }
  std::unique_ptr<float, decltype(&std::free)> data;
  float* get() const { return data.get(); }
};

}  // namespace

FmaLoop fma_loop(IsaTier tier) {
  if (!isa_available(tier))
    fail(ErrorCode::kUnsupported, "this CPU cannot run {} code (it supports up to {})", isa_name(tier),
         isa_name(detected_isa()));
#define KILN_PEAK_FMA(name, loop_tier, chains, lanes) \
  if (tier == IsaTier::loop_tier) return name;
#include "kernels/peak/peak_list.h"
#undef KILN_PEAK_FMA
  return peak_fma_f32_12x1_ref;
}

FmaPeak measure_fma_peak(IsaTier tier, size_t threads, double seconds_per_repeat) {
  FmaLoop loop = fma_loop(tier);
  FmaPeak peak;
  peak.tier = tier;
  const uint64_t iterations = calibrate(loop, seconds_per_repeat);
  constexpr int kRepeats = 3;  // best of: a shared machine's other work only ever makes a repeat slower
  float sink = 0;
  uint64_t flops_per_call = 0;
  for (int r = 0; r < kRepeats; ++r) {
    auto start = Clock::now();
    flops_per_call = loop(iterations, &sink);
    peak.gflops_one_thread =
        std::max(peak.gflops_one_thread, static_cast<double>(flops_per_call) / seconds_since(start) / 1e9);
  }
  ThreadPool pool(threads);
  peak.threads = pool.threads();
  if (peak.threads == 1) {
    peak.gflops_all_threads = peak.gflops_one_thread;
    return peak;
  }
  // One call per thread, all at once: the slowest thread's wall time counts.
  std::vector<float> sinks(peak.threads);
  pool.parallel_for(peak.threads, [&](size_t i) { loop(iterations / 64, &sinks[i]); });  // wakes the workers
  for (int r = 0; r < kRepeats; ++r) {
    auto start = Clock::now();
    pool.parallel_for(peak.threads, [&](size_t i) { loop(iterations, &sinks[i]); });
    double gflops = static_cast<double>(flops_per_call * peak.threads) / seconds_since(start) / 1e9;
    peak.gflops_all_threads = std::max(peak.gflops_all_threads, gflops);
  }
  pool.park_workers();
  return peak;
}

void triad_f32(float* a, const float* b, const float* c, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

size_t default_triad_bytes() {
  size_t llc = 0;
  if (cpuinfo_initialize()) {
    for (uint32_t i = 0; i < cpuinfo_get_l3_caches_count(); ++i) llc += cpuinfo_get_l3_cache(i)->size;
    if (llc == 0)
      for (uint32_t i = 0; i < cpuinfo_get_l2_caches_count(); ++i) llc += cpuinfo_get_l2_cache(i)->size;
  }
  return std::max<size_t>(size_t{256} << 20, 8 * llc);
}

Bandwidth measure_triad_bandwidth(size_t threads, size_t buffer_bytes, int repeats) {
  if (buffer_bytes == 0) buffer_bytes = default_triad_bytes();
  const size_t n = std::max<size_t>(buffer_bytes / (3 * sizeof(float)), 1024);
  ThreadPool pool(threads);
  Bandwidth bw;
  bw.buffer_bytes = 3 * n * sizeof(float);
  bw.threads = pool.threads();
  AlignedFloats a(n), b(n), c(n);
  // Chunks of whole cache lines, several per thread so a late thread does not hold the others up.
  const size_t chunks = bw.threads * 8;
  const size_t chunk = (n / chunks + 15) / 16 * 16;
  auto for_chunks = [&](ThreadPool* p, auto&& fn) {
    parallel_for(p, chunks, [&](size_t i) {
      size_t begin = std::min(n, i * chunk), end = std::min(n, begin + chunk);
      if (i + 1 == chunks) end = n;
      fn(begin, end);
    });
  };
  // Touched first by the threads that will use them (pages land near those threads on NUMA machines).
  for_chunks(&pool, [&](size_t begin, size_t end) {
    std::fill(a.get() + begin, a.get() + end, 0.0f);
    std::fill(b.get() + begin, b.get() + end, 1.0f);
    std::fill(c.get() + begin, c.get() + end, 2.0f);
  });
  const double bytes = static_cast<double>(bw.buffer_bytes);
  auto best = [&](ThreadPool* p) {
    double gbps = 0;
    for (int r = 0; r < std::max(1, repeats); ++r) {
      auto start = Clock::now();
      for_chunks(p, [&](size_t begin, size_t end) {
        triad_f32(a.get() + begin, b.get() + begin, c.get() + begin, 0.5f, end - begin);
      });
      gbps = std::max(gbps, bytes / seconds_since(start) / 1e9);
    }
    return gbps;
  };
  bw.gbps_one_thread = best(nullptr);
  bw.gbps_all_threads = bw.threads == 1 ? bw.gbps_one_thread : best(&pool);
  pool.park_workers();
  return bw;
}

}  // namespace kiln::kernels::peak
