// Micro-benchmarks of the element-wise kernel families, read from their lists: every vunary op, every vbinary
// op and pattern, and the vrow kernels, at each tier this CPU has. Reports bytes moved per second (read +
// write) and elements per second. Sizes: 64 (an epilogue row), 16 Ki (in L1/L2), 4 Mi (from memory).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/vbinary/vbinary.h"
#include "kernels/vrow/vrow.h"
#include "kernels/vunary/vunary.h"

namespace kiln::kernels {
namespace {

std::vector<float> random_floats(int64_t n, float lo, float hi) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

void set_rates(benchmark::State& st, int64_t elements, int64_t bytes_per_element) {
  st.SetItemsProcessed(st.iterations() * elements);
  st.SetBytesProcessed(st.iterations() * elements * bytes_per_element);
}

void bench_unary(benchmark::State& st, VUnaryFn fn, UnaryOp op) {
  const int64_t n = st.range(0);
  std::vector<float> x = random_floats(n, op == UnaryOp::kLog || op == UnaryOp::kSqrt ? 0.01f : -6.0f, 6.0f);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    fn(op, 0.1f, 0.5f, x.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(st, n, 8);
}

void bench_binary(benchmark::State& st, VBinaryFn fn, BinaryOp op, int pattern) {
  // pattern 0: same shape; 1: b scalar; 2: per channel (rows of 49, one b per row); 3: bias row over rows.
  const int64_t total = st.range(0);
  std::vector<float> a = random_floats(total, -2, 2), b = random_floats(total, 0.5f, 2), out(a.size());
  BinaryBlock k;
  k.a = a.data();
  k.b = b.data();
  k.out = out.data();
  if (pattern <= 1) {
    k.n = total;
    k.b_col = pattern == 0;
  } else {
    k.n = pattern == 2 ? 49 : 768;
    k.rows = total / k.n;
    k.a_row = k.out_row = k.n;
    k.b_row = pattern == 2 ? 1 : 0;
    k.b_col = pattern == 3;
  }
  for (auto _ : st) {
    fn(op, k);
    benchmark::DoNotOptimize(out.data());
  }
  set_rates(st, k.rows * k.n, pattern == 0 ? 12 : 8);
}

void bench_softmax(benchmark::State& st, const VRowKernels* k) {
  const int64_t n = 1024, rows = st.range(0) / n;
  std::vector<float> x = random_floats(rows * n, -8, 8), y(x.size());
  for (auto _ : st) {
    k->softmax_rows(x.data(), y.data(), rows, n, false);
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(st, rows * n, 8);
}

void bench_layer_norm(benchmark::State& st, const VRowKernels* k) {
  const int64_t n = 768, rows = st.range(0) / n;
  std::vector<float> x = random_floats(rows * n, -3, 3), y(x.size()), s = random_floats(n, 0, 1), b = random_floats(n, -1, 1);
  for (auto _ : st) {
    k->layer_norm_rows(x.data(), y.data(), rows, n, s.data(), b.data(), 1e-5f);
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(st, rows * n, 8);
}

int register_all() {
  for (const VUnaryKernel& k : vunary_kernels()) {
    if (!isa_available(k.tier)) continue;
    for (int op = 0; op < kUnaryOpCount; ++op) {
      const std::string name = std::string(k.name) + "/" + unary_op_name(static_cast<UnaryOp>(op));
      benchmark::RegisterBenchmark(name.c_str(), bench_unary, k.fn, static_cast<UnaryOp>(op))
          ->Arg(64)->Arg(16 << 10)->Arg(4 << 20);
    }
  }
  const char* patterns[] = {"same", "scalar", "per_channel49", "bias768"};
  for (const VBinaryKernel& k : vbinary_kernels()) {
    if (!isa_available(k.tier)) continue;
    for (int op = 0; op < kBinaryOpCount; ++op)
      for (int p = 0; p < 4; ++p) {
        const std::string name = std::string(k.name) + "/" + binary_op_name(static_cast<BinaryOp>(op)) + "/" + patterns[p];
        benchmark::RegisterBenchmark(name.c_str(), bench_binary, k.fn, static_cast<BinaryOp>(op), p)
            ->Arg(49 * 768)->Arg(49 * 768 * 100);
      }
  }
  for (const VRowKernels* k : vrow_kernels()) {
    if (!isa_available(k->tier)) continue;
    benchmark::RegisterBenchmark((std::string(k->name) + "/softmax1024").c_str(), bench_softmax, k)->Arg(64 << 10)->Arg(4 << 20);
    benchmark::RegisterBenchmark((std::string(k->name) + "/layer_norm768").c_str(), bench_layer_norm, k)
        ->Arg(768 * 64)->Arg(768 * 4096);
  }
  return 0;
}

const int registered = register_all();

}  // namespace
}  // namespace kiln::kernels
