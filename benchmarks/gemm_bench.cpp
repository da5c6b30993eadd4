// GEMM micro-benchmarks over gemm_list.h: GFLOP/s of gemm_f32 on square and inference shapes (CNN convolutions
// with prepacked weights as A, transformer layers with prepacked weights as B, batched attention heads with
// nothing prepacked, M = 1), at 1 and 2 threads, for every kernel this CPU runs; and `peak%`, the share of the
// FMA peak of the kernel's tier measured in the same run (kernels/peak: register-only FMA chains), also shown
// on its own as fma_peak/<kernel>/t<threads>. The tile alone (operands in L1, B streaming from L2) shows what
// the micro-kernel reaches before memory and blocking.
//   build/kiln_microbench --benchmark_filter=gemm
// At 1 thread the rates are per second of the thread's CPU time, like the peak's (the machine is shared: other
// processes' time slices are not the kernel's); at 2 threads, per second of wall time (the slower thread
// decides). benchmarks/gemm_numpy.py times NumPy (OpenBLAS) on the same shapes for comparison.

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
#include "kernels/peak/peak.h"
#include "kernels/thread_pool.h"
#include "ops/conv_implicit_gemm.h"

namespace kiln::kernels {
namespace {

/// The FMA peak of the kernel's tier on `threads` threads (GFLOP/s), measured once per run.
double measure_peak(const GemmKernelEntry& k, int threads) {
  static std::map<IsaTier, peak::FmaPeak> cache;
  auto it = cache.find(k.tier);
  if (it == cache.end()) it = cache.emplace(k.tier, peak::measure_fma_peak(k.tier, 2, 0.1)).first;
  return (threads == 1 ? it->second.gflops_one_thread : it->second.gflops_all_threads) * 1e9;
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

/// The full-size tile over a kc x 256 block of B in L2, as gemm_f32 runs it: each A panel passes over the 16
/// B panels of the block. The micro-kernel's speed once B streams from L2.
void tile_in_l2(benchmark::State& state, int kernel, int64_t kc) {
  const GemmKernelEntry& k = gemm_kernel_entries()[kernel];
  const GemmMicroKernel& code = *k.code();
  const int64_t nc = 256, panels = nc / k.nr, apanels = 8, ldc = nc;
  std::vector<float> a(static_cast<size_t>(kc * k.mr * apanels), 0.5f), b(static_cast<size_t>(kc * nc), 0.25f);
  std::vector<float> c(static_cast<size_t>(k.mr * apanels * ldc));
  GemmTile t;
  t.ldc = ldc;
  t.cols = k.nr;
  for (auto _ : state) {
    for (int64_t i = 0; i < apanels; ++i)
      for (int64_t p = 0; p < panels; ++p) {
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
  bool relu = false;  ///< fused ReLU (applied in the tiles' registers)
  bool silu = false;  ///< fused SiLU (applied in the tiles' registers)
  bool silu_after = false;  ///< SiLU by apply_activation_f32 over the stored C (the pass the tiles' SiLU saves)
};

/// A 3x3 stride-1 pad-1 convolution over a square image (K = channels * 9, N = side^2) as an implicit GEMM: B is
/// gathered from the image by the convolution's own fill (ops/conv_implicit_gemm.h).
ops::ConvDims conv3x3(int64_t channels, int64_t side) {
  ops::ConvDims d;
  d.batch = 1;
  d.in_channels = channels;
  d.in[1] = d.in[2] = d.out[1] = d.out[2] = side;
  d.kernel[1] = d.kernel[2] = 3;
  d.pad_begin[1] = d.pad_begin[2] = d.pad_end[1] = d.pad_end[2] = 1;
  return d;
}

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
  if (s.silu) g.epilogue.activation.kind = Activation::kSilu;
  ActivationParams silu;
  silu.kind = Activation::kSilu;
  if (s.packed == Packed::kB) {
    pb = pack_gemm_operand(GemmSide::kB, g.b, s.K, s.N);
    g.packed_b = &pb;
  }
  const ops::ConvDims dims = conv3x3(s.K / 9, static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(s.N)))));
  const ops::ConvColumns columns(B.data(), dims);
  const GemmBSource src{ops::fill_conv_columns, &columns};
  if (source) g.b_source = &src;
  ThreadPool pool(static_cast<size_t>(threads));
  gemm_f32(g, &pool);  // warm the packing buffers
  for (auto _ : state) {
    gemm_f32(g, &pool);
    if (s.silu_after) apply_activation_f32(silu, C.data(), C.data(), static_cast<int64_t>(C.size()));
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(s.batch * s.M * s.N * s.K);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] = benchmark::Counter(flops * 100 / measure_peak(k, threads),
                                               benchmark::Counter::kIsIterationInvariantRate);
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
    // MobileNet-v2's 1x1 convolutions: expansions and projections at 112x112 down to 7x7.
    {"mobile", 96, 12544, 16, 1, Packed::kA, false},       {"mobile", 144, 3136, 24, 1, Packed::kA, false},
    {"mobile", 24, 3136, 144, 1, Packed::kA, false},       {"mobile", 576, 196, 96, 1, Packed::kA, false},
    {"mobile", 96, 196, 576, 1, Packed::kA, false},        {"mobile", 960, 49, 160, 1, Packed::kA, false},
    {"mobile", 160, 49, 960, 1, Packed::kA, false},        {"mobile", 1280, 49, 320, 1, Packed::kA, false},
    // The same 1x1 convolutions channels-last (ConvNhwc: A = the activations in place, M = pixels; B = the
    // weights prepacked): MobileNet-v2's at 112x112 (16 -> 96, 32 -> 16), 56x56, 28x28 and 7x7.
    {"mobile_nhwc", 12544, 96, 16, 1, Packed::kB, false, true}, {"mobile_nhwc", 12544, 16, 32, 1, Packed::kB, false},
    {"mobile_nhwc", 3136, 144, 24, 1, Packed::kB, false, true},  {"mobile_nhwc", 3136, 24, 144, 1, Packed::kB, false},
    {"mobile_nhwc", 784, 192, 32, 1, Packed::kB, false, true},   {"mobile_nhwc", 49, 1280, 320, 1, Packed::kB, false, true},
    // SqueezeNet 1.1's 1x1 convolutions (squeeze, expand1x1, the classifier) and ResNet-50's (bottleneck ends).
    {"squeeze", 16, 3025, 64, 1, Packed::kA, false, true},   {"squeeze", 64, 3025, 16, 1, Packed::kA, false, true},
    {"squeeze", 32, 729, 128, 1, Packed::kA, false, true},   {"squeeze", 128, 729, 32, 1, Packed::kA, false, true},
    {"squeeze", 48, 169, 256, 1, Packed::kA, false, true},   {"squeeze", 192, 169, 48, 1, Packed::kA, false, true},
    {"squeeze", 64, 169, 512, 1, Packed::kA, false, true},   {"squeeze", 1000, 169, 512, 1, Packed::kA, false, true},
    {"resnet1x1", 64, 3136, 256, 1, Packed::kA, false, true}, {"resnet1x1", 256, 784, 128, 1, Packed::kA, false},
    {"resnet1x1", 128, 784, 512, 1, Packed::kA, false, true}, {"resnet1x1", 1024, 196, 256, 1, Packed::kA, false},
    {"resnet1x1", 256, 196, 1024, 1, Packed::kA, false, true}, {"resnet1x1", 512, 196, 1024, 1, Packed::kA, false, true},
    {"resnet1x1", 2048, 49, 512, 1, Packed::kA, false},     {"resnet1x1", 512, 49, 2048, 1, Packed::kA, false, true},
    // Planes of 32x32 and 64x64: B's rows 4 KiB and 16 KiB apart (the same cache sets when read in place).
    {"pow2", 64, 1024, 256, 1, Packed::kA, false, true},     {"pow2", 64, 4096, 256, 1, Packed::kA, false, true},
    {"pow2", 128, 1024, 128, 1, Packed::kA, false, true},
    // EfficientNet-b0's 1x1 expansions and head, each followed by SiLU: in the tiles' registers, and as a pass
    // over the stored output (what the tiles' SiLU replaces).
    {"effnet_silu", 96, 12544, 16, 1, Packed::kA, false, false, true},
    {"effnet_silu", 144, 3136, 24, 1, Packed::kA, false, false, true},
    {"effnet_silu", 240, 784, 40, 1, Packed::kA, false, false, true},
    {"effnet_silu", 1280, 49, 320, 1, Packed::kA, false, false, true},
    {"effnet_silu_after", 96, 12544, 16, 1, Packed::kA, false, false, false, true},
    {"effnet_silu_after", 144, 3136, 24, 1, Packed::kA, false, false, false, true},
    {"effnet_silu_after", 240, 784, 40, 1, Packed::kA, false, false, false, true},
    {"effnet_silu_after", 1280, 49, 320, 1, Packed::kA, false, false, false, true},
};

int register_all() {
  const auto entries = gemm_kernel_entries();
  for (int i = 0; i < static_cast<int>(entries.size()); ++i) {
    if (!isa_available(entries[i].tier) || entries[i].tier == IsaTier::kRef) continue;
    const std::string kname = entries[i].name;
    for (int64_t kc : {64, 256})
      benchmark::RegisterBenchmark(("tile/" + kname + "/kc" + std::to_string(kc)).c_str(), tile_in_l1, i, kc);
    benchmark::RegisterBenchmark(("tile_l2/" + kname + "/kc256").c_str(), tile_in_l2, i, int64_t{256});
    for (int t : {1, 2}) {
      benchmark::RegisterBenchmark(("fma_peak/" + kname + "/t" + std::to_string(t)).c_str(), fma_peak, i, t)
          ->Iterations(1)
          ->Unit(benchmark::kMillisecond);
      auto add = [&](const std::string& name, const Shape& s, bool source) {
        auto* b = benchmark::RegisterBenchmark(name.c_str(), run_gemm, i, s, t, source)->Unit(benchmark::kMicrosecond);
        if (t > 1) b->UseRealTime();
      };
      for (const Shape& s : kShapes)
        add("gemm/" + kname + "/" + s.group + "/" + std::to_string(s.M) + "x" + std::to_string(s.N) + "x" +
                std::to_string(s.K) + (s.batch > 1 ? "x" + std::to_string(s.batch) : "") + "/t" + std::to_string(t),
            s, false);
      // The 3x3 convolution again with B gathered from the image by the convolution's fill (implicit GEMM).
      add("gemm/" + kname + "/conv_source/64x3136x576/t" + std::to_string(t),
          Shape{"conv", 64, 3136, 576, 1, Packed::kA, false}, true);
    }
  }
  return 0;
}

[[maybe_unused]] const int registered = register_all();

}  // namespace
}  // namespace kiln::kernels
