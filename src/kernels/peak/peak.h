#pragma once
// What this machine can do at most, measured rather than looked up: FP32 FMA throughput (a register-only loop
// of independent FMA chains) and memory bandwidth (a STREAM-style triad over buffers far larger than the
// last-level cache). `kiln info --measure` prints them; `kiln bench` and the side-by-side benchmark
// (scripts/bench) state a model's GFLOP/s as a share of the peak measured in the same run, because the CPU
// behind this machine changes from day to day.
//
// Rates are per second of CPU time the measuring threads got (CLOCK_THREAD_CPUTIME_ID), not of wall time: on
// a machine whose cores are shared with other work, wall time would count other processes' time slices and
// the "peak" would depend on the load. Threads' rates are summed for the all-threads figures.

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

namespace kiln::kernels::peak {

// The per-ISA loops of peak_list.h: `iterations` rounds of register-only FMAs, returns the flops done. Call
// one only when isa_available() says its tier runs on this CPU.
#define KILN_PEAK_FMA(name, tier, chains, lanes) uint64_t name(uint64_t iterations, float* sink);
#include "kernels/peak/peak_list.h"
#undef KILN_PEAK_FMA

using FmaLoop = uint64_t (*)(uint64_t iterations, float* sink);

/// The FMA loop of `tier`; kRef is a scalar multiply-add loop on baseline x86-64 instructions. Throws
/// Error(kUnsupported) for a tier this CPU lacks.
FmaLoop fma_loop(IsaTier tier);

struct FmaPeak {
  IsaTier tier = IsaTier::kRef;  ///< whose loop was measured
  size_t threads = 1;            ///< threads of the all-threads figure
  double gflops_one_thread = 0;  ///< best of the timed repeats
  double gflops_all_threads = 0;
};

/// Measures the FP32 FMA peak with `tier`'s loop on one thread, then on `threads` threads at once
/// (0 = usable_cpus()). Takes about 3 x (1 + [threads > 1]) x seconds_per_repeat.
FmaPeak measure_fma_peak(IsaTier tier, size_t threads = 0, double seconds_per_repeat = 0.2);

struct Bandwidth {
  size_t buffer_bytes = 0;  ///< the three arrays together
  size_t threads = 1;
  double gbps_one_thread = 0;  ///< 10^9 bytes/s, STREAM's count: 12 bytes per element (2 reads, 1 write)
  double gbps_all_threads = 0;
};

/// Bytes of triad buffers far larger than the caches: 8 x the last-level cache, at least 256 MiB.
size_t default_triad_bytes();

/// Triad a[i] = b[i] + s * c[i] over three float arrays of `buffer_bytes` together (0 = default_triad_bytes()),
/// on one thread then on `threads` (0 = usable_cpus()); best of `repeats` passes each.
Bandwidth measure_triad_bandwidth(size_t threads = 0, size_t buffer_bytes = 0, int repeats = 5);

/// One triad pass a[i] = b[i] + s * c[i], i in [0, n) (baseline code: memory-bound, wider registers do not
/// help). Exposed for the micro-benchmarks.
void triad_f32(float* a, const float* b, const float* c, float s, size_t n);

}  // namespace kiln::kernels::peak
