#pragma once
// Matrix-vector product with a fused epilogue: y = act(W·x + bias + residual), W packed once into panels of
// kGemvPanel rows stored k-major (the lanes run along M, so there is no horizontal sum, and a panel is read as
// one sequential stream the hardware prefetcher follows). What a 1x1 convolution on a 1x1 plane is: the two small
// FCs of a squeeze-excitation block (MobileNet-v3, EfficientNet) after GlobalAveragePool. The GEMM would run these
// with N = 1 in 16-column panels: 1/16 of its FMAs useful, plus packing. Here W is streamed once, which is the
// bound (it rarely stays in cache between runs).

#include <cstdint>
#include <vector>

#include "kernels/activation.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"

namespace kiln::kernels {

/// Rows of W per packed panel (4 AVX-512 vectors, 8 AVX2 vectors).
inline constexpr int64_t kGemvPanel = 64;

/// W [M, K] row-major packed for the kernels: panel p holds rows [64p, 64p + 64) as wp[(p * K + k) * 64 + j] =
/// W[64p + j][k], rows past M zero.
std::vector<float> gemv_pack(const float* w, int64_t M, int64_t K);
/// The same packing into `dst` (gemv_packed_floats(M, K) floats). Give it 64-byte aligned memory (the prepare
/// context's packed bytes are): a panel's row k is then one cache line, where a vector load that straddles two
/// lines costs two. Measured, R of lstm_tagger (1024 x 256) from L2: 10.0 us per product aligned, 12.3 us 16 bytes
/// off (std::vector's allocation of a large block).
void gemv_pack(const float* w, int64_t M, int64_t K, float* dst);
size_t gemv_packed_floats(int64_t M, int64_t K);

struct GemvArgs {
  const float* wp = nullptr;        ///< W packed by gemv_pack
  const float* x = nullptr;         ///< [K]
  const float* bias = nullptr;      ///< [M] or null
  const float* residual = nullptr;  ///< [M] or null (may not be y)
  float* y = nullptr;               ///< [M]
  int64_t M = 0, K = 0;
  ActivationParams act;
  /// Panels of a row range visited from last to first. Each row's sum is the same either way; what changes is
  /// which part of W is read last. A recurrence multiplying the same W every step alternates the order (a
  /// serpentine), so a step starts on the panels the previous one read last, still in L2 when W is about L2's size.
  bool descending = false;
};

/// Rows [m_begin, m_end) of y (a kernel of one tier, or the reference); m_begin a multiple of kGemvPanel.
using GemvFn = void (*)(const GemvArgs& g, int64_t m_begin, int64_t m_end);

/// The plain scalar kernel (the oracle), summing k in order.
void gemv_f32_ref(const GemvArgs& g, int64_t m_begin, int64_t m_end);

/// The kernel for `tier` (kRef: the reference), or null when none is compiled for it.
GemvFn gemv_kernel(IsaTier tier);
/// The AVX-512 kernel's 16-lane logic run on AVX2 instructions (tests only: it checks that logic on a CPU without
/// AVX-512; needs AVX2).
void gemv_f32_avx512_logic(const GemvArgs& g, int64_t m_begin, int64_t m_end);
/// Name of the kernel gemv_f32 uses at the active tier ("gemv_f32_avx2").
const char* gemv_kernel_name();

/// Rows and columns of a side tile (GemvSide), and the columns of the unit its work is given in (half a tile).
inline constexpr int64_t kGemvSideRows = 8, kGemvSideCols = 32, kGemvSideUnit = 16;

/// Side work a matrix-vector product can carry: 32-column tiles of a second product on 8 rows,
/// Y[r][n] = sum_k X[r][k] W[n][k] (+ bias[n]), each sum k in order from zero, one fused multiply-add per term, the
/// bias added last (the same bits at every thread count, fused or not). The matrix-vector product is bound by the
/// reads of its W from L2 and leaves the FMA units half idle; this product reuses each loaded W vector 8 times, so
/// at the 16-lane tier its FMAs are interleaved with the product's own (one side k per one or two product k) and
/// partly come for free (tiles of 32 columns, 16 accumulators, against 16: lstm_tagger 1.614 -> 1.579 ms). What a batch-of-one recurrence does with its next 8 steps' input product (ops/rnn_prepared.cpp).
struct GemvSide {
  const float* wp = nullptr;               ///< W [N, K] packed by gemv_side_pack
  const float* x[kGemvSideRows] = {};      ///< the rows of X, K floats each (rows may repeat)
  float* y[kGemvSideRows] = {};            ///< the rows of Y, N floats each (distinct)
  const float* bias = nullptr;             ///< [N] or null
  int64_t N = 0, K = 0;
  int64_t unit_begin = 0, unit_end = 0;    ///< units to compute: unit u is columns [16u, 16u + 16) within [0, N)
};
/// Units (N + 15) / 16 of a side product.
inline int64_t gemv_side_units(int64_t N) { return (N + kGemvSideUnit - 1) / kGemvSideUnit; }
/// W [N, K] row-major packed for a side product: tile t holds rows [32t, 32t + 32) as
/// dst[(t * K + k) * 32 + j] = W[32t + j][k], rows past N zero (a tile is one sequential stream).
void gemv_side_pack(const float* w, int64_t N, int64_t K, float* dst);
size_t gemv_side_packed_floats(int64_t N, int64_t K);

/// A GemvFn that also computes all of `side`'s tiles (fused into the product's loop where the tier can).
using GemvSideFn = void (*)(const GemvArgs& g, int64_t m_begin, int64_t m_end, const GemvSide& side);
/// The reference: gemv_f32_ref, then the side tiles in scalar code.
void gemv_side_f32_ref(const GemvArgs& g, int64_t m_begin, int64_t m_end, const GemvSide& side);
/// The side kernel for `tier` (kRef: the reference), or null when none is compiled for it.
GemvSideFn gemv_side_kernel(IsaTier tier);
/// The AVX-512 side kernel's logic on AVX2 instructions (tests only, as gemv_f32_avx512_logic).
void gemv_side_f32_avx512_logic(const GemvArgs& g, int64_t m_begin, int64_t m_end, const GemvSide& side);
/// gemv_f32 carrying `side`: rows split over `pool` as gemv_f32 splits them, the side tiles divided among the same
/// tasks (in units of half a tile: 3 tiles split evenly over 2 threads). M may be 0 (the side product alone, on the calling thread).
void gemv_side_f32(const GemvArgs& g, const GemvSide& side, ThreadPool* pool);

/// A few vectors at once: y[b * ldy + m] = W·x[b * ldx ..] + bias[m] for b < batch (g's x and y are vector 0; its
/// residual and activation are not used; `descending` as for gemv_f32). Each W vector loaded serves kGemvBatchTile products: what a
/// recurrence with a small batch multiplies its states by (a GEMM of M = batch would fill 8 of its 6-row tiles' 12).
/// Each element is one chain of fused multiply-adds in k order (the bits do not depend on the thread count).
inline constexpr int64_t kGemvBatchMax = 8;
/// Rows [m_begin, m_end) for `batch` vectors (m_begin a multiple of kGemvPanel).
using GemvBatchFn = void (*)(const GemvArgs& g, int64_t m_begin, int64_t m_end, int64_t batch, int64_t ldx,
                             int64_t ldy);
/// The reference: a chain of fused multiply-adds per element, k in order.
void gemv_batch_f32_ref(const GemvArgs& g, int64_t m_begin, int64_t m_end, int64_t batch, int64_t ldx, int64_t ldy);
/// The batch kernel for `tier` (kRef: the reference), or null when none is compiled for it.
GemvBatchFn gemv_batch_kernel(IsaTier tier);
/// The AVX-512 batch kernel's logic on AVX2 instructions (tests only, as gemv_f32_avx512_logic).
void gemv_batch_f32_avx512_logic(const GemvArgs& g, int64_t m_begin, int64_t m_end, int64_t batch, int64_t ldx,
                                 int64_t ldy);
/// The batch product at the active tier, rows split over `pool` as gemv_f32 splits them (`descending` too).
void gemv_batch_f32(const GemvArgs& g, int64_t batch, int64_t ldx, int64_t ldy, ThreadPool* pool);

/// y at the active tier, rows split over `pool` in fixed blocks (the result does not depend on the thread count);
/// `descending` reverses each thread's walk over its blocks (and the panels within them), so a thread keeps the same
/// rows of W in either order.
void gemv_f32(const GemvArgs& g, ThreadPool* pool);

}  // namespace kiln::kernels
