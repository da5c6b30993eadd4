#pragma once
// What one gemm_list.h entry provides: its micro-kernels (one per row count and width of an edge tile, per way
// of reading A) and its packers, compiled with its tier's flags (gemm_tile.h, instantiated in gemm_<tier>.cpp).
// Internal to the GEMM family: the dispatch, the tests and the micro-benchmark use it; operators use gemm.h.

#include <cstdint>
#include <span>

#include "kernels/gemm/gemm.h"
#include "kernels/isa.h"
#include "kernels/gemm/gemm_list.h"

namespace kiln::kernels {

/// Where a micro-kernel stores its tile of C (rows x cols, both valid: no padding written) and what it applies
/// on the way. K is summed in blocks: the first block stores alpha * acc + bias + beta * residual (residual may
/// be C itself: each element is read before it is written, by the same tile), later blocks add alpha * acc to
/// what is stored. Relu, Clip, HardSwish, Sigmoid, SiLU and GELU (erf) are applied in registers on the last block
/// (`clamp`, `hard_swish`, `sigmoid`, `silu`, `gelu_erf`); other activations by the driver once the last block is
/// stored.
struct GemmTile {
  int64_t lda = 0;                 ///< row stride of A when the tile reads it unpacked (kRowMajor)
  int64_t ldb = 0;                 ///< row stride of B: 0 for a packed panel (NR), else B read in place (full width)
  float* c = nullptr;
  int64_t ldc = 0;
  int64_t cols = 0;                ///< valid columns, 1..NR (the half-width kernels take 1..NR/2)
  int64_t rows = 0;                ///< valid rows, 1..MR: read by the column tiles (the others are one per count)
  float alpha = 1.0f;
  bool accumulate = false;         ///< a later K block: C += alpha * acc
  const float* bias_row = nullptr; ///< per-row bias at the tile's first row, or null
  const float* bias_col = nullptr; ///< per-column bias at the tile's first column, or null
  const float* residual = nullptr; ///< residual at the tile's first element, or null
  int64_t ldr = 0;
  float beta = 1.0f;
  bool clamp = false;              ///< store min(clamp_hi, max(clamp_lo, value)) (Relu: 0, +inf; Clip: its bounds)
  float clamp_lo = 0.0f, clamp_hi = 0.0f;
  bool hard_swish = false;         ///< store value * max(0, min(1, (value + 3) / 6)), as vunary computes it
  bool sigmoid = false;            ///< store vmath::sigmoid(value) (vunary's: the same bits)
  bool silu = false;               ///< store vmath::silu(value) (vunary's: the same bits)
  bool gelu_erf = false;           ///< store vmath::gelu_erf(value) (vunary's: the same bits)
};

/// Multiplies rows of A by a packed kc x NR panel of B (b[k * NR + c]), or by B in place (b[k * ldb + c], every
/// loaded column inside B's row), and stores the tile through the epilogue. kc may be 0 (the epilogue of zero).
using GemmTileFn = void (*)(int64_t kc, const float* a, const float* b, const GemmTile& tile);

/// How a tile reads A: from a packed panel (a[k * MR + r]), or straight from a row-major A (a[r * lda + k]), which
/// saves packing activations: the tile's rows stay in L1 across the B panels just the same.
enum GemmALayout : int { kPackedPanel = 0, kRowMajor = 1 };

inline constexpr int kGemmMaxMr = 12;
/// The most columns the column tiles take (tiles[kPackedPanel][r - 1][2]).
inline constexpr int64_t kGemmColumnTileCols = 4;

struct GemmMicroKernel {
  int mr = 0, nr = 0;
  /// tiles[layout][r - 1][w]: a tile of r rows (1..mr) reading A in `layout` (GemmALayout); w = 0 takes up to
  /// nr / 2 columns (one vector), w = 1 up to nr, w = 2 (packed A only) up to kGemmColumnTileCols (the column
  /// tile: A's rows as the vector, B's columns broadcast). Pick w with width().
  GemmTileFn tiles[2][kGemmMaxMr][3] = {};
  /// The tile width index w for `cols` columns of a tile reading A in `layout`.
  static int width(GemmALayout layout, int64_t cols, int64_t nr) {
    return 2 * cols > nr ? 1 : layout == kPackedPanel && cols <= kGemmColumnTileCols ? 2 : 0;
  }
  /// Packs rows [m0, m0 + rows) x k [k0, k0 + kc) of the logical A into ceil(rows / mr) panels of kc x mr,
  /// panel after panel (each kc * mr floats), rows past `rows` zero.
  void (*pack_a)(const MatrixRef& a, int64_t m0, int64_t rows, int64_t k0, int64_t kc, float* dst) = nullptr;
  /// Packs k [k0, k0 + kc) x columns [n0, n0 + cols) of the logical B into ceil(cols / nr) panels of kc x nr
  /// rows (row k of panel p at dst + p * panel_stride + k * nr), columns past `cols` zero.
  void (*pack_b)(const MatrixRef& b, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
                 int64_t panel_stride) = nullptr;
};

/// Runs the tile of t.rows x t.cols that `kernel` has for A in `layout`, over kc steps of A at a and B's panel at b.
/// A panel of packed A whose valid columns pass half of nr by at most kGemmColumnTileCols (a 7x7 plane's 49
/// positions leave 17 of avx512's 32 in the last panel; Winograd F(2x2)'s 49 tiles of a 14x14 image likewise) runs
/// as the half-width tile and the column tile beside it, instead of the full-width tile whose second vector is
/// mostly empty: for 12 rows and 17 columns, 12 + 1 FMAs per k instead of 24. Measured (Zen 4, 1 thread, ResNet-50
/// in the network): layer4's 1x1 convolutions 1.49 -> 1.30 ms, its 3x3 stride 2 3.54 -> 3.06, its downsample
/// 2.93 -> 2.54, layer3's Winograd F(2x2) layers 1.53 -> 1.29; the network 73.2 -> 70.5 ms.
inline void gemm_run_tile(const GemmMicroKernel& kernel, GemmALayout layout, const GemmTile& t, int64_t kc,
                          const float* a, const float* b) {
  const int64_t half = kernel.nr / 2, extra = t.cols - half;
  const GemmTileFn* fns = kernel.tiles[layout][t.rows - 1];
  if (layout != kPackedPanel || extra <= 0 || extra > kGemmColumnTileCols) {
    fns[GemmMicroKernel::width(layout, t.cols, kernel.nr)](kc, a, b, t);
    return;
  }
  GemmTile part = t;
  part.cols = half;
  fns[0](kc, a, b, part);
  part.cols = extra;
  part.c += half;
  if (part.bias_col) part.bias_col += half;
  if (part.residual) part.residual += half;
  fns[2](kc, a, b + half, part);
}

#define KILN_GEMM_DECLARE(name, tier, mr, nr) const GemmMicroKernel* name();
KILN_GEMM_F32_KERNELS(KILN_GEMM_DECLARE)
#undef KILN_GEMM_DECLARE

/// One gemm_list.h line as data (the dispatch's table; defined in gemm_dispatch.cpp, baseline code).
struct GemmKernelEntry {
  const char* name;
  IsaTier tier;
  int mr, nr;
  const GemmMicroKernel* (*code)();
};

/// The gemm_list.h entries, in list order (PackedGemmOperand::kernel() indexes it).
std::span<const GemmKernelEntry> gemm_kernel_entries();

/// Index of the entry gemm_f32 uses for unpacked operands at the active tier (the last one it allows).
int gemm_active_kernel();

/// Throws Error(kInvalidArgument) naming what is wrong with args (sizes, packed operands that do not fit the
/// call, a B source with a batch, leading dimensions too small).
void validate_gemm_args(const GemmArgs& args);

/// The entry args runs with: the one its packed operands were packed for (both packed: the same one, else an
/// InvalidArgument error), else gemm_active_kernel().
int gemm_kernel_for(const GemmArgs& args);

/// How many times gemm_f32 has (re)allocated a per-thread packing buffer in this process: buffers only grow, so
/// once every thread has seen the largest call, this stops moving (the steady state allocates nothing).
uint64_t gemm_scratch_allocations();

/// The cache blocking of one kernel on this CPU: K is summed in blocks of at most kc_max (the A micro-panel,
/// mr x kc, stays in L1 while the B micro-panels stream past it), and columns are taken nc at a time (a kc x nc
/// block of packed B stays in L2 while every row panel of A passes over it). nc is a multiple of nr.
struct GemmBlocking {
  int64_t kc_max = 256;
  int64_t nc = 256;
  int64_t l2_bytes = 256 << 10;  ///< one core's L2
  int64_t l2_sets = 512;         ///< its sets (lines of the same set index compete for its ways)
};
GemmBlocking gemm_blocking(const GemmMicroKernel& kernel);

}  // namespace kiln::kernels
