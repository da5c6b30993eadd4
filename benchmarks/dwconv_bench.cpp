// Depthwise kernels of dwconv_list.h and dwchan_list.h (and the reference) on MobileNet-v2/v3 layer shapes, one thread.
// Reports GFLOP/s (2 x multiply-adds of the valid taps counted as if every tap were valid).

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/dwchan/dwchan.h"
#include "kernels/dwconv/dwconv.h"
#include "kernels/isa.h"
#include "kernels/stemconv/stemconv.h"

namespace kiln::kernels {
namespace {

struct Layer {
  int64_t channels, size, kernel, stride;
};
constexpr Layer kLayers[] = {{32, 112, 3, 1}, {96, 112, 3, 2}, {144, 56, 3, 1}, {144, 56, 3, 2}, {192, 28, 3, 1},
                             {576, 14, 3, 1}, {960, 7, 3, 1},  {72, 56, 5, 2},  {120, 28, 5, 1}, {672, 14, 5, 2},
                             {192, 28, 3, 2}, {576, 14, 3, 2}, {960, 7, 5, 1}};

void run_layer(benchmark::State& state, DwConvFn fn, const Layer& l) {
  DwConvShape s;
  s.in_h = s.in_w = l.size;
  s.kernel_h = s.kernel_w = l.kernel;
  s.stride_h = s.stride_w = l.stride;
  s.pad_top = s.pad_left = l.kernel / 2;
  s.out_h = s.out_w = (l.size + 2 * (l.kernel / 2) - l.kernel) / l.stride + 1;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(static_cast<size_t>(l.channels * l.size * l.size)), w(static_cast<size_t>(l.channels * 25));
  std::vector<float> y(static_cast<size_t>(l.channels * s.out_h * s.out_w)), scratch;
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  DwConvArgs a;
  a.x = x.data(), a.w = w.data(), a.y = y.data();
  a.in_channels = a.channels = a.groups = l.channels;
  a.act.kind = Activation::kClip, a.act.alpha = 0, a.act.beta = 6;
  const bool chan = fn != dwconv_kernel(IsaTier::kRef) && fn != dwconv_kernel(IsaTier::kAvx2) &&
                    fn != dwconv_kernel(IsaTier::kAvx512);
  scratch.assign(chan ? dwchan_scratch_floats(s) : dwconv_scratch_floats(s, a), 0.0f);
  const int64_t items = chan ? dwchan_items(s, a) : a.items();
  for (auto _ : state) {
    fn(s, a, 0, items, scratch.data());
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * l.channels * s.out_h * s.out_w * l.kernel * l.kernel;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// RGB stems, 3x3 stride 2 pad 1 at 224x224 (MobileNets, EfficientNet) and pad 0 (SqueezeNet): dwconv's
// few-channel path against stemconv.
void run_stem(benchmark::State& state, DwConvFn fn, bool stem, int64_t out_channels, int64_t pad) {
  DwConvShape s;
  s.in_h = s.in_w = 224;
  s.kernel_h = s.kernel_w = 3;
  s.stride_h = s.stride_w = 2;
  s.pad_top = s.pad_left = pad;
  s.out_h = s.out_w = (224 + 2 * pad - 3) / 2 + 1;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(3 * 224 * 224), w(static_cast<size_t>(out_channels * 27));
  std::vector<float> y(static_cast<size_t>(out_channels * s.out_h * s.out_w));
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  DwConvArgs a;
  a.x = x.data(), a.w = w.data(), a.y = y.data();
  a.in_channels = 3, a.channels = out_channels, a.groups = 1;
  a.act.kind = Activation::kRelu;
  std::vector<float> scratch(stem ? stemconv_scratch_floats(s, a) : dwconv_scratch_floats(s, a), 0.0f);
  const int64_t items = stem ? stemconv_items(s, a) : a.items();
  for (auto _ : state) {
    fn(s, a, 0, items, scratch.data());
    benchmark::DoNotOptimize(y.data());
  }
  const double flops = 2.0 * out_channels * s.out_h * s.out_w * 27;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

struct Listed {
  const char* name;
  IsaTier tier;
};
constexpr Listed kListed[] = {
    {"dwconv_f32_ref", IsaTier::kRef},
#define KILN_DWCONV(name, tier, simd) {#name, IsaTier::tier},
#include "kernels/dwconv/dwconv_list.h"
#define KILN_DWCHAN(name, tier, simd) {#name, IsaTier::tier},
#include "kernels/dwchan/dwchan_list.h"
};

int register_all() {
  for (const Listed& k : kListed) {
    if (!isa_available(k.tier)) continue;
    for (const Layer& l : kLayers) {
      const std::string name = std::string(k.name) + "/c" + std::to_string(l.channels) + "_" + std::to_string(l.size) +
                               "_k" + std::to_string(l.kernel) + "_s" + std::to_string(l.stride);
      const bool chan = std::string(k.name).rfind("dwchan", 0) == 0;
      const DwConvFn fn = chan ? dwchan_kernel(k.tier) : dwconv_kernel(k.tier);
      benchmark::RegisterBenchmark(name.c_str(), [fn, l](benchmark::State& st) { run_layer(st, fn, l); });
    }
  }
  for (IsaTier tier : {IsaTier::kAvx2, IsaTier::kAvx512}) {
    if (!isa_available(tier)) continue;
    for (auto [m, pad] : {std::pair<int64_t, int64_t>{16, 1}, {32, 1}, {64, 0}})
      for (bool stem : {false, true}) {
        const std::string name = std::string(stem ? "stemconv_f32_" : "dwconv_f32_") + std::string(isa_name(tier)) +
                                 "/stem3to" + std::to_string(m) + "_224_k3_s2_p" + std::to_string(pad);
        const DwConvFn fn = stem ? stemconv_kernel(tier) : dwconv_kernel(tier);
        benchmark::RegisterBenchmark(name.c_str(),
                                     [fn, stem, m, pad](benchmark::State& st) { run_stem(st, fn, stem, m, pad); });
      }
  }
  return 0;
}
const int kRegistered = register_all();

}  // namespace
}  // namespace kiln::kernels
