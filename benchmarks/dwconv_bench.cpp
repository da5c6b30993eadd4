// Depthwise kernels of dwconv_list.h, dwchan_list.h (NCHW) and dwnhwc_list.h (NHWC) (and the reference) on the
// depthwise layers of MobileNet-v2, MobileNet-v3-large and EfficientNet-b0 (torchvision, 224x224), one thread.
// Reports GFLOP/s (2 x multiply-adds of the valid taps counted as if every tap were valid).

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/dwchan/dwchan.h"
#include "kernels/dwconv/dwconv.h"
#include "kernels/dwnhwc/dwnhwc.h"
#include "kernels/isa.h"
#include "kernels/stemconv/stemconv.h"

namespace kiln::kernels {
namespace {

struct Layer {
  int64_t channels, size, kernel, stride;
};
// Every distinct depthwise layer of the three nets (channels, input size, kernel, stride; padding kernel / 2).
constexpr Layer kLayers[] = {
    {16, 112, 3, 1},  {32, 112, 3, 1},  {64, 112, 3, 2},  {96, 112, 3, 2},  {72, 56, 3, 1},   {144, 56, 3, 1},
    {144, 56, 3, 2},  {72, 56, 5, 2},   {144, 56, 5, 2},  {192, 28, 3, 1},  {192, 28, 3, 2},  {240, 28, 3, 2},
    {120, 28, 5, 1},  {240, 28, 5, 1},  {184, 14, 3, 1},  {200, 14, 3, 1},  {384, 14, 3, 1},  {480, 14, 3, 1},
    {576, 14, 3, 1},  {672, 14, 3, 1},  {576, 14, 3, 2},  {480, 14, 5, 1},  {672, 14, 5, 1},  {672, 14, 5, 2},
    {960, 7, 3, 1},   {1152, 7, 3, 1},  {960, 7, 5, 1},   {1152, 7, 5, 1}};

DwConvShape layer_shape(const Layer& l) {
  DwConvShape s;
  s.in_h = s.in_w = l.size;
  s.kernel_h = s.kernel_w = l.kernel;
  s.stride_h = s.stride_w = l.stride;
  s.pad_top = s.pad_left = l.kernel / 2;
  s.out_h = s.out_w = (l.size + 2 * (l.kernel / 2) - l.kernel) / l.stride + 1;
  return s;
}

void run_layer(benchmark::State& state, DwConvFn fn, const Layer& l) {
  const DwConvShape s = layer_shape(l);
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

// "dwchan_f32_avx2/c144_56_k3_s2".
std::string layer_name(const char* kernel, const Layer& l) {
  return std::string(kernel) + "/c" + std::to_string(l.channels) + "_" + std::to_string(l.size) + "_k" +
         std::to_string(l.kernel) + "_s" + std::to_string(l.stride);
}

// The same layer channels-last, with the same activation (Clip 0..6) or `act` (MobileNet-v3's HardSwish,
// EfficientNet's SiLU).
void run_nhwc_layer(benchmark::State& state, DwNhwcFn fn, const Layer& l, Activation act = Activation::kClip) {
  const DwConvShape p = layer_shape(l);
  DwNhwcShape s;
  s.channels = l.channels, s.in_h = p.in_h, s.in_w = p.in_w, s.out_h = p.out_h, s.out_w = p.out_w;
  s.kernel_h = p.kernel_h, s.kernel_w = p.kernel_w, s.stride_h = p.stride_h, s.stride_w = p.stride_w;
  s.pad_top = p.pad_top, s.pad_left = p.pad_left;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(static_cast<size_t>(l.channels * l.size * l.size)), w(static_cast<size_t>(l.channels * 25));
  std::vector<float> y(static_cast<size_t>(l.channels * s.out_h * s.out_w));
  for (float& v : x) v = u(rng);
  for (float& v : w) v = u(rng);
  std::vector<float> packed(dwnhwc_packed_floats(s.channels, s.kernel_h, s.kernel_w));
  dwnhwc_pack(w.data(), s.channels, s.kernel_h, s.kernel_w, packed.data());
  DwNhwcArgs a;
  a.x = x.data(), a.packed_w = packed.data(), a.y = y.data();
  a.act.kind = act, a.act.alpha = 0, a.act.beta = 6;
  const int64_t items = dwnhwc_items(s);
  for (auto _ : state) {
    fn(s, a, 0, items);
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
      const std::string name = layer_name(k.name, l);
      const bool chan = std::string(k.name).rfind("dwchan", 0) == 0;
      const DwConvFn fn = chan ? dwchan_kernel(k.tier) : dwconv_kernel(k.tier);
      benchmark::RegisterBenchmark(name.c_str(), [fn, l](benchmark::State& st) { run_layer(st, fn, l); });
    }
  }
  constexpr Listed kNhwc[] = {
#define KILN_DWNHWC(name, tier, simd) {#name, IsaTier::tier},
#include "kernels/dwnhwc/dwnhwc_list.h"
  };
  for (const Listed& k : kNhwc) {
    if (!isa_available(k.tier)) continue;
    for (const Layer& l : kLayers) {
      const std::string name = layer_name(k.name, l);
      const DwNhwcFn fn = dwnhwc_kernel(k.tier);
      benchmark::RegisterBenchmark(name.c_str(), [fn, l](benchmark::State& st) { run_nhwc_layer(st, fn, l); });
      for (auto [suffix, act] : {std::pair<const char*, Activation>{"_hswish", Activation::kHardSwish},
                                 {"_silu", Activation::kSilu}})
        benchmark::RegisterBenchmark((name + suffix).c_str(),
                                     [fn, l, act](benchmark::State& st) { run_nhwc_layer(st, fn, l, act); });
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
