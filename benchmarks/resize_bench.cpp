// Micro-benchmarks of the resize kernels (kernels/resize), one per kernel set of resize_list.h: output bytes
// written per second, single-threaded, for half_pixel upsampling by 2 and 4 (tables built here with the
// half_pixel rule; the op builds them in ops/resize_prepared.cpp).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/resize/resize.h"

namespace {

struct Axis {
  std::vector<int32_t> i0, i1;
  std::vector<float> w0, w1;
};

Axis half_pixel_axis(int64_t in, int64_t out, bool nearest) {
  Axis a;
  for (int64_t o = 0; o < out; ++o) {
    const double x = (static_cast<double>(o) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
    const double left = std::floor(x), r = x - left;
    auto clamp = [&](double v) { return static_cast<int32_t>(std::clamp<double>(v, 0, static_cast<double>(in - 1))); };
    if (nearest) {
      a.i0.push_back(clamp(std::floor(static_cast<double>(o) * in / out))), a.i1.push_back(a.i0.back());
      a.w0.push_back(1), a.w1.push_back(0);
    } else {
      a.i0.push_back(clamp(left)), a.i1.push_back(clamp(left + 1));
      a.w0.push_back(static_cast<float>(1 - r)), a.w1.push_back(static_cast<float>(r));
    }
  }
  return a;
}

void run(benchmark::State& state, kiln::kernels::ResizeFn fn, kiln::kernels::IsaTier tier, bool nearest, int64_t planes,
         int64_t in, int64_t factor) {
  if (!kiln::kernels::isa_available(tier)) return state.SkipWithError("this CPU lacks the tier");
  const int64_t out = in * factor;
  const Axis ax = half_pixel_axis(in, out, nearest);
  kiln::kernels::ResizeTables t;
  t.in_h = t.in_w = in, t.out_h = t.out_w = out;
  t.x0 = t.y0 = ax.i0.data(), t.x1 = t.y1 = ax.i1.data(), t.wx0 = t.wy0 = ax.w0.data(), t.wx1 = t.wy1 = ax.w1.data();
  t.row_end = t.col_end = out;
  t.cols_sorted = true;
  std::vector<float> x(static_cast<size_t>(planes * in * in)), y(static_cast<size_t>(planes * out * out));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : x) v = u(rng);
  std::vector<float> scratch(kiln::kernels::resize_scratch_floats(t));
  for (auto _ : state) {
    for (int64_t p = 0; p < planes; ++p) fn(t, x.data() + p * in * in, y.data() + p * out * out, 0, out, scratch.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(y.size() * sizeof(float)));
}

int register_all() {
  using kiln::kernels::IsaTier;
#define KILN_RESIZE_KERNELS(suffix, tier)                                                                             \
  benchmark::RegisterBenchmark("resize_linear_f32_" #suffix "/64x64x64_x2", run, kiln::kernels::resize_linear_f32_##suffix, \
                               IsaTier::tier, false, 64, 64, 2);                                                     \
  benchmark::RegisterBenchmark("resize_linear_f32_" #suffix "/21x64x64_x4", run, kiln::kernels::resize_linear_f32_##suffix, \
                               IsaTier::tier, false, 21, 64, 4);                                                     \
  benchmark::RegisterBenchmark("resize_nearest_f32_" #suffix "/64x64x64_x2", run,                                      \
                               kiln::kernels::resize_nearest_f32_##suffix, IsaTier::tier, true, 64, 64, 2);
#include "kernels/resize/resize_list.h"
#undef KILN_RESIZE_KERNELS
  return 0;
}

const int registered = register_all();

}  // namespace
