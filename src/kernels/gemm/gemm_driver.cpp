// gemm_f32: cache blocking, packing of the operands that were not packed ahead of time, and the split over threads.
//
// One call, for each batch entry: A (M x K) is packed once into row panels (unless prepacked) and shared by all
// tasks. Tasks split C into rectangles (row ranges aligned to mr, column ranges aligned to nc); a task walks its
// columns nc at a time and K in blocks, takes a kc x nc block of packed B (prepacked, pre-packed for the call, or
// packed by the task into its own thread's buffer: the block stays in L2) and runs each A row panel of its range
// over it (the mr x kc A micro-panel stays in L1 across the block's tiles).
//
// Bits do not depend on the thread count: each C element is computed by exactly one task, K is summed in the
// same blocks in the same order whatever the grid, and the activation sees row segments aligned to nc.

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_kernel.h"

namespace kiln::kernels {

namespace {

// Below this much work a second thread costs more (waking it, sharing the packed operands) than it saves.
constexpr double kMinParallelFlops = 2e6;
// Budget of one pre-packed operand (floats, per calling thread); larger A operands are taken in row rounds.
constexpr int64_t kMaxPrepackFloats = int64_t{4} << 20;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

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

// The calling thread's buffers hold operands pre-packed for the whole call (shared with the pool's workers while
// the call runs); every thread packs its own B blocks into its own.
thread_local Scratch tl_call_a, tl_call_b, tl_task_b;

/// What every task of one round needs.
struct Round {
  const GemmArgs* g = nullptr;
  const GemmMicroKernel* uk = nullptr;
  int64_t mr = 0, nr = 0, kc = 0, nkb = 1, nc = 0;
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
};

MatrixRef entry_b(const GemmArgs& g, int64_t e) {
  MatrixRef b = g.b;
  b.data += e * g.stride_b;
  return b;
}

/// Packs k [k0, k0 + kc) x columns [n0, n0 + cols) of entry e's B into panels of kc x nr at dst.
void pack_b_block(const Round& r, int64_t e, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst) {
  if (kc == 0) return;
  const GemmArgs& g = *r.g;
  if (!g.b_source) {
    r.uk->pack_b(entry_b(g, e), k0, kc, n0, cols, dst);
    return;
  }
  // Implicit GEMM: the source writes each panel in place (ld = nr), so B never exists unpacked.
  const GemmBSource& src = *g.b_source;
  for (int64_t p = 0; p < cols; p += r.nr, dst += kc * r.nr) {
    const int64_t w = std::min(r.nr, cols - p);
    src.fill(src.ctx, k0, kc, n0 + p, w, dst, r.nr);
    if (w < r.nr)
      for (int64_t k = 0; k < kc; ++k) std::memset(dst + k * r.nr + w, 0, static_cast<size_t>(r.nr - w) * sizeof(float));
  }
}

/// C rows [m0, m1) x columns [n0, n1) of batch entry e (m0 - r0 a multiple of mr, n0 a multiple of nc).
void run_task(const Round& r, int64_t e, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const GemmArgs& g = *r.g;
  const GemmEpilogue& ep = g.epilogue;
  const int64_t K = g.K, mr = r.mr, nr = r.nr;
  float* c = g.c + e * g.stride_c;
  const float* res = ep.residual ? ep.residual + e * g.stride_residual : nullptr;
  const float* a_entry = r.a + (e - r.b0) * r.a_entry;
  const GemmTileFn(*tiles)[2] = r.uk->tiles[r.a_row_major ? kRowMajor : kPackedPanel];
  // Where row `m`'s A starts at k0, and the byte ranges of the next row panel to prefetch.
  auto a_at = [&](int64_t m, int64_t k0) {
    return r.a_row_major ? a_entry + m * r.lda + k0 : a_entry + (m - r.a_row0) / mr * K * mr + k0 * mr;
  };
  const bool per_row = ep.bias_axis == GemmEpilogue::BiasAxis::kPerRow;
  const bool activate = ep.activation.kind != Activation::kNone;

  GemmTile t;
  t.lda = r.lda;
  t.ldc = g.ldc;
  t.alpha = ep.alpha;
  t.ldr = ep.ldr;
  t.beta = ep.beta;
  for (int64_t nb0 = n0; nb0 < n1; nb0 += r.nc) {
    const int64_t nbw = std::min(r.nc, n1 - nb0);
    for (int64_t kb = 0; kb < r.nkb; ++kb) {
      const int64_t k0 = kb * r.kc, kc = std::min(r.kc, K - k0);
      const float* bblock;
      int64_t bstride;
      if (r.b) {
        bblock = r.b + (e - r.b0) * r.b_entry + nb0 / nr * K * nr + k0 * nr;
        bstride = K * nr;
      } else {
        float* dst = tl_task_b.get(ceil_div(nbw, nr) * nr * kc);
        pack_b_block(r, e, k0, kc, nb0, nbw, dst);
        bblock = dst;
        bstride = kc * nr;
      }
      t.accumulate = kb > 0;
      for (int64_t ir = m0; ir < m1; ir += mr) {
        const int64_t rows = std::min(mr, m1 - ir);
        const float* apanel = a_at(ir, k0);
        const GemmTileFn* fns = tiles[rows - 1];
        // The next row panel's A comes from L3 or memory (a prepacked weight matrix is often larger than L3):
        // fetch its lines a few per tile while this panel's tiles run, so its first tile does not wait. Packed,
        // it is one range of kc * mr floats; row-major, `next_rows` ranges of kc floats, lda apart.
        const int64_t next_rows = std::min(mr, m1 - ir - mr);
        const char* next_a = next_rows > 0 ? reinterpret_cast<const char*>(a_at(ir + mr, k0)) : nullptr;
        const int64_t row_bytes = (r.a_row_major ? kc : kc * mr) * static_cast<int64_t>(sizeof(float));
        const int64_t row_lines = ceil_div(row_bytes, 64) + (r.a_row_major ? 1 : 0);
        const int64_t row_step = r.a_row_major ? r.lda * static_cast<int64_t>(sizeof(float)) : 0;
        const int64_t a_lines = next_a ? row_lines * (r.a_row_major ? next_rows : 1) : 0;
        const int64_t lines_per_tile = ceil_div(a_lines, ceil_div(nbw, nr));
        int64_t line = 0;
        for (int64_t jr = 0; jr < nbw; jr += nr) {
          for (const int64_t end = std::min(a_lines, line + lines_per_tile); line < end; ++line)
            __builtin_prefetch(next_a + line / row_lines * row_step + line % row_lines * 64, 0, 3);
          const int64_t n = nb0 + jr;
          t.c = c + ir * g.ldc + n;
          t.cols = std::min(nr, nbw - jr);
          if (kb == 0) {
            t.bias_row = ep.bias && per_row ? ep.bias + ir : nullptr;
            t.bias_col = ep.bias && !per_row ? ep.bias + n : nullptr;
            t.residual = res ? res + ir * ep.ldr + n : nullptr;
          }
          fns[t.cols > nr / 2](kc, apanel, bblock + jr / nr * bstride, t);
        }
        if (activate && kb == r.nkb - 1)
          for (int64_t i = ir; i < ir + rows; ++i) {
            float* row = c + i * g.ldc + nb0;
            apply_activation_f32(ep.activation, row, row, nbw);
          }
      }
    }
  }
}

/// Batch entries [b0, b1) x rows [r0, r1): pre-pack what is shared, then the tasks.
void run_round(Round r, ThreadPool* pool, int64_t b1, int64_t r1) {
  const GemmArgs& g = *r.g;
  const int64_t K = g.K, entries = b1 - r.b0, rows = r1 - r.r0;
  const int64_t m_panels = ceil_div(rows, r.mr), n_blocks = ceil_div(g.N, r.nc);
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;

  // The grid: batch entries first, then column blocks (no operand is packed twice), then row ranges; about four
  // tasks per thread so that a thread slowed by another process does not hold the others up.
  int64_t mt = 1, nt = 1;
  if (threads > 1) {
    const int64_t per_entry = ceil_div(4 * threads, entries);
    nt = std::min(n_blocks, per_entry);
    mt = std::min(m_panels, ceil_div(per_entry, nt));
  }

  // A: prepacked, read in place (row-major), or packed here for every entry of the round (once when the entries
  // share one A).
  const bool a_shared = g.stride_a == 0 || g.batch == 1;
  const int64_t a_entries = g.packed_a || r.a_row_major ? 0 : a_shared ? 1 : entries;
  float* a_buf = nullptr;
  if (g.packed_a) {
    r.a = g.packed_a->data();
    r.a_entry = 0;
    r.a_row0 = 0;
  } else if (r.a_row_major) {
    r.a = g.a.data + r.b0 * g.stride_a;
    r.a_entry = g.stride_a;
    r.lda = g.a.ld;
  } else {
    a_buf = tl_call_a.get(a_entries * m_panels * r.mr * K);
    r.a = a_buf;
    r.a_entry = a_shared ? 0 : m_panels * r.mr * K;
    r.a_row0 = r.r0;
  }
  // B: prepacked; or packed here over the whole K when row ranges (or entries sharing one B) would otherwise
  // each pack the same blocks; or left to the tasks.
  const bool b_shared = g.stride_b == 0 || g.batch == 1;
  const int64_t n_panels = ceil_div(g.N, r.nr);
  const int64_t b_entries = b_shared ? 1 : entries;
  float* b_buf = nullptr;
  if (g.packed_b) {
    r.b = g.packed_b->data();
    r.b_entry = 0;
  } else if ((mt > 1 || (b_shared && entries > 1)) && b_entries * n_panels * r.nr * K <= kMaxPrepackFloats) {
    b_buf = tl_call_b.get(b_entries * n_panels * r.nr * K);
    r.b = b_buf;
    r.b_entry = b_shared ? 0 : n_panels * r.nr * K;
  }

  const int64_t a_items = a_buf ? a_entries * m_panels : 0, b_items = b_buf ? b_entries * n_panels : 0;
  if (K > 0 && a_items + b_items > 0) {
    parallel_for(pool, static_cast<size_t>(a_items + b_items), [&](size_t item) {
      const int64_t i = static_cast<int64_t>(item);
      if (i < a_items) {
        const int64_t e = i / m_panels, p = i % m_panels;
        MatrixRef a = g.a;
        a.data += (a_shared ? 0 : r.b0 + e) * g.stride_a;
        const int64_t m = r.r0 + p * r.mr;
        r.uk->pack_a(a, m, std::min(r.mr, r1 - m), 0, K, a_buf + e * r.a_entry + p * r.mr * K);
      } else {
        const int64_t e = (i - a_items) / n_panels, p = (i - a_items) % n_panels;
        const int64_t n = p * r.nr;
        pack_b_block(r, b_shared ? 0 : r.b0 + e, 0, K, n, std::min(r.nr, g.N - n), b_buf + e * r.b_entry + p * r.nr * K);
      }
    });
  }

  parallel_for(pool, static_cast<size_t>(entries * mt * nt), [&](size_t item) {
    const int64_t i = static_cast<int64_t>(item);
    const int64_t e = r.b0 + i / (mt * nt), mi = i / nt % mt, ni = i % nt;
    const int64_t m0 = r.r0 + mi * m_panels / mt * r.mr, m1 = std::min(r1, r.r0 + (mi + 1) * m_panels / mt * r.mr);
    const int64_t n0 = ni * n_blocks / nt * r.nc, n1 = std::min(g.N, (ni + 1) * n_blocks / nt * r.nc);
    run_task(r, e, m0, m1, n0, n1);
  });
}

void validate(const GemmArgs& g) {
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

int choose_kernel(const GemmArgs& g) {
  const int ka = g.packed_a ? g.packed_a->kernel() : -1, kb = g.packed_b ? g.packed_b->kernel() : -1;
  const auto entries = gemm_kernel_entries();
  if (ka >= 0 && kb >= 0 && ka != kb)
    fail(ErrorCode::kInvalidArgument, "gemm_f32: A was packed for {} and B for {}; pack both at the same ISA tier",
         entries[ka].name, entries[kb].name);
  const int k = ka >= 0 ? ka : kb >= 0 ? kb : gemm_active_kernel();
  KILN_ASSERT(k >= 0 && k < static_cast<int>(entries.size()) && isa_available(entries[k].tier));
  return k;
}

}  // namespace

void gemm_f32(const GemmArgs& g, ThreadPool* pool) {
  validate(g);
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  Round r;
  r.g = &g;
  r.uk = gemm_kernel_entries()[choose_kernel(g)].code();
  r.mr = r.uk->mr;
  r.nr = r.uk->nr;
  const GemmBlocking blocking = gemm_blocking(*r.uk);
  r.nc = blocking.nc;
  // K in equal blocks (576 = 3 x 192 rather than 256 + 256 + 64), rounded to 4 for the unrolled loop.
  r.nkb = g.K == 0 ? 1 : ceil_div(g.K, blocking.kc_max);
  r.kc = g.K == 0 ? 0 : round_up(ceil_div(g.K, r.nkb), 4);
  if (g.K > 0) r.nkb = ceil_div(g.K, r.kc);

  const double flops = 2.0 * static_cast<double>(g.batch) * static_cast<double>(g.M) * static_cast<double>(g.N) *
                       static_cast<double>(std::max<int64_t>(g.K, 1));
  ThreadPool* threads = pool && pool->threads() > 1 && flops >= kMinParallelFlops ? pool : nullptr;

  // A row-major A is read in place; a transposed one is packed, in rounds: everything at once when it fits the
  // budget, else groups of entries or ranges of rows.
  r.a_row_major = !g.packed_a && !g.a.trans;
  int64_t entries_per_round = g.batch, rows_per_round = g.M;
  if (!g.packed_a && !r.a_row_major && g.K > 0) {
    const bool a_shared = g.stride_a == 0 || g.batch == 1;
    const int64_t per_entry = round_up(g.M, r.mr) * g.K;
    if (per_entry * (a_shared ? 1 : g.batch) > kMaxPrepackFloats) {
      if (a_shared || per_entry > kMaxPrepackFloats) {
        entries_per_round = a_shared ? g.batch : 1;
        rows_per_round = std::max(r.mr, kMaxPrepackFloats / (g.K * r.mr) * r.mr);
      } else {
        entries_per_round = kMaxPrepackFloats / per_entry;
      }
    }
  }
  for (int64_t b0 = 0; b0 < g.batch; b0 += entries_per_round)
    for (int64_t r0 = 0; r0 < g.M; r0 += rows_per_round) {
      r.b0 = b0;
      r.r0 = r0;
      run_round(r, threads, std::min(g.batch, b0 + entries_per_round), std::min(g.M, r0 + rows_per_round));
    }
}

}  // namespace kiln::kernels
