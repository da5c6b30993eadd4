// The point products of the Winograd tactic (baseline-compiled): each is a GEMM whose A (the transformed weights)
// was packed once and whose B the input transform wrote already in the micro-kernel's panel layout, so the
// micro-kernel's tiles are called directly (gemm_kernel.h, the GEMM family's table), with none of gemm_f32's
// packing, blocking or threading: a segment's panels are small (C x nr), and the caller spreads segments over the
// threads.

#include <algorithm>

#include "base/error.h"
#include "kernels/gemm/gemm_kernel.h"
#include "kernels/winograd/winograd.h"

namespace kiln::kernels {

namespace {

// Channels summed in one register chain (see winograd_points_gemm).
constexpr int64_t kSumBlock = 128;

const GemmKernelEntry& entry_of(const PackedGemmOperand& u) {
  const auto entries = gemm_kernel_entries();
  KILN_ASSERT(u.kernel() >= 0 && static_cast<size_t>(u.kernel()) < entries.size());
  return entries[static_cast<size_t>(u.kernel())];
}

}  // namespace

IsaTier winograd_tier_for(const PackedGemmOperand& u) { return entry_of(u).tier; }

int64_t winograd_panel_width(const PackedGemmOperand& u) { return entry_of(u).nr; }

int64_t winograd_row_panel(const PackedGemmOperand& u) { return entry_of(u).mr; }

void winograd_points_gemm(const PackedGemmOperand* u, int points, int64_t M, int64_t C, const float* v, int64_t ldv,
                          int64_t segments, const int64_t* counts, float* m, int64_t ldm, int64_t m0, int64_t m1) {
  const GemmMicroKernel& uk = *entry_of(u[0]).code();
  const int64_t mr = uk.mr, nr = uk.nr;
  KILN_ASSERT(m0 % mr == 0 && 0 <= m0 && m0 <= m1 && m1 <= M);
  GemmTile tile;
  tile.ldc = nr;
  for (int t = 0; t < points; ++t) {
    const float* vt = v + t * ldv;
    float* mt = m + t * ldm;
    // Row panel by row panel of u[t] (its mr x C micro-panel stays in L1 while every segment's B panel passes).
    for (int64_t r0 = m0; r0 < m1; r0 += mr) {
      const int64_t rows = std::min(mr, m1 - r0);
      const float* a = u[t].data() + r0 * C;  // panel r0 / mr of the packed A: r0 / mr * C * mr floats in
      tile.rows = rows;
      for (int64_t p = 0; p < segments; ++p) {
        tile.c = mt + (p * M + r0) * nr;
        tile.cols = counts[p];
        // C in blocks of kSumBlock, each summed in registers and added to the stored sum: a float32 sum of 512
        // terms in one chain doubled the tactic's error on 512-channel layers (rel-L2 6.7e-7 against 4.9e-7).
        for (int64_t k0 = 0; k0 < C; k0 += kSumBlock) {
          tile.accumulate = k0 > 0;
          gemm_run_tile(uk, kPackedPanel, tile, std::min(kSumBlock, C - k0), a + k0 * mr, vt + p * C * nr + k0 * nr);
        }
      }
    }
  }
}

}  // namespace kiln::kernels
