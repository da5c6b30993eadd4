// Which gemm_list.h kernel runs (and whether a call makes sense), its cache blocking on this CPU, and packing of
// operands ahead of time. Baseline code: it only calls into a tier's functions when the CPU has that tier.

#include <cpuinfo.h>

#include <algorithm>
#include <cstdlib>

#include "base/error.h"
#include "base/int_math.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_kernel.h"

namespace kiln::kernels {

namespace {

constexpr GemmKernelEntry kEntries[] = {
#define KILN_GEMM_ENTRY(name, tier, mr, nr) {#name, IsaTier::tier, mr, nr, &name},
    KILN_GEMM_F32_KERNELS(KILN_GEMM_ENTRY)
#undef KILN_GEMM_ENTRY
};

}  // namespace

std::span<const GemmKernelEntry> gemm_kernel_entries() { return kEntries; }

int gemm_active_kernel() {
  const IsaTier tier = active_isa();
  int best = 0;  // the portable kernel (tier kRef) runs anywhere
  for (int i = 0; i < static_cast<int>(std::size(kEntries)); ++i)
    if (static_cast<int>(kEntries[i].tier) <= static_cast<int>(tier)) best = i;
  return best;
}

const char* gemm_kernel_name() { return kEntries[gemm_active_kernel()].name; }

GemmBlocking gemm_blocking(const GemmMicroKernel& kernel) {
  // kc_max is fixed rather than read from L1: the A micro-panel (mr x 256 floats: 6 KiB for the avx2 tile,
  // 12 KiB for avx512) fits any L1d of 32 KiB or more next to the B lines streaming through, a K block
  // amortises the C tile's load and store over 256 FMAs per element, and K's block boundaries (which decide
  // the rounding) then depend on the kernel only, not on the CPU's caches.
  GemmBlocking b;
  b.kc_max = 256;
  // nc from L2: the packed kc x nc B block takes half of it, the other half holds A panels and C lines. Read from
  // the CPU, so a Zen 3's 512 KiB L2 gets nc = 256, a Zen 4's 1 MiB 512. Measured on the Zen 3 (ab.py, 1 thread,
  // min of 2-3 round medians, nc forced): ResNet-50 nc 128 / 256 / 384 / 512: 91.2 / 87.5 / 87.5 / 88.5 ms,
  // ResNet-18 31.6 / 30.8 / 31.2 / 30.7, SqueezeNet batch 8 (128 / 256 / 512) 77.2 / 72.3 / 72.9: half of L2 it is.
  static const cpuinfo_cache* const l2_cache = cpuinfo_initialize() ? cpuinfo_get_l2_cache(0) : nullptr;
  const int64_t l2 = l2_cache && l2_cache->size ? static_cast<int64_t>(l2_cache->size) : int64_t{256} << 10;
  b.l2_bytes = l2;
  b.l2_sets = l2_cache && l2_cache->sets ? static_cast<int64_t>(l2_cache->sets) : l2 / (64 * 8);
  const int64_t nc = l2 / 2 / (b.kc_max * static_cast<int64_t>(sizeof(float)));
  b.nc = std::clamp<int64_t>(nc / kernel.nr * kernel.nr, 4 * kernel.nr, 2048);
  return b;
}

void validate_gemm_args(const GemmArgs& g) {
  if (g.M < 0 || g.N < 0 || g.K < 0 || g.batch < 0)
    fail(ErrorCode::kInvalidArgument, "gemm_f32: negative size M={} N={} K={} batch={}", g.M, g.N, g.K, g.batch);
  if (const PackedGemmOperand* p = g.packed_a;
      p && (p->empty() || p->side() != GemmSide::kA || p->rows() != g.M || p->cols() != g.K))
    fail(ErrorCode::kInvalidArgument, "gemm_f32: packed A is {} x {}{}, the call needs {} x {}", p->rows(), p->cols(),
         p->side() == GemmSide::kA ? "" : " (packed as B)", g.M, g.K);
  if (const PackedGemmOperand* p = g.packed_b;
      p && (p->empty() || p->side() != GemmSide::kB || p->rows() != g.K || p->cols() != g.N))
    fail(ErrorCode::kInvalidArgument, "gemm_f32: packed B is {} x {}{}, the call needs {} x {}", p->rows(), p->cols(),
         p->side() == GemmSide::kB ? "" : " (packed as A)", g.K, g.N);
  if (g.b_source && (g.packed_b || g.batch != 1 || !g.b_source->fill))
    fail(ErrorCode::kInvalidArgument, "gemm_f32: a B source needs batch 1, no packed B and a fill function");
  if (g.M * g.N * g.batch == 0) return;
  if (!g.c || g.ldc < g.N) fail(ErrorCode::kInvalidArgument, "gemm_f32: C has leading dimension {} < N={}", g.ldc, g.N);
  if (g.K > 0 && !g.packed_a && (!g.a.data || g.a.ld < (g.a.trans ? g.M : g.K)))
    fail(ErrorCode::kInvalidArgument, "gemm_f32: A has leading dimension {} for M={} K={}", g.a.ld, g.M, g.K);
  if (g.K > 0 && !g.packed_b && !g.b_source && (!g.b.data || g.b.ld < (g.b.trans ? g.K : g.N)))
    fail(ErrorCode::kInvalidArgument, "gemm_f32: B has leading dimension {} for K={} N={}", g.b.ld, g.K, g.N);
  if (g.epilogue.residual && g.epilogue.ldr < g.N)
    fail(ErrorCode::kInvalidArgument, "gemm_f32: residual has leading dimension {} < N={}", g.epilogue.ldr, g.N);
}

int gemm_kernel_for(const GemmArgs& g) {
  const int ka = g.packed_a ? g.packed_a->kernel() : -1, kb = g.packed_b ? g.packed_b->kernel() : -1;
  const auto entries = gemm_kernel_entries();
  if (ka >= 0 && kb >= 0 && ka != kb)
    fail(ErrorCode::kInvalidArgument, "gemm_f32: A was packed for {} and B for {}; pack both at the same ISA tier",
         entries[ka].name, entries[kb].name);
  const int k = ka >= 0 ? ka : kb >= 0 ? kb : gemm_active_kernel();
  KILN_ASSERT(k >= 0 && k < static_cast<int>(entries.size()) && isa_available(entries[k].tier));
  return k;
}

namespace {

void check_operand(GemmSide side, const MatrixRef* m, int64_t rows, int64_t cols) {
  (void)side;
  if (rows < 0 || cols < 0) fail(ErrorCode::kInvalidArgument, "pack_gemm_operand: negative size {} x {}", rows, cols);
  if (m && rows * cols > 0 && (!m->data || m->ld < (m->trans ? rows : cols)))
    fail(ErrorCode::kInvalidArgument, "pack_gemm_operand: {} x {} operand with leading dimension {}{}", rows, cols,
         m->ld, m->data ? "" : " and no data");
}

// A (M x K) becomes ceil(M / mr) panels of K x mr; B (K x N) ceil(N / nr) panels of K x nr. A K block of a panel
// is then contiguous at offset k0 * mr (k0 * nr), whatever kc the driver picks.
size_t packed_floats(const GemmMicroKernel& k, GemmSide side, int64_t rows, int64_t cols) {
  const bool is_a = side == GemmSide::kA;
  const int64_t lanes = is_a ? k.mr : k.nr;
  const int64_t outer = is_a ? rows : cols, depth = is_a ? cols : rows;
  return static_cast<size_t>(ceil_div(outer, lanes) * lanes * depth);
}

}  // namespace

size_t gemm_packed_bytes(GemmSide side, int64_t rows, int64_t cols) {
  check_operand(side, nullptr, rows, cols);
  const size_t floats = packed_floats(*kEntries[gemm_active_kernel()].code(), side, rows, cols);
  return std::max<size_t>((floats * sizeof(float) + 63) / 64 * 64, 64);
}

void pack_gemm_operand_into(GemmSide side, MatrixRef m, int64_t rows, int64_t cols, float* dst) {
  check_operand(side, &m, rows, cols);
  const GemmMicroKernel& k = *kEntries[gemm_active_kernel()].code();
  if (packed_floats(k, side, rows, cols) == 0) return;  // an empty operand: nothing to read
  if (side == GemmSide::kA) {
    k.pack_a(m, 0, rows, 0, cols, dst);
  } else {
    k.pack_b(m, 0, rows, 0, cols, dst, rows * k.nr);
  }
}

PackedGemmOperand gemm_operand_view(GemmSide side, int64_t rows, int64_t cols, const float* data, size_t bytes,
                                    std::shared_ptr<const void> owner) {
  const size_t need = gemm_packed_bytes(side, rows, cols);
  if (bytes != need || !data || reinterpret_cast<uintptr_t>(data) % 64 != 0)
    fail(ErrorCode::kInvalidArgument, "gemm_operand_view: a {} x {} operand takes {} bytes at 64-byte alignment, "
         "given {}", rows, cols, need, bytes);
  PackedGemmOperand p;
  p.side_ = side;
  p.rows_ = rows;
  p.cols_ = cols;
  p.kernel_ = gemm_active_kernel();
  p.bytes_ = bytes;
  p.data_ = std::shared_ptr<const float>(std::move(owner), data);
  return p;
}

PackedGemmOperand pack_gemm_operand(GemmSide side, MatrixRef m, int64_t rows, int64_t cols) {
  check_operand(side, &m, rows, cols);
  const size_t bytes = gemm_packed_bytes(side, rows, cols);
  float* data = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!data) fail(ErrorCode::kLimitExceeded, "pack_gemm_operand: cannot allocate {} bytes", bytes);
  std::shared_ptr<const void> owner(data, std::free);
  pack_gemm_operand_into(side, m, rows, cols, data);
  return gemm_operand_view(side, rows, cols, data, bytes, std::move(owner));
}

}  // namespace kiln::kernels
