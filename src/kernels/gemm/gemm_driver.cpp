// gemm_f32: cache blocking, packing of the operands that were not packed ahead of time, and the split over threads.
//
// One call, for each batch entry: A is read in place when row-major (rows that would crowd one L1 set are copied
// a K block at a time to rows further apart: a_rows_crowd_l1), else packed once into row panels (unless
// prepacked). Columns are cut into blocks of at most nc (whole panels, an even number of them: two threads get
// equal shares), K into blocks of at most kc_max. Tasks split C into rectangles (row ranges aligned to mr, runs
// of column blocks); a task takes each column block K block after K block: a kc x nc block of packed B
// (prepacked, pre-packed for the call, or packed by the task into its own thread's buffer: it stays in L2), over
// which every A row panel of its range passes (the mr x kc A micro-panel stays in L1 across the block's tiles).
// When A's row panels are few (they fit half of L2), a row-major B is not packed: the task reads its kc x nc
// blocks in place, in the same order as packed ones (read_b_in_place).
//
// Bits do not depend on the thread count: each C element is computed by exactly one task, K is summed in the
// same blocks in the same order whatever the grid, and the activation sees the same row segments (the column
// blocks, which depend on N only).

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "base/error.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_kernel.h"
#include "kernels/gemm/gemm_task.h"

