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

/// y at the active tier, rows split over `pool` in fixed blocks (the result does not depend on the thread count);
/// `descending` reverses each thread's walk over its blocks (and the panels within them), so a thread keeps the same
/// rows of W in either order.
void gemv_f32(const GemvArgs& g, ThreadPool* pool);

}  // namespace kiln::kernels
