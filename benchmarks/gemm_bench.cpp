// GEMM micro-benchmarks over gemm_list.h: GFLOP/s of gemm_f32 on square and inference shapes (CNN convolutions
// with prepacked weights as A, transformer layers with prepacked weights as B, batched attention heads with
// nothing prepacked, M = 1), at 1 and 2 threads, for every kernel this CPU runs; and `peak%`, the share of the
// FMA peak measured in the same run by the kernel's own register-only probe (fma_peak/<kernel>/<threads>).
//   build/kiln_microbench --benchmark_filter=gemm
// benchmarks/gemm_numpy.py times NumPy (OpenBLAS) on the same shapes for comparison.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_kernel.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"

namespace kiln::kernels {
namespace {

/// Best of three runs of the kernel's FMA probe on `threads` threads at once, in FLOP/s.
double measure_peak(const GemmKernelEntry& k, int threads) {
  static std::map<std::pair<const char*, int>, double> cache;
  if (auto it = cache.find({k.name, threads}); it != cache.end()) return it->second;
  const GemmMicroKernel& code = *k.code();
  ThreadPool pool(static_cast<size_t>(threads));
  float sink[2] = {};
  code.fma_probe(1 << 20, sink);  // warm up (clock ramp)
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const int64_t iters = int64_t{1} << 24;
    int64_t flops[2] = {};
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(static_cast<size_t>(threads), [&](size_t i) { flops[i] = code.fma_probe(iters, &sink[i]); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(flops[0] + flops[1]) / s);
  }
  benchmark::DoNotOptimize(sink);
  return cache[{k.name, threads}] = best;
}

void fma_peak(benchmark::State& state, int kernel, int threads) {
  const GemmKernelEntry& k = gemm_kernel_entries()[kernel];
  double peak = 0;
  for (auto _ : state) peak = measure_peak(k, threads);
  state.counters["GFLOP/s"] = peak / 1e9;
}

/// The full-size tile alone, its operands hot in L1: what the micro-kernel reaches before memory and blocking.
void tile_in_l1(benchmark::State& state, int kernel, int64_t kc) {
  const GemmKernelEntry& k = gemm_kernel_entries()[kernel];
  const GemmMicroKernel& code = *k.code();
  std::vector<float> a(static_cast<size_t>(kc * k.mr), 0.5f), b(static_cast<size_t>(kc * k.nr), 0.25f);
  std::vector<float> c(static_cast<size_t>(k.mr * k.nr));
  GemmTile t;
  t.c = c.data();
  t.ldc = k.nr;
  t.cols = k.nr;
  for (auto _ : state) {
    code.tiles[kPackedPanel][k.mr - 1][1](kc, a.data(), b.data(), t);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(k.mr * k.nr * kc);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] =
      benchmark::Counter(flops * 100 / measure_peak(k, 1), benchmark::Counter::kIsIterationInvariantRate);
}

/// The full-size tile over a kc x 256 block of B in L2 (16 tiles per A panel, as in gemm_f32) with C rows `ldc`
/// apart: the micro-kernel's speed once B streams from L2.
void tile_in_l2(benchmark::State& state, int kernel, int64_t kc, int64_t ldc, bool b_outer) {
  const GemmKernelEntry& k = gemm_kernel_entries()[kernel];
  const GemmMicroKernel& code = *k.code();
  const int64_t nc = 256, panels = nc / k.nr, apanels = b_outer ? 24 : 8;
  std::vector<float> a(static_cast<size_t>(kc * k.mr * apanels), 0.5f), b(static_cast<size_t>(kc * nc), 0.25f);
  std::vector<float> c(static_cast<size_t>(k.mr * apanels * ldc));
  GemmTile t;
  t.ldc = ldc;
  t.cols = k.nr;
  for (auto _ : state) {
    for (int64_t x = 0; x < apanels * panels; ++x) {
      const int64_t i = b_outer ? x % apanels : x / panels, p = b_outer ? x / apanels : x % panels;
      t.c = c.data() + i * k.mr * ldc + p * k.nr;
      code.tiles[kPackedPanel][k.mr - 1][1](kc, a.data() + i * kc * k.mr, b.data() + p * kc * k.nr, t);
    }
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(k.mr * k.nr * kc * panels * apanels);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] =
      benchmark::Counter(flops * 100 / measure_peak(k, 1), benchmark::Counter::kIsIterationInvariantRate);
}

enum class Packed { kNone, kA, kB };

struct Shape {
  const char* group;
  int64_t M, N, K, batch;
  Packed packed;
  bool trans_b;
  bool relu = false;  ///< fused ReLU (applied by kernels::apply_activation_f32)
};

/// A 3x3 stride-1 pad-1 convolution's input windows as B (rows c*9 + kh*3 + kw, columns y*W + x): implicit GEMM.
struct Im2col {
  const float* x;
  int64_t C, H, W;
  static void fill(const void* ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) {
    const auto& s = *static_cast<const Im2col*>(ctx);
    for (int64_t k = k0; k < k0 + kc; ++k) {
      const int64_t c = k / 9, dy = k / 3 % 3 - 1, dx = k % 3 - 1;
      float* out = dst + (k - k0) * ld;
      for (int64_t n = n0; n < n0 + nc; ++n) {
        const int64_t y = n / s.W + dy, x = n % s.W + dx;
        out[n - n0] = y >= 0 && y < s.H && x >= 0 && x < s.W ? s.x[(c * s.H + y) * s.W + x] : 0.0f;
      }
    }
  }
};

void run_gemm(benchmark::State& state, int kernel, Shape s, int threads, bool source) {
  const GemmKernelEntry& k = gemm_kernel_entries()[kernel];
  const IsaTier saved = active_isa();
  set_isa_cap(k.tier);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  auto random = [&](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = u(rng);
    return v;
  };
  std::vector<float> A = random(s.batch * s.M * s.K), B = random(s.batch * s.K * s.N), C(s.batch * s.M * s.N);
  std::vector<float> bias = random(s.M);
  GemmArgs g;
  g.M = s.M;
  g.N = s.N;
  g.K = s.K;
  g.batch = s.batch;
  g.a = {A.data(), s.K, false};
  g.b = {B.data(), s.trans_b ? s.K : s.N, s.trans_b};
  g.c = C.data();
  g.ldc = s.N;
  g.stride_a = s.M * s.K;
  g.stride_b = s.K * s.N;
  g.stride_c = s.M * s.N;
  PackedGemmOperand pa, pb;
  if (s.packed == Packed::kA) {
    pa = pack_gemm_operand(GemmSide::kA, g.a, s.M, s.K);
    g.packed_a = &pa;
    g.epilogue.bias = bias.data();  // a convolution's per-channel bias
    g.epilogue.bias_axis = GemmEpilogue::BiasAxis::kPerRow;
  }
  if (s.relu) g.epilogue.activation.kind = Activation::kRelu;
  if (s.packed == Packed::kB) {
    pb = pack_gemm_operand(GemmSide::kB, g.b, s.K, s.N);
    g.packed_b = &pb;
  }
  Im2col im2col{B.data(), s.K / 9, 0, 0};
  GemmBSource src{&Im2col::fill, &im2col};
  if (source) {
    im2col.H = im2col.W = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(s.N))));
    g.b_source = &src;
  }
  ThreadPool pool(static_cast<size_t>(threads));
  gemm_f32(g, &pool);  // warm the packing buffers
  for (auto _ : state) {
    gemm_f32(g, &pool);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(s.batch * s.M * s.N * s.K);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] = benchmark::Counter(flops * 100 / measure_peak(k, threads),
                                               benchmark::Counter::kIsIterationInvariantRate);
  pool.park_workers();
  set_isa_cap(saved);
}

