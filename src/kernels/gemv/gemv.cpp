// Dispatch of the matrix-vector kernels (baseline-compiled): the active tier's kernel from gemv_list.h, rows split
// over the pool in fixed blocks.

#include "kernels/gemv/gemv.h"

#include <algorithm>

namespace kiln::kernels {

#define KILN_GEMV(name, tier, simd) void name(const GemvArgs&, int64_t, int64_t);
#include "kernels/gemv/gemv_list.h"

#define KILN_GEMV(name, tier, simd) void name##_side(const GemvArgs&, int64_t, int64_t, const GemvSide&);
#include "kernels/gemv/gemv_list.h"

#define KILN_GEMV(name, tier, simd) void name##_batch(const GemvArgs&, int64_t, int64_t, int64_t, int64_t, int64_t);
#include "kernels/gemv/gemv_list.h"

namespace {

constexpr KernelEntry<GemvFn> kGemvKernels[] = {
#define KILN_GEMV(name, tier, simd) {#name, IsaTier::tier, name},
#include "kernels/gemv/gemv_list.h"
};

constexpr KernelEntry<GemvSideFn> kSideKernels[] = {
#define KILN_GEMV(name, tier, simd) {#name "_side", IsaTier::tier, name##_side},
#include "kernels/gemv/gemv_list.h"
};

constexpr KernelEntry<GemvBatchFn> kBatchKernels[] = {
#define KILN_GEMV(name, tier, simd) {#name "_batch", IsaTier::tier, name##_batch},
#include "kernels/gemv/gemv_list.h"
};

// Rows per task: two panels.
constexpr int64_t kRowsPerTask = 2 * kGemvPanel;

}  // namespace

size_t gemv_packed_floats(int64_t M, int64_t K) {
  return static_cast<size_t>((M + kGemvPanel - 1) / kGemvPanel * K * kGemvPanel);
}

void gemv_pack(const float* w, int64_t M, int64_t K, float* dst) {
  std::fill_n(dst, gemv_packed_floats(M, K), 0.0f);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) dst[(m / kGemvPanel * K + k) * kGemvPanel + m % kGemvPanel] = w[m * K + k];
}

size_t gemv_side_packed_floats(int64_t N, int64_t K) {
  return static_cast<size_t>((N + kGemvSideCols - 1) / kGemvSideCols * K * kGemvSideCols);
}

void gemv_side_pack(const float* w, int64_t N, int64_t K, float* dst) {
  std::fill_n(dst, gemv_side_packed_floats(N, K), 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      dst[(n / kGemvSideCols * K + k) * kGemvSideCols + n % kGemvSideCols] = w[n * K + k];
}

std::vector<float> gemv_pack(const float* w, int64_t M, int64_t K) {
  std::vector<float> wp(gemv_packed_floats(M, K));
  gemv_pack(w, M, K, wp.data());
  return wp;
}

GemvFn gemv_kernel(IsaTier tier) {
  if (tier == IsaTier::kRef) return gemv_f32_ref;
  const auto* e = entry_of_tier(kGemvKernels, tier);
  return e ? e->fn : nullptr;
}

const char* gemv_kernel_name() {
  const auto* e = best_entry(kGemvKernels, active_isa());
  return e ? e->name : "gemv_f32_ref";
}

namespace {

// Runs fn(m0, m1, task, tasks) over y's rows: on the calling thread in one call (task 0 of 1) for a small product
// (`macs` multiply-adds), no pool or one thread; otherwise in tasks of kRowsPerTask rows over the pool.
template <typename F>
void split_rows(const GemvArgs& g, int64_t macs, ThreadPool* pool, F&& fn) {
  const int64_t tasks = (g.M + kRowsPerTask - 1) / kRowsPerTask;
  // Small products (under ~64K multiply-adds) are not worth waking a thread for; one thread takes all rows in one
  // call, so `descending` reverses the whole walk.
  if (tasks <= 1 || macs < 65536 || !pool || pool->threads() == 1) return fn(int64_t{0}, g.M, size_t{0}, size_t{1});
  // Thread t first claims the t-th of `threads` equal consecutive ranges of the items (thread_pool.h). Descending,
  // an item is mirrored within its range, so each thread walks its own rows from last to first.
  const size_t n = static_cast<size_t>(tasks), threads = pool->threads();
  parallel_for(pool, n, [&](size_t i) {
    size_t r = 0;
    while ((r + 1) * n / threads <= i) ++r;
    const size_t task = g.descending ? r * n / threads + (r + 1) * n / threads - 1 - i : i;
    const int64_t m0 = static_cast<int64_t>(task) * kRowsPerTask;
    fn(m0, std::min(g.M, m0 + kRowsPerTask), task, n);
  });
}

}  // namespace

void gemv_f32(const GemvArgs& g, ThreadPool* pool) {
  const auto* e = best_entry(kGemvKernels, active_isa());
  const GemvFn fn = e ? e->fn : gemv_f32_ref;
  split_rows(g, g.M * g.K, pool, [&](int64_t m0, int64_t m1, size_t, size_t) { fn(g, m0, m1); });
}

GemvSideFn gemv_side_kernel(IsaTier tier) {
  if (tier == IsaTier::kRef) return gemv_side_f32_ref;
  const auto* e = entry_of_tier(kSideKernels, tier);
  return e ? e->fn : nullptr;
}

void gemv_side_f32(const GemvArgs& g, const GemvSide& side, ThreadPool* pool) {
  const auto* e = best_entry(kSideKernels, active_isa());
  const GemvSideFn fn = e ? e->fn : gemv_side_f32_ref;
  const int64_t units = side.unit_end - side.unit_begin;
  split_rows(g, g.M * g.K, pool, [&](int64_t m0, int64_t m1, size_t task, size_t n) {
    GemvSide part = side;  // task i of n: the i-th of n equal consecutive ranges of the units
    part.unit_begin = side.unit_begin + units * static_cast<int64_t>(task) / static_cast<int64_t>(n);
    part.unit_end = side.unit_begin + units * static_cast<int64_t>(task + 1) / static_cast<int64_t>(n);
    fn(g, m0, m1, part);
  });
}

GemvBatchFn gemv_batch_kernel(IsaTier tier) {
  if (tier == IsaTier::kRef) return gemv_batch_f32_ref;
  const auto* e = entry_of_tier(kBatchKernels, tier);
  return e ? e->fn : nullptr;
}

void gemv_batch_f32(const GemvArgs& g, int64_t batch, int64_t ldx, int64_t ldy, ThreadPool* pool) {
  const auto* e = best_entry(kBatchKernels, active_isa());
  const GemvBatchFn fn = e ? e->fn : gemv_batch_f32_ref;
  split_rows(g, g.M * g.K * batch, pool,
             [&](int64_t m0, int64_t m1, size_t, size_t) { fn(g, m0, m1, batch, ldx, ldy); });
}

}  // namespace kiln::kernels
