// Dispatch and timing of the peak measurements (baseline code; the per-ISA loops are in peak_<isa>.cpp).

#include "kernels/peak/peak.h"

#include <cpuinfo.h>

#include <algorithm>
#include <ctime>
#include <cstdlib>
#include <memory>
#include <vector>

#include "base/error.h"
#include "kernels/thread_pool.h"

namespace kiln::kernels::peak {

namespace {

// CPU time of the calling thread. The peaks are rates per second of CPU actually given to the measuring
// thread, so they stay true on a machine whose cores are shared with other work (a build, other benchmarks):
// there wall time would count the time slices other processes got.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
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
    double start = thread_cpu_seconds();
    loop(it, &sink);
    double took = thread_cpu_seconds() - start;
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
  constexpr int kRepeats = 3;  // best of: other work on the machine only ever makes a repeat slower
  // GFLOP per CPU-second of one call on the calling thread.
  auto timed_call = [&](float* sink) {
    double start = thread_cpu_seconds();
    uint64_t flops = loop(iterations, sink);
    return static_cast<double>(flops) / std::max(thread_cpu_seconds() - start, 1e-9) / 1e9;
  };
  float sink = 0;
  for (int r = 0; r < kRepeats; ++r) peak.gflops_one_thread = std::max(peak.gflops_one_thread, timed_call(&sink));
  ThreadPool pool(threads);
  peak.threads = pool.threads();
  if (peak.threads == 1) {
    peak.gflops_all_threads = peak.gflops_one_thread;
    return peak;
  }
  // One call per thread, all at once; each thread's rate over its own CPU time, summed. Two threads sharing
  // one core (SMT) each get half its rate, so the sum stays what the cores can do together.
  std::vector<float> sinks(peak.threads);
  std::vector<double> rates(peak.threads);
  for (int r = 0; r < kRepeats; ++r) {
    pool.parallel_for(peak.threads, [&](size_t i) { rates[i] = timed_call(&sinks[i]); });
    double sum = 0;
    for (double g : rates) sum += g;
    peak.gflops_all_threads = std::max(peak.gflops_all_threads, sum);
  }
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
  const size_t n = std::max<size_t>((buffer_bytes + 3 * sizeof(float) - 1) / (3 * sizeof(float)), 1024);
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
      fn(i, begin, end);
    });
  };
  // Touched first by the threads that will use them (pages land near those threads on NUMA machines).
  for_chunks(&pool, [&](size_t, size_t begin, size_t end) {
    std::fill(a.get() + begin, a.get() + end, 0.0f);
    std::fill(b.get() + begin, b.get() + end, 1.0f);
    std::fill(c.get() + begin, c.get() + end, 2.0f);
  });
  // Bytes per CPU-second of the threads that moved them (see thread_cpu_seconds), summed over threads.
  std::vector<double> bytes(chunks), cpu(chunks);
  auto best = [&](ThreadPool* p) {
    double gbps = 0;
    for (int r = 0; r < std::max(1, repeats); ++r) {
      std::fill(bytes.begin(), bytes.end(), 0.0);
      for_chunks(p, [&](size_t i, size_t begin, size_t end) {
        double start = thread_cpu_seconds();
        triad_f32(a.get() + begin, b.get() + begin, c.get() + begin, 0.5f, end - begin);
        cpu[i] = thread_cpu_seconds() - start;
        bytes[i] = static_cast<double>(end - begin) * 3 * sizeof(float);
      });
      // Each thread's chunks run one after another: rate = total bytes / total CPU time, over all chunks
      // that is sum(bytes) / (sum(cpu) / threads) when the threads overlap.
      double total_bytes = 0, total_cpu = 0;
      for (size_t i = 0; i < chunks; ++i) {
        total_bytes += bytes[i];
        total_cpu += cpu[i];
      }
      const double overlap = p ? static_cast<double>(p->threads()) : 1.0;
      gbps = std::max(gbps, total_bytes / std::max(total_cpu / overlap, 1e-9) / 1e9);
    }
    return gbps;
  };
  bw.gbps_one_thread = best(nullptr);
  bw.gbps_all_threads = bw.threads == 1 ? bw.gbps_one_thread : best(&pool);
  return bw;
}

}  // namespace kiln::kernels::peak