namespace kiln::kernels {

namespace {

// Below this much work a second thread costs more (waking it, sharing the packed operands) than it saves, unless
// the operands are large: a classifier at batch 1 (1280x1000, 2.6 MFLOP) is bound by streaming its 5 MB of
// weights from memory, which two cores do faster (MobileNet-v3's two classifier GEMMs: 0.41 ms each at 1 and at 2
// threads before).
constexpr double kMinParallelFlops = 3e6;
constexpr double kMinParallelBytes = 1 << 20;
// Tasks per thread in a parallel call (see run_round's grid).
constexpr int64_t kTasksPerThread = 8;
// The widest column block (in panels) whose tasks also prefetch the packed A row panel after next (run_task).
constexpr int64_t kFarAPanels = 8;
// Rows of B one pre-packing item takes (whole rows: the reads stream).
constexpr int64_t kPackRows = 32;
// Budget of one pre-packed operand (floats, per calling thread); larger A operands are taken in row rounds.
constexpr int64_t kMaxPrepackFloats = int64_t{4} << 20;

using gemm_task::EntryView;
using gemm_task::Prefetch;
using gemm_task::Round;
using gemm_task::Scratch;
using gemm_task::activation_after_tiles;
using gemm_task::entry_b;
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// The calling thread's buffers hold operands pre-packed for the whole call (shared with the pool's workers while
// the call runs); every thread packs its own B blocks into its own.
thread_local Scratch tl_call_a, tl_call_b, tl_task_b, tl_source, tl_task_a;
// Floats added to the row length of a copied A block (Round::a_copy): rows kc + 16 floats apart fall in different
// L1 sets.
constexpr int64_t kCopyPad = 16;
// The most columns (a multiple of every kernel's nr) and rows a B source is asked for at once (64 KiB). Wide and
// short rather than 64 x 256: a convolution's fill does its window arithmetic once per row and output row, so
// longer rows spread it over more floats. Measured (Zen 4, 1 thread, ResNet-50's 3x3 stride-2 layers alone, best
// of 60 runs, 3 interleaved rounds): 56x56 128 -> 128 2.50 -> 2.44 ms, 28x28 256 -> 256 2.43 -> 2.37, 14x14
// 512 -> 512 2.64 -> 2.66 (32 rows x 512 columns: the same).
constexpr int64_t kSourceColumns = 256, kSourceRows = 64;



/// Packs k [k0, k0 + kc) x columns [n0, n0 + cols) of entry e's B into panels of kc x nr rows, panel_stride apart.
void pack_b_block(const Round& r, int64_t e, int64_t k0, int64_t kc, int64_t n0, int64_t cols, float* dst,
                  int64_t panel_stride) {
  if (kc == 0) return;
  const GemmArgs& g = *r.g;
  if (!g.b_source) {
    r.uk->pack_b(entry_b(g, e), k0, kc, n0, cols, dst, panel_stride);
    return;
  }
  // Implicit GEMM: the source writes kSourceColumns columns by up to kSourceRows rows at a time, row-major, into
  // the thread's staging buffer (64 KiB, in L2), packed from there like a B in memory: the source's per-row
  // work (a convolution's window arithmetic) is spread over long runs, and the copy into panels is vectorised.
  // Measured on Zen 2 (gemm_bench conv_source, a 3x3 convolution 64x3136x576): 56 -> 70 GFLOP/s against
  // filling each nr-column panel in place.
  const GemmBSource& src = *g.b_source;
  float* stage = tl_source.get(kSourceRows * kSourceColumns);
  for (int64_t p = 0; p < cols; p += kSourceColumns, dst += kSourceColumns / r.nr * panel_stride) {
    const int64_t w = std::min(kSourceColumns, cols - p);
    for (int64_t k = 0; k < kc; k += kSourceRows) {
      const int64_t rows = std::min(kSourceRows, kc - k);
      src.fill(src.ctx, k0 + k, rows, n0 + p, w, stage, w);
      r.uk->pack_b(MatrixRef{stage, w, false}, 0, rows, 0, w, dst + k * r.nr, panel_stride);
    }
  }
}


/// The next kc x nbw block of B a task reads, from where it will read it: the packed panels (prepacked or packed
/// for the call) or the memory it packs from. Nothing for a B source (its reads are its own).
Prefetch next_b_block(const Round& r, int64_t e, int64_t k0, int64_t kc, int64_t nb0, int64_t nbw, int64_t steps) {
  const GemmArgs& g = *r.g;
  constexpr int64_t f = sizeof(float);
  if (r.b)
    return Prefetch(r.b + (e - r.b0) * r.b_entry + nb0 / r.nr * g.K * r.nr + k0 * r.nr, ceil_div(nbw, r.nr),
                    kc * r.nr * f, g.K * r.nr * f, steps);
  if (g.b_source) return {};
  const MatrixRef b = entry_b(g, e);
  return b.trans ? Prefetch(b.data + nb0 * b.ld + k0, nbw, kc * f, b.ld * f, steps)
                 : Prefetch(b.data + k0 * b.ld + nb0, kc, nbw * f, b.ld * f, steps);
}


/// C rows [m0, m1) x column blocks [j0, j1) of batch entry e (m0 - r0 a multiple of mr).
void run_task(const Round& r, int64_t e, int64_t m0, int64_t m1, int64_t j0, int64_t j1) {
  const EntryView v(r, e);
  const int64_t K = v.g.K, mr = r.mr, nr = r.nr;
  GemmTile t = v.tile();
  for (int64_t j = j0; j < j1; ++j) {
    const int64_t nb0 = r.block_col(j), nbw = r.block_col(j + 1) - nb0;
    for (int64_t kb = 0; kb < r.nkb; ++kb) {
      const int64_t k0 = kb * r.kc, kc = std::min(r.kc, K - k0);
      const float* bblock;
      int64_t bstride;
      // B read in place (Round::b_in_place): the block's full panels straight from B's rows, ldb apart; its last,
      // partial panel packed (a full-width load would read past B's rows). In this order rather than strip by
      // strip (every row panel over one kc x nr strip, then the next): a row panel's tiles write its C rows in runs
      // of nc columns, and next_b brings the next block's rows as whole runs, where strips wrote C and read B 64
      // bytes per row, each row in its own page (a 56x56 plane). Measured on a Zen 3 host (ab.py, min of round
      // medians, 3-4 runs each): SqueezeNet batch 1 1-3 % faster at 1 and 2 threads, batch 8 0.3-2 % at 1 thread
      // and -4 to +3 % at 2 (noise); ResNet-18 and ResNet-50 within 1.3 % either way. One path for both B's.
      int64_t in_place_cols = 0;
      const float* partial_panel = nullptr;
      if (r.b_in_place) {
        const MatrixRef b = entry_b(v.g, e);
        in_place_cols = nbw / nr * nr;
        bblock = b.data + k0 * b.ld + nb0;
        bstride = b.ld;
        if (in_place_cols < nbw) {
          float* dst = tl_task_b.get(nr * kc);
          r.uk->pack_b(b, k0, kc, nb0 + in_place_cols, nbw - in_place_cols, dst, nr * kc);
          partial_panel = dst;
        }
      } else if (r.b) {
        bblock = r.b + (e - r.b0) * r.b_entry + nb0 / nr * K * nr + k0 * nr;
        bstride = K * nr;
      } else {
        float* dst = tl_task_b.get(ceil_div(nbw, nr) * nr * kc);
        pack_b_block(r, e, k0, kc, nb0, nbw, dst, kc * nr);
        bblock = dst;
        bstride = kc * nr;
      }
      v.set_block(t, kb);
      // While this block computes, bring the next one (K block after K block, then the next columns) into L2.
      // Not for a single row panel of a packed B: it reads each block once, as a stream the hardware prefetcher
      // follows (a B read in place is read panel by panel, kc rows apart: no stream).
      Prefetch next_b;
      if ((m1 - m0 > mr || r.b_in_place) && K > 0) {
        const int64_t steps = ceil_div(m1 - m0, mr) * ceil_div(nbw, nr);
        if (kb + 1 < r.nkb) {
          next_b = next_b_block(r, e, k0 + r.kc, std::min(r.kc, K - k0 - r.kc), nb0, nbw, steps);
        } else if (j + 1 < j1) {
          next_b = next_b_block(r, e, 0, std::min(r.kc, K), nb0 + nbw, r.block_col(j + 2) - nb0 - nbw, steps);
        }
      }
      for (int64_t ir = m0; ir < m1; ir += mr) {
        const int64_t rows = std::min(mr, m1 - ir);
        const float* apanel = v.a_at(ir, k0);
        if (r.a_copy) {
          // Rows of A that would share one L1 set: the row panel's K block, copied (each row a contiguous run)
          // to rows that do not, stays in L1 across the column panels.
          const int64_t ld = r.kc + kCopyPad;
          float* buf = tl_task_a.get(mr * ld);
          for (int64_t i = 0; i < rows; ++i) std::copy_n(apanel + i * r.lda, kc, buf + i * ld);
          apanel = buf;
          t.lda = ld;
        }
        // The next row panel's A comes from L3 or memory (a prepacked weight matrix is often larger than L3):
        // fetch its lines a few per tile while this panel's tiles run, so its first tile does not wait.
        // Packed, the next panel is one range of kc * mr floats; row-major, up to mr ranges of kc floats.
        const int64_t next_rows = std::min(mr, m1 - ir - mr);
        // Not a row-major A whose K block is its whole rows (a channels-last 1x1 convolution's input): the next
        // panel then follows this one in memory, a stream the hardware prefetcher follows, and with a short K the
        // prefetches were a tenth of a tile's work (12544x16x32: 174 -> 158 us; MobileNet-v3 5.55 -> 5.46 ms).
        const bool a_streams = r.a_row_major && r.lda == kc;
        Prefetch next_a;
        if (next_rows > 0 && !a_streams)
          next_a = r.a_row_major ? Prefetch(v.a_at(ir + mr, k0), next_rows, kc * 4, r.lda * 4, ceil_div(nbw, nr))
                                 : Prefetch(v.a_at(ir + mr, k0), 1, kc * mr * 4, 0, ceil_div(nbw, nr));
        // A packed row panel that few tiles use (a column block of at most kFarAPanels panels: a 7x7 or 14x14
        // plane's 49 or 196 positions) computes in less time than its K block takes to come from memory (the
        // weights of ResNet-50's layer4, 4 MB per convolution, are not in cache when it runs): the panel after
        // next too, into L2. Measured (Zen 4, 1 thread, ResNet-50 in the network): layer4's 1x1 convolutions
        // 1.30 -> 1.18 ms, its 3x3 stride 2 (implicit GEMM) 3.04 -> 2.78, its downsample 2.51 -> 2.32.
        Prefetch far_a;
        if (!r.a_row_major && nbw <= kFarAPanels * nr && m1 - ir > 2 * mr)
          far_a = Prefetch(v.a_at(ir + 2 * mr, k0), 1, kc * mr * 4, 0, ceil_div(nbw, nr));
        // On the last K block, the next row panel's rows of C, for writing: a C that is not in cache (an output
        // whose arena space was last written a run ago) otherwise costs each tile's stores a read for ownership
        // from memory, one line at a time. Measured (Zen 4, 1 thread): MobileNet-v2's 112x112 expansion channels-
        // last (12544x96x16) with a cold C 0.98 -> 0.58 ms (0.48 -> 0.51 with C in L3); MobileNet-v2 8.16 ->
        // 7.61 ms, MobileNet-v3 and EfficientNet-b0 3 % faster, ResNet-18, SqueezeNet and ViT unchanged.
        Prefetch next_c;
        if (kb == r.nkb - 1 && next_rows > 0)
          next_c = Prefetch(v.c + (ir + mr) * v.g.ldc + nb0, next_rows, nbw * 4, v.g.ldc * 4, ceil_div(nbw, nr));
        for (int64_t jr = 0; jr < nbw; jr += nr) {
          next_a.step<3>();
          far_a.step<2>();
          next_b.step<2>();
          next_c.step<2, true>();
          v.place(t, ir, nb0 + jr, kb);
          t.cols = std::min(nr, nbw - jr);
          t.rows = rows;
          if (r.b_in_place) {
            const bool in_place = jr < in_place_cols;
            t.ldb = in_place ? bstride : 0;
            v.run(t, kc, apanel, in_place ? bblock + jr : partial_panel);
          } else {
            v.run(t, kc, apanel, bblock + jr / nr * bstride);
          }
        }
        if (kb == r.nkb - 1) v.activate(ir, ir + rows, nb0, nbw);
      }
    }
  }
}

/// Whether `rows` rows `stride` bytes apart (a strip of B read in place) fall into enough distinct sets of L2 to stay
/// there: rows 4 KiB or 16 KiB apart (planes of 32x32, 64x64) share a few sets, evict one another, and each row
/// panel of A would read them again from L3 (measured: 64x1024x256 in place 54 GFLOP/s, packed 79).
bool strip_stays_in_l2(int64_t stride, int64_t rows, int64_t l2_sets) {
  constexpr int64_t kMaxSets = 8192;
  uint64_t seen[kMaxSets / 64] = {};
  const int64_t sets = std::min(l2_sets, kMaxSets);
  int64_t distinct = 0;
  for (int64_t k = 0; k < rows; ++k) {
    const int64_t set = k * stride / 64 % sets;
    const uint64_t bit = uint64_t{1} << (set % 64);
    if (!(seen[set / 64] & bit)) ++distinct, seen[set / 64] |= bit;
  }
  return 4 * distinct >= 3 * rows;
}

/// Whether `rows` rows of a row-major A, `stride` bytes apart, crowd one set of L1: more than 6 of an 8-way set's
/// lines (the others hold the B lines streaming through and C). L1 data caches index their sets by address bits
/// 6..11 (32 KiB / 8 ways, 48 KiB / 12 ways), so rows 4 KiB apart (K = 1024: a transformer's MLP down projection)
/// all fall in one set, and every tile of a row panel reads its A lines again from L2. Measured (Zen 4, 1 thread,
/// M = 128 by a prepacked K x 256): K = 1024 101 GFLOP/s read in place, 111 copied (112 at K = 1008 in place);
/// K = 2048 101 -> 109; K = 512 (6 rows of 12 per set) 113 in place, 112 copied: left in place.
bool a_rows_crowd_l1(int64_t stride, int64_t rows) {
  constexpr int64_t kSets = 64, kMaxPerSet = 6;
  int64_t count[kSets] = {};
  for (int64_t r = 0; r < rows; ++r)
    if (++count[r * stride / 64 % kSets] > kMaxPerSet) return true;
  return false;
}

/// Whether the tasks read a row-major B in place (Round::b_in_place) rather than packing it: A in row panels
/// (prepacked or packed for the call) that fit half of L2 (they are read again for every column panel of B), a
/// C of at most 4x L2, and rows of B that do not share L2's sets. Packing costs a load and a store per element of
/// B, and with few row panels that is a large share of the FMAs it feeds; in place, a kc x nc block of B stays in
/// L2 across the row panels, as a packed one does. Measured on Zen 2 (benchmarks/gemm_bench.cpp, 1 thread): 1x1 convolutions gained
/// 5-15 % (64x3136x256: 78 -> 91 GFLOP/s, 16x3025x64: 48 -> 63, 256x784x128: 86 -> 94, 64x169x512: 81 -> 84).
/// Not with A read in place (attention's P.V, 197x64x197: 93 -> 87, A's rows re-read per column panel) nor a C
/// far larger than L2 (32x50176x27: 60 -> 53: C's rows then go to memory in 64-byte pieces, one per tile, where
/// the packed path writes 1 KiB runs). The C limit still pays now that in-place blocks keep the packed order (Zen 3,
/// gemm_bench, limit 4x -> 64x L2): C of 3.2 MB, 256x3136x64 79 -> 67 GFLOP/s, 64x12544x147 78 -> 77; 6.4 MB,
/// 32x50176x27 57 -> 54.
/// Not on several threads where B's rows are not whole cache lines apart (NCHW planes of 55x55, 27x27: every
/// vector load of a row straddles two lines) and its columns take at least 4 panels per thread: there, reading a
/// B just written by the node before (in the network, always) cost each thread more than packing it. Measured on
/// the Emerald Rapids host, 2 threads, under SCHED_FIFO, B rewritten before each call: 16x3025x128 165 -> 75 us,
/// 32x729x256 135 -> 98, 64x3025x16 52 -> 44; in SqueezeNet (min of 3 rounds) features.4/squeeze 0.175 -> 0.088
/// ms, features.7/squeeze 0.143 -> 0.108, the model 3.58 -> 3.36 ms. At 1 thread in place stays faster (the same
/// layers 1-20 % slower packed; SqueezeNet 5.34 -> 5.43 ms), and so on the 13x13 planes' 6 panels (64x169x512 in
/// place 65 us, packed 75).
/// Only a B that fits L2 whole: on the Emerald Rapids host (2 MiB L2, AVX-512) larger ones lost to packing, their
/// blocks' rows (kc = 256 of them, each in its own page) re-read for every row panel of A (isolated 1x1
/// convolutions + ReLU, kiln bench min ms, in place -> packed, same run: 64x3136x256 1.10 -> 0.87, 128x3136x256
/// 1.91 -> 1.49), while B within L2 gains in place (16x3025x128 0.134 -> 0.155 packed, 32x729x256 0.078 ->
/// 0.099, 48x169x384 0.045 -> 0.050). On Zen 2 (512 KiB L2) this packs what gained in place above (64x3136x256).
bool read_b_in_place(const Round& r, int64_t rows, int64_t threads) {
  const GemmArgs& g = *r.g;
  constexpr int64_t f = sizeof(float);
  if (threads > 1 && g.b.ld * f % 64 != 0 && r.n_panels >= 4 * threads) return false;
  return !g.packed_b && !g.b_source && !g.b.trans && g.K > 0 && !r.a_row_major &&
         round_up(rows, r.mr) * g.K * f <= r.l2_bytes / 2 && rows * g.N * f <= 4 * r.l2_bytes &&
         g.K * g.N * f <= r.l2_bytes &&
         strip_stays_in_l2(g.b.ld * f, std::min(r.kc, g.K), r.l2_sets);
}

/// Work of column panels [p0, p1) of N in full-panel units: a last panel of at most nr / 2 (+ the column tile's
/// kGemmColumnTileCols) columns runs as a half-width tile (gemm_run_tile), about half a full one's FMAs.
double panel_work(const Round& r, int64_t p0, int64_t p1) {
  double w = 0;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t cols = std::min(r.nr, r.g->N - p * r.nr);
    w += cols == r.nr ? 1.0 : 2 * cols <= r.nr + 2 * kGemmColumnTileCols ? 0.6 : 1.0;
  }
  return w;
}

/// The busiest of `parts` equal ranges of `units` units of work (cost(u0, u1) the work of units [u0, u1)), as a
/// share of an even split: 1.0 is perfect balance.
template <typename Cost> double busiest_share(int64_t units, int64_t parts, Cost&& cost) {
  double worst = 0, total = 0;
  for (int64_t t = 0; t < parts; ++t) {
    const double w = cost(t * units / parts, (t + 1) * units / parts);
    worst = std::max(worst, w);
    total += w;
  }
  return total > 0 ? worst * static_cast<double>(parts) / total : 1.0;
}

/// Whether a round of a B source (implicit GEMM) whose column blocks are fewer than the threads gives each thread
/// a range of columns (narrower blocks: r.n_blocks raised to the threads) instead of a range of rows: each row
/// range fills and packs all of B again from the source, a column range only its own columns, but reads all of A.
/// So where A is small (within half of L2: a layer of few output channels) and the columns share out at least as
/// evenly as the rows. Measured (Emerald Rapids, 2 threads, gemm_bench-like calls): 3x3 stride-2 convolutions
/// 128x784x1152 1263 -> 1018 us, 128x784x576 643 -> 515, 64x784x576 447 -> 322, 128x196x1152 384 -> 324. Not for
/// a B read from memory: with a short K (a 1x1 convolution of few input channels) two threads writing the two
/// halves of every row of C slowed each other (128x729x64: 46 us by rows, 78 by columns; 128x784x128 91 -> 122).
/// Columns too, whatever B, where the rows are fewer than one panel per thread (a classifier at batch 1, M = 1:
/// with a 2 MiB L2 its 1000 columns are one block, and the call ran on one thread). Measured (Emerald Rapids, 2
/// threads, SCHED_FIFO, weights prepacked as B): 1x1000x2048 301 -> 139 us, 1x1000x1280 170 -> 66; MobileNet-v2 at
/// 2 threads 3.22 -> 3.08 ms, ResNet-50 36.4 -> 35.9 (ab.py, 3 rounds).
/// Only where the activation is applied in the tiles' registers: the row segments an activation pass sees (the
/// column blocks) must not depend on the threads (gemm.h: the bits do not).
bool split_columns(const Round& r, int64_t entries, int64_t rows, int64_t threads) {
  const GemmArgs& g = *r.g;
  if (entries * r.n_blocks >= threads || r.n_panels < 2 * threads || activation_after_tiles(g.epilogue.activation))
    return false;
  const int64_t m_panels = ceil_div(rows, r.mr);
  // Fewer row panels than threads (a classifier at batch 1: one row): rows cannot give every thread a share.
  if (m_panels < threads) return true;
  if (!g.b_source || round_up(rows, r.mr) * g.K * int64_t{sizeof(float)} > r.l2_bytes / 2) return false;
  const double by_rows = busiest_share(m_panels, threads, [&](int64_t p0, int64_t p1) {
    return static_cast<double>(std::min(rows, p1 * r.mr) - std::min(rows, p0 * r.mr));
  });
  const double by_columns =
      busiest_share(r.n_panels, threads, [&](int64_t p0, int64_t p1) { return panel_work(r, p0, p1); });
  return by_columns <= by_rows * 1.05;
}

/// Batch entries [b0, b1) x rows [r0, r1): pre-pack what is shared, then the tasks.
void run_round(Round r, ThreadPool* pool, int64_t b1, int64_t r1) {
  const GemmArgs& g = *r.g;
  const int64_t K = g.K, entries = b1 - r.b0, rows = r1 - r.r0;
  const int64_t m_panels = ceil_div(rows, r.mr);
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;

  // B: prepacked; or packed here for the whole call, when row ranges (or entries sharing one B) would otherwise
  // each pack the same blocks; or packed block by block by the tasks (a B source is asked for at most
  // kSourceRows x kSourceColumns at once either way).
  const bool b_shared = g.stride_b == 0 || g.batch == 1;
  const int64_t n_panels = ceil_div(g.N, r.nr), b_entries = b_shared ? 1 : entries;
  r.b_in_place = read_b_in_place(r, rows, threads);
  const bool b_can_prepack = !g.packed_b && !g.b_source && !r.b_in_place &&
                             b_entries * n_panels * r.nr * K <= kMaxPrepackFloats;
  bool prepack_b = b_can_prepack && b_shared && entries > 1;

  // The grid: batch entries first, then runs of column blocks (no operand is packed twice), then row ranges,
  // as few as give every thread its share: a row range re-reads B from L3 (or packs it again when the tasks pack
  // B themselves, as they must from a B source, which is never asked for all of K x N at once). With B packed
  // for the call, one range per thread measured fastest (1.8-1.9x on conv shapes with N = 49..196, against
  // 1.5-1.7x with four); with B prepacked (weights), four per thread (1.8-1.9x on transformer layers, against 1.7x
  // with one): measured on the 2-core Zen 2, best single calls.
  int64_t mt = 1, nt = 1;
  if (threads > 1) {
    const bool column_ranges = split_columns(r, entries, rows, threads);
    // Fewer row panels than threads (a classifier): narrow blocks, several per thread, so that a worker woken late
    // or descheduled (a busy machine) leaves most of its range to the others instead of holding half the call.
    if (column_ranges)
      r.n_blocks = std::min(r.n_panels, m_panels < threads ? kTasksPerThread * threads : ceil_div(threads, entries));
    nt = std::min(r.n_blocks, ceil_div(kTasksPerThread * threads, entries));
    // Row ranges of a B source would each fill the same blocks: the source is then packed once for the call, its
    // K chunks spread over the threads (the windows of a convolution's input gathered once). Measured (Emerald
    // Rapids, 2 threads, SCHED_FIFO, in the network, median of 3-4 rounds): ResNet-50's 3x3 stride-2 layers
    // layer3.0.conv2 1.26 -> 1.14 ms, layer4.0.conv2 1.54 -> 1.41; ResNet-18's layer3.0.conv1 0.66 -> 0.61,
    // layer4.0.conv1 0.77 -> 0.69.
    const bool source_prepack = g.b_source && b_shared && n_panels * r.nr * K <= kMaxPrepackFloats;
    if (entries * nt < threads && (b_can_prepack || source_prepack)) prepack_b = true;
    // Row ranges of one column run each read the run's B over all of K. When that B is larger than L2 and K takes
    // several blocks, a thread's next row range reads all of it again from L3 (a transformer's MLP down
    // projection: BERT-mini's 128 x 256 over K = 1024 is 1 MB of packed B, read 4 times per thread with four
    // ranges each): one range per thread then reads it once. Only where each thread's range still holds at least
    // 8 row panels: with fewer, the finer grid's balance is worth more. Measured on the Zen 3 (2 threads,
    // transformer_linear, min of 4 interleaved runs): bert_fc2 522 -> 414 us, vit_fc2 372 -> 360 us.
    const int64_t widest_block = ceil_div(r.n_panels, r.n_blocks) * r.nr;
    const bool b_run_leaves_l2 = r.nkb > 1 && widest_block * K * int64_t{sizeof(float)} > r.l2_bytes;
    const bool one_range_each = g.packed_b && nt == 1 && b_run_leaves_l2 && m_panels >= 8 * threads;
    const int64_t per_thread = column_ranges ? 0 : g.packed_b ? (one_range_each ? 1 : 4) : prepack_b ? 1 : 0;
    auto enough = [&](int64_t m) {
      const int64_t tasks = entries * m * nt;
      return per_thread ? tasks >= per_thread * threads && tasks % threads == 0 : tasks >= threads;
    };
    while (mt < m_panels && !enough(mt)) ++mt;
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
  float* b_buf = nullptr;
  if (g.packed_b) {
    r.b = g.packed_b->data();
    r.b_entry = 0;
  } else if (prepack_b) {
    b_buf = tl_call_b.get(b_entries * n_panels * r.nr * K);
    r.b = b_buf;
    r.b_entry = b_shared ? 0 : n_panels * r.nr * K;
  }

  // Pre-packing: A by row panels, B by ranges of kPackRows rows of K (each item reads whole rows of B).
  const int64_t k_chunks = ceil_div(K, kPackRows);
  const int64_t a_items = a_buf ? a_entries * m_panels : 0, b_items = b_buf ? b_entries * k_chunks : 0;
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
        const int64_t e = (i - a_items) / k_chunks, k0 = (i - a_items) % k_chunks * kPackRows;
        pack_b_block(r, b_shared ? 0 : r.b0 + e, k0, std::min(kPackRows, K - k0), 0, g.N,
                     b_buf + e * r.b_entry + k0 * r.nr, K * r.nr);
      }
    });
  }

  // Tasks numbered column range first: a thread's range of tasks (thread_pool.h) is then a range of C's columns,
  // for a convolution the same rows of every output plane that the depthwise and pooling kernels give it next.
  parallel_for(pool, static_cast<size_t>(entries * mt * nt), [&](size_t item) {
    const int64_t i = static_cast<int64_t>(item);
    const int64_t e = r.b0 + i / (mt * nt), ni = i / mt % nt, mi = i % mt;
    const int64_t m0 = r.r0 + mi * m_panels / mt * r.mr, m1 = std::min(r1, r.r0 + (mi + 1) * m_panels / mt * r.mr);
    run_task(r, e, m0, m1, ni * r.n_blocks / nt, (ni + 1) * r.n_blocks / nt);
  });
}

}  // namespace

