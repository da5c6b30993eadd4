#pragma once
// What the tasks of one gemm_f32 call work with (gemm_driver.cpp): packing buffers, the round's shared state, the
// view of one batch entry, and software prefetching. Internal to the GEMM family's driver (included by it alone).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "base/error.h"
#include "base/int_math.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_kernel.h"

namespace kiln::kernels::gemm_task {

/// How many times a Scratch has (re)allocated (gemm_scratch_allocations).
inline std::atomic<uint64_t> scratch_allocations{0};

/// A grow-only, 64-byte aligned buffer: once warm, calls allocate nothing.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(data_); }
  float* get(int64_t floats) {
    const size_t bytes = std::max<size_t>(static_cast<size_t>(floats) * sizeof(float), 64);
    if (bytes > capacity_) {
      std::free(data_);
      scratch_allocations.fetch_add(1, std::memory_order_relaxed);
      capacity_ = (bytes + 4095) / 4096 * 4096;
      data_ = static_cast<float*>(std::aligned_alloc(64, capacity_));
      if (!data_) {
        capacity_ = 0;
        fail(ErrorCode::kLimitExceeded, "gemm_f32: cannot allocate {} bytes of packing space", bytes);
      }
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

/// What every task of one round needs.
struct Round {
  const GemmArgs* g = nullptr;
  const GemmMicroKernel* uk = nullptr;
  int64_t mr = 0, nr = 0, kc = 0, nkb = 1;
  int64_t l2_bytes = 0, l2_sets = 0;
  int64_t n_panels = 0, n_blocks = 1;  ///< column block j: panels [j * n_panels / n_blocks, (j + 1) * ...)
  /// First column of block j (N for j == n_blocks).
  int64_t block_col(int64_t j) const { return std::min(g->N, j * n_panels / n_blocks * nr); }
  int64_t b0 = 0, r0 = 0;  ///< first batch entry and row of the round
  // A, read in place when it is row-major (a + (e - b0) * a_entry + m * lda), else packed in row panels:
  // panel of (entry e, row m) at a + (e - b0) * a_entry + (m - a_row0) / mr * K * mr.
  const float* a = nullptr;
  int64_t a_entry = 0, a_row0 = 0, lda = 0;
  bool a_row_major = false;
  // B column panels packed over the whole K (prepacked, or pre-packed for the round), or null: tasks pack their
  // blocks themselves. Panel of (entry e, column n): b + (e - b0) * b_entry + n / nr * K * nr.
  const float* b = nullptr;
  int64_t b_entry = 0;
  /// Full-width column panels read from the row-major B in place, column panel by column panel (tasks pack only
  /// the last, partial panel): see read_b_in_place.
  bool b_in_place = false;
  /// A row-major A whose rows would crowd one L1 set (a_rows_crowd_l1): each task copies a row panel's K block
  /// into a buffer of its own with rows kc + kCopyPad apart before its tiles read it.
  bool a_copy = false;
};

inline MatrixRef entry_b(const GemmArgs& g, int64_t e) {
  MatrixRef b = g.b;
  b.data += e * g.stride_b;
  return b;
}

/// Prefetches `rows` byte ranges (row_bytes long, row_step apart) a few lines per step over `steps` steps, so that
/// data the next stretch of work reads from L3 or memory arrives while the current one computes.
class Prefetch {
 public:
  Prefetch() = default;
  Prefetch(const void* p, int64_t rows, int64_t row_bytes, int64_t row_step, int64_t steps)
      : p_(static_cast<const char*>(p)),
        row_step_(row_step),
        row_lines_(ceil_div(row_bytes, 64) + 1),  // +1: the range need not start on a line
        rows_left_(rows),
        per_step_(ceil_div(row_lines_ * rows, std::max<int64_t>(steps, 1))) {}
  /// kLocality 3: into L1 (needed next), 2: into L2 (needed after that). kWrite: the lines will be written
  /// (prefetchw: owned, so the stores that follow do not each wait for the line).
  template <int kLocality, bool kWrite = false> void step() {
    for (int64_t i = 0; i < per_step_ && rows_left_ > 0; ++i) {
      __builtin_prefetch(p_ + line_ * 64, kWrite ? 1 : 0, kLocality);
      if (++line_ == row_lines_) {
        line_ = 0;
        --rows_left_;
        p_ += row_step_;
      }
    }
  }

 private:
  const char* p_ = nullptr;
  int64_t row_step_ = 0, row_lines_ = 0, rows_left_ = 0, per_step_ = 0, line_ = 0;
};

/// Whether the activation is applied by a pass over each stored row segment (apply_activation_f32) rather than in
/// the tiles' registers (Relu, Clip, HardSwish, Sigmoid, SiLU, GELU (erf)).
inline bool activation_after_tiles(const ActivationParams& a) {
  switch (a.kind) {
    case Activation::kNone:
    case Activation::kRelu:
    case Activation::kClip:
    case Activation::kHardSwish:
    case Activation::kSigmoid:
    case Activation::kSilu:
    case Activation::kGeluErf:
      return false;
    default:
      return true;
  }
}

/// What the tasks of one batch entry share: where its A, C and residual start, which tiles read A, and how the
/// epilogue's activation is applied (Relu, Clip, HardSwish, Sigmoid, SiLU and GELU (erf) in the tiles' registers
/// on the last K block, saving a pass over C; others by apply_activation_f32 over each row segment of a column
/// block once it is stored).
struct EntryView {
  const Round& r;
  const GemmArgs& g;
  const GemmEpilogue& ep;
  float* c;
  const float* res;
  const float* a_entry;
  GemmALayout layout;
  bool clamp, hard_swish, sigmoid, silu, gelu_erf, activate_after;

  EntryView(const Round& round, int64_t e)
      : r(round),
        g(*round.g),
        ep(g.epilogue),
        c(g.c + e * g.stride_c),
        res(ep.residual ? ep.residual + e * g.stride_residual : nullptr),
        a_entry(r.a + (e - r.b0) * r.a_entry),
        layout(r.a_row_major ? kRowMajor : kPackedPanel),
        clamp(ep.activation.kind == Activation::kRelu || ep.activation.kind == Activation::kClip),
        hard_swish(ep.activation.kind == Activation::kHardSwish),
        sigmoid(ep.activation.kind == Activation::kSigmoid),
        silu(ep.activation.kind == Activation::kSilu),
        gelu_erf(ep.activation.kind == Activation::kGeluErf),
        activate_after(activation_after_tiles(ep.activation)) {}

  /// Runs the tile of t.rows x t.cols (t placed) over kc steps of A at a and B's panel at b (gemm_run_tile).
  void run(const GemmTile& t, int64_t kc, const float* a, const float* b) const {
    gemm_run_tile(*r.uk, layout, t, kc, a, b);
  }

  /// Where row m's A starts at k0.
  const float* a_at(int64_t m, int64_t k0) const {
    return r.a_row_major ? a_entry + m * r.lda + k0 : a_entry + (m - r.a_row0) / r.mr * g.K * r.mr + k0 * r.mr;
  }

  /// A tile with the fields that are the same for every tile of the call, and the activation of K block kb.
  GemmTile tile() const {
    GemmTile t;
    t.lda = r.lda;
    t.ldc = g.ldc;
    t.alpha = ep.alpha;
    t.ldr = ep.ldr;
    t.beta = ep.beta;
    t.clamp_lo = ep.activation.kind == Activation::kClip ? ep.activation.alpha : 0.0f;
    t.clamp_hi = ep.activation.kind == Activation::kClip ? ep.activation.beta : __builtin_inff();
    return t;
  }
  void set_block(GemmTile& t, int64_t kb) const {
    t.accumulate = kb > 0;
    t.clamp = clamp && kb == r.nkb - 1;
    t.hard_swish = hard_swish && kb == r.nkb - 1;
    t.sigmoid = sigmoid && kb == r.nkb - 1;
    t.silu = silu && kb == r.nkb - 1;
    t.gelu_erf = gelu_erf && kb == r.nkb - 1;
  }

  /// Points t at the C tile at (row m, column n), and on the first K block at its bias and residual.
  void place(GemmTile& t, int64_t m, int64_t n, int64_t kb) const {
    t.c = c + m * g.ldc + n;
    if (kb > 0) return;
    const bool per_row = ep.bias_axis == GemmEpilogue::BiasAxis::kPerRow;
    t.bias_row = ep.bias && per_row ? ep.bias + m : nullptr;
    t.bias_col = ep.bias && !per_row ? ep.bias + n : nullptr;
    t.residual = res ? res + m * ep.ldr + n : nullptr;
  }

  /// The activation the tiles did not apply, on rows [m0, m1) x columns [n0, n0 + width).
  void activate(int64_t m0, int64_t m1, int64_t n0, int64_t width) const {
    if (!activate_after) return;
    for (int64_t i = m0; i < m1; ++i) {
      float* row = c + i * g.ldc + n0;
      apply_activation_f32(ep.activation, row, row, width);
    }
  }
};

}  // namespace kiln::kernels::gemm_task