// Shapes of batch-1 inference: ResNet-50's convolutions (A = weights [Cout, Cin*kh*kw], B = [K, H*W]), a
// MobileNet-style stem, ViT-B/BERT-base layers (A = tokens x hidden, B = weights), attention heads (12 x S x S x 64).
const Shape kShapes[] = {
    {"square", 256, 256, 256, 1, Packed::kNone, false},    {"square", 512, 512, 512, 1, Packed::kNone, false},
    {"square", 1024, 1024, 1024, 1, Packed::kNone, false}, {"square", 2048, 2048, 2048, 1, Packed::kNone, false},
    {"conv", 64, 12544, 147, 1, Packed::kA, false},        {"conv", 32, 50176, 27, 1, Packed::kA, false},
    {"conv", 64, 3136, 576, 1, Packed::kA, false},         {"conv", 256, 3136, 64, 1, Packed::kA, false},
    {"conv", 128, 784, 1152, 1, Packed::kA, false},        {"conv", 256, 196, 2304, 1, Packed::kA, false},
    {"conv", 512, 49, 4608, 1, Packed::kA, false},         {"conv", 2048, 49, 512, 1, Packed::kA, false},
    {"transformer", 197, 768, 768, 1, Packed::kB, false},  {"transformer", 197, 3072, 768, 1, Packed::kB, false},
    {"transformer", 197, 768, 3072, 1, Packed::kB, false}, {"transformer", 128, 2304, 768, 1, Packed::kB, false},
    {"transformer", 512, 768, 768, 1, Packed::kB, false},  {"gemv", 1, 768, 768, 1, Packed::kB, false},
    {"gemv", 1, 3072, 768, 1, Packed::kB, false},          {"gemv", 1, 768, 3072, 1, Packed::kB, false},
    {"heads_qk", 197, 197, 64, 12, Packed::kNone, true},   {"heads_pv", 197, 64, 197, 12, Packed::kNone, false},
    {"conv_relu", 64, 3136, 576, 1, Packed::kA, false, true},
};

