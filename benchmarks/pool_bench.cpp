// Micro-benchmarks of the pooling kernels (kernels/pool), one per kernel set of pool_list.h: bytes moved per
// second (input read once, output written once) on single-threaded plane loops.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/pool/pool.h"

namespace {

using kiln::kernels::Pool2dShape;

struct PoolCase {
  const char* name;
  int64_t planes;
  Pool2dShape shape;
};

Pool2dShape window(int64_t in_h, int64_t in_w, int64_t k, int64_t s, int64_t pad) {
  Pool2dShape p;
  p.in_h = in_h, p.in_w = in_w, p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.out_h = (in_h + 2 * pad - k) / s + 1, p.out_w = (in_w + 2 * pad - k) / s + 1;
  return p;
}

const PoolCase kCases[] = {{"3x3s2_64x112x112", 64, window(112, 112, 3, 2, 1)},
                           {"2x2s2_128x56x56", 128, window(56, 56, 2, 2, 0)},
                           {"3x3s1_256x28x28", 256, window(28, 28, 3, 1, 1)}};

std::vector<float> random_floats(size_t n) {
  std::vector<float> v(n);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& x : v) x = u(rng);
  return v;
}

void run_window(benchmark::State& state, kiln::kernels::Pool2dFn fn, kiln::kernels::IsaTier tier, const PoolCase& c) {
  if (!kiln::kernels::isa_available(tier)) return state.SkipWithError("this CPU lacks the tier");
  const Pool2dShape& s = c.shape;
  std::vector<float> x = random_floats(static_cast<size_t>(c.planes * s.in_h * s.in_w));
  std::vector<float> y(static_cast<size_t>(c.planes * s.out_h * s.out_w));
  std::vector<float> scratch(kiln::kernels::pool2d_scratch_floats(s));
  for (auto _ : state) {
    for (int64_t p = 0; p < c.planes; ++p)
      fn(s, x.data() + p * s.in_h * s.in_w, y.data() + p * s.out_h * s.out_w, 0, s.out_h, scratch.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>((x.size() + y.size()) * sizeof(float)));
}

void run_global(benchmark::State& state, kiln::kernels::GlobalPoolFn fn, kiln::kernels::IsaTier tier, int64_t planes,
                int64_t size) {
  if (!kiln::kernels::isa_available(tier)) return state.SkipWithError("this CPU lacks the tier");
  std::vector<float> x = random_floats(static_cast<size_t>(planes * size)), y(static_cast<size_t>(planes));
  for (auto _ : state) {
    fn(x.data(), y.data(), planes, size);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(x.size() * sizeof(float)));
}

int register_all() {
  using kiln::kernels::IsaTier;
#define KILN_POOL_KERNELS(suffix, tier)                                                                          \
  for (const PoolCase& c : kCases) {                                                                             \
    benchmark::RegisterBenchmark((std::string("maxpool2d_f32_" #suffix "/") + c.name).c_str(), run_window,       \
                                 kiln::kernels::maxpool2d_f32_##suffix, IsaTier::tier, c);                       \
    benchmark::RegisterBenchmark((std::string("avgpool2d_f32_" #suffix "/") + c.name).c_str(), run_window,       \
                                 kiln::kernels::avgpool2d_f32_##suffix, IsaTier::tier, c);                       \
  }                                                                                                              \
  benchmark::RegisterBenchmark("global_avgpool_f32_" #suffix "/2048x7x7", run_global,                            \
                               kiln::kernels::global_avgpool_f32_##suffix, IsaTier::tier, 2048, 49);             \
  benchmark::RegisterBenchmark("global_maxpool_f32_" #suffix "/256x56x56", run_global,                           \
                               kiln::kernels::global_maxpool_f32_##suffix, IsaTier::tier, 256, 56 * 56);
#include "kernels/pool/pool_list.h"
#undef KILN_POOL_KERNELS
  return 0;
}

const int registered = register_all();

}  // namespace