uint64_t gemm_scratch_allocations() { return gemm_task::scratch_allocations.load(std::memory_order_relaxed); }

void gemm_f32(const GemmArgs& g, ThreadPool* pool) {
  validate_gemm_args(g);
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  Round r;
  r.g = &g;
  r.uk = gemm_kernel_entries()[gemm_kernel_for(g)].code();
  r.mr = r.uk->mr;
  r.nr = r.uk->nr;
  const GemmBlocking blocking = gemm_blocking(*r.uk);
  r.l2_bytes = blocking.l2_bytes;
  r.l2_sets = blocking.l2_sets;
  // Column blocks of whole panels, at most nc wide, an even number of them (N alone decides it).
  r.n_panels = ceil_div(g.N, r.nr);
  r.n_blocks = ceil_div(r.n_panels, blocking.nc / r.nr);
  if (r.n_blocks > 1) r.n_blocks = std::min(r.n_panels, round_up(r.n_blocks, 2));
  // K in equal blocks (576 = 3 x 192 rather than 256 + 256 + 64), rounded to 4 for the unrolled loop. A single
  // row panel (M <= mr: a matrix-vector product) reuses no B block, so it takes K whole: each tile then streams
  // one long contiguous B panel, which the hardware prefetcher follows.
  r.nkb = g.K == 0 || g.M <= r.mr ? 1 : ceil_div(g.K, blocking.kc_max);
  r.kc = g.K == 0 ? 0 : round_up(ceil_div(g.K, r.nkb), 4);
  if (g.K > 0) r.nkb = ceil_div(g.K, r.kc);

  const double flops = 2.0 * static_cast<double>(g.batch) * static_cast<double>(g.M) * static_cast<double>(g.N) *
                       static_cast<double>(std::max<int64_t>(g.K, 1));
  const double operand_bytes = sizeof(float) * static_cast<double>(g.batch) *
                               static_cast<double>(std::max<int64_t>(g.K, 1)) * static_cast<double>(g.M + g.N);
  const bool worth_threads = flops >= kMinParallelFlops || operand_bytes >= kMinParallelBytes;
  ThreadPool* threads = pool && pool->threads() > 1 && worth_threads ? pool : nullptr;

  // A row-major A is read in place; a transposed one is packed, in rounds: everything at once when it fits the
  // budget, else groups of entries or ranges of rows.
  r.a_row_major = !g.packed_a && !g.a.trans && g.K > 0;  // K == 0: nothing is read (A may have no data)
  // Copied per task rather than packed for the call: packing transposes A into panels, which cost more than the
  // crowding (128 x 1024 x 256: 101 -> 103 GFLOP/s), where a copy moves contiguous rows.
  r.a_copy = r.a_row_major && g.M > 1 && a_rows_crowd_l1(g.a.ld * static_cast<int64_t>(sizeof(float)),
                                                         std::min(g.M, r.mr));
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
