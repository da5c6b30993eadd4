// Times kiln::Session::run on random inputs at the model's declared shapes (unknown dims as 1).
//   timer MODEL THREADS WARMUP RUNS   prints "median_wall_ms min_wall_ms median_cpu_ms"
// Built by compare_ort.py against the build's libkiln_core.a (not part of the CMake build: it has its own main,
// and `kiln bench` will replace it).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "kiln/session.h"

namespace {

double process_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: timer MODEL THREADS WARMUP RUNS\n");
    return 2;
  }
  kiln::SessionOptions options;
  options.intra_op_threads = std::atoi(argv[2]);
  const kiln::Session session = kiln::Session::from_file(argv[1], options);
  kiln::NamedTensors feeds;
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const kiln::IoInfo& in : session.inputs()) {
    std::vector<int64_t> dims;
    for (const kiln::Dim& d : in.shape.dims) dims.push_back(d.is_known() ? d.value() : 1);
    kiln::Tensor t(in.dtype, dims);
    if (in.dtype == kiln::DType::kFloat32)
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
    feeds.emplace_back(in.name, t);
  }
  const int warmup = std::atoi(argv[3]), runs = std::max(1, std::atoi(argv[4]));
  for (int i = 0; i < warmup; ++i) session.run(feeds);
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_ms();
    session.run(feeds);
    cpu.push_back(process_cpu_ms() - c0);
    wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf("%.4f %.4f %.4f\n", wall[wall.size() / 2], wall[0], cpu[cpu.size() / 2]);
}
