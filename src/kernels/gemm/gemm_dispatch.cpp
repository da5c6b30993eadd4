// Which gemm_list.h kernel runs, its cache blocking on this CPU, and packing of operands ahead of time.
// Baseline code: it only calls into a tier's functions when the CPU has that tier.

#include <cpuinfo.h>

#include <algorithm>
#include <cstdlib>

#include "base/error.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_kernel.h"

namespace kiln::kernels {

namespace {

constexpr GemmKernelEntry kEntries[] = {
#define KILN_GEMM_ENTRY(name, tier, mr, nr) {#name, IsaTier::tier, mr, nr, &name},
    KILN_GEMM_F32_KERNELS(KILN_GEMM_ENTRY)
#undef KILN_GEMM_ENTRY
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

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
  // nc from L2: the packed kc x nc B block takes half of it, the other half holds A panels and C lines.
  static const int64_t l2 = [] {
    const cpuinfo_cache* c = cpuinfo_initialize() ? cpuinfo_get_l2_cache(0) : nullptr;
    return c && c->size ? static_cast<int64_t>(c->size) : int64_t{256} << 10;
  }();
  const int64_t nc = l2 / 2 / (b.kc_max * static_cast<int64_t>(sizeof(float)));
  b.nc = std::clamp<int64_t>(nc / kernel.nr * kernel.nr, 4 * kernel.nr, 2048);
  return b;
}

PackedGemmOperand pack_gemm_operand(GemmSide side, MatrixRef m, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0) fail(ErrorCode::kInvalidArgument, "pack_gemm_operand: negative size {} x {}", rows, cols);
  if (rows * cols > 0 && (!m.data || m.ld < (m.trans ? rows : cols)))
    fail(ErrorCode::kInvalidArgument, "pack_gemm_operand: {} x {} operand with leading dimension {}{}", rows, cols,
         m.ld, m.data ? "" : " and no data");
  const int index = gemm_active_kernel();
  const GemmMicroKernel& k = *kEntries[index].code();
  // A (M x K) becomes ceil(M / mr) panels of K x mr; B (K x N) ceil(N / nr) panels of K x nr. A K block of a
  // panel is then contiguous at offset k0 * mr (k0 * nr), whatever kc the driver picks.
  const bool is_a = side == GemmSide::kA;
  const int64_t lanes = is_a ? k.mr : k.nr;
  const int64_t outer = is_a ? rows : cols, depth = is_a ? cols : rows;
  const size_t floats = static_cast<size_t>(ceil_div(outer, lanes) * lanes * depth);
  const size_t bytes = std::max<size_t>((floats * sizeof(float) + 63) / 64 * 64, 64);
  float* data = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!data) fail(ErrorCode::kLimitExceeded, "pack_gemm_operand: cannot allocate {} bytes", bytes);

  PackedGemmOperand p;
  p.side_ = side;
  p.rows_ = rows;
  p.cols_ = cols;
  p.kernel_ = index;
  p.bytes_ = bytes;
  p.data_ = std::shared_ptr<float>(data, std::free);
  if (floats == 0) return p;  // an empty operand: nothing to read
  if (is_a) {
    k.pack_a(m, 0, rows, 0, cols, data);
  } else {
    k.pack_b(m, 0, rows, 0, cols, data);
  }
  return p;
}

}  // namespace kiln::kernels