int register_all() {
  const auto entries = gemm_kernel_entries();
  for (int i = 0; i < static_cast<int>(entries.size()); ++i) {
    if (!isa_available(entries[i].tier) || entries[i].tier == IsaTier::kRef) continue;
    const std::string kname = entries[i].name;
    for (int64_t kc : {64, 256})
      benchmark::RegisterBenchmark(("tile/" + kname + "/kc" + std::to_string(kc)).c_str(), tile_in_l1, i, kc)
          ->UseRealTime();
    for (int64_t ldc : {256, 1024, 1000})
      for (bool b_outer : {false, true})
        benchmark::RegisterBenchmark(
            ("tile_l2/" + kname + (b_outer ? "/a_streams" : "/b_streams") + "/kc256/ldc" + std::to_string(ldc)).c_str(),
            tile_in_l2, i, int64_t{256}, ldc, b_outer)
            ->UseRealTime();
    for (int t : {1, 2}) {
      benchmark::RegisterBenchmark(("fma_peak/" + kname + "/t" + std::to_string(t)).c_str(), fma_peak, i, t)
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
      for (const Shape& s : kShapes) {
        const std::string name = "gemm/" + kname + "/" + s.group + "/" + std::to_string(s.M) + "x" +
                                 std::to_string(s.N) + "x" + std::to_string(s.K) +
                                 (s.batch > 1 ? "x" + std::to_string(s.batch) : "") + "/t" + std::to_string(t);
        benchmark::RegisterBenchmark(name.c_str(), run_gemm, i, s, t, false)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
      // The 3x3 convolution again with B gathered by a source (implicit GEMM) instead of read from memory.
      benchmark::RegisterBenchmark(("gemm/" + kname + "/conv_source/64x3136x576/t" + std::to_string(t)).c_str(),
                                   run_gemm, i, Shape{"conv", 64, 3136, 576, 1, Packed::kA, false}, t, true)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
  return 0;
}

[[maybe_unused]] const int registered = register_all();

}  // namespace
}  // namespace kiln::kernels
