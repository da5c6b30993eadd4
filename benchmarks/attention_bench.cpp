// ai.kiln.ScaledDotProductAttention's prepared kernel at transformer shapes (batch 1, heads of 64, S = T),
// with and without a causal mask, on 1 and 2 threads, and the attention row kernels of attention_list.h.
// GFLOP/s counts the two products only: 4 S T D per head.

#include <benchmark/benchmark.h>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "kernels/attention/attention.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "ops/op.h"

namespace kiln {
namespace {

Tensor random_tensor(std::vector<int64_t> dims, std::mt19937& rng) {
  Tensor t(DType::kFloat32, std::move(dims));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : t.span<float>()) v = u(rng);
  return t;
}

void BM_ScaledDotProductAttention(benchmark::State& state) {
  const int64_t S = state.range(0), heads = state.range(3), D = 64;
  const bool causal = state.range(1) != 0;
  const size_t threads = static_cast<size_t>(state.range(2));
  std::mt19937 rng(1);
  std::vector<Tensor> in = {random_tensor({1, heads, S, D}, rng), random_tensor({1, heads, S, D}, rng),
                            random_tensor({1, heads, S, D}, rng)};
  if (causal) {
    Tensor m(DType::kFloat32, {S, S});
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j)
        m.data<float>()[i * S + j] = j > i ? -std::numeric_limits<float>::infinity() : 0.0f;
    in.push_back(std::move(m));
  }
  ir::Node node;
  node.op_type = "ScaledDotProductAttention";
  node.domain = "ai.kiln";
  node.name = "sdpa";
  for (size_t i = 0; i < in.size(); ++i) node.inputs.push_back(static_cast<int>(i));
  node.outputs = {static_cast<int>(in.size())};
  std::vector<ops::ValueInfo> infos;
  for (const Tensor& t : in) infos.emplace_back(t.dtype(), Shape::from(t.dims()));
  std::vector<const ops::ValueInfo*> info_ptrs;
  for (const auto& i : infos) info_ptrs.push_back(&i);
  ops::PrepareContext pctx(node, 0, 1, info_ptrs);
  const ops::OpSchema* schema = ops::find_op("ai.kiln", "ScaledDotProductAttention");
  std::unique_ptr<ops::PreparedKernel> k = schema->prepare(pctx);
  if (!k) {
    state.SkipWithError("no prepared kernel at this ISA tier");
    return;
  }
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : in) ptrs.push_back(&t);
  std::vector<Tensor> out = {Tensor(DType::kFloat32, {1, heads, S, D})};
  kernels::ThreadPool pool(threads);
  ops::KernelContext ctx(node, 0, 1, ptrs, out, nullptr);
  ctx.set_threads(&pool);
  for (auto _ : state) {
    k->run(ctx);
    benchmark::DoNotOptimize(out[0].data<float>());
  }
  const double flops = 4.0 * static_cast<double>(heads * S * S * D);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(k->describe());
}
BENCHMARK(BM_ScaledDotProductAttention)
    ->ArgNames({"S", "causal", "threads", "heads"})
    ->ArgsProduct({{128, 256, 512, 1024}, {0, 1}, {1, 2}, {12}})
    ->Unit(benchmark::kMicrosecond)
    ->MeasureProcessCPUTime();
// The suite's transformers at batch 1: BERT-mini (S = 128, 4 heads), GPT-mini (the same, causal), ViT-tiny
// (S = 197, 3 heads).
BENCHMARK(BM_ScaledDotProductAttention)
    ->ArgNames({"S", "causal", "threads", "heads"})
    ->Args({128, 0, 1, 4})
    ->Args({128, 1, 1, 4})
    ->Args({197, 0, 1, 3})
    ->Unit(benchmark::kMicrosecond)
    ->MeasureProcessCPUTime();

// One row of the online softmax (mask, max, exp, sum) per kernel of the list, at a row of T keys.
void BM_AttentionRow(benchmark::State& state, const kernels::AttentionRowKernels* k) {
  if (!kernels::isa_available(k->tier)) {
    state.SkipWithError("this CPU lacks the tier");
    return;
  }
  const int64_t n = state.range(0);
  std::mt19937 rng(2);
  Tensor s = random_tensor({n}, rng), mask = random_tensor({n}, rng);
  for (auto _ : state) {
    const float m = k->add_mask_max(s.data<float>(), mask.data<float>(), 1, n);
    benchmark::DoNotOptimize(k->exp_sum(s.data<float>(), m, n));
  }
  state.SetItemsProcessed(state.iterations() * n);
}

int register_rows = [] {
  for (const kernels::AttentionRowKernels* k : kernels::attention_row_kernels())
    benchmark::RegisterBenchmark(k->name, BM_AttentionRow, k)->Arg(128)->Arg(512);
  return 0;
}();

}  // namespace
}  // namespace kiln
