// Blocked attention for ai.kiln.ScaledDotProductAttention (float32). The work is split into tiles of up to
// kBlockRows queries of one batch entry (head); a tile walks the keys in blocks of `block_cols`:
//   S = scale·Q_tile·K_blockᵀ            gemm_f32 into a per-thread scratch of rows x block_cols
//   S += mask; m' = max(m, rowmax S)    row kernels (kernels/attention)
//   P = exp(S - m'); l = l·e^(m-m') + ΣP
//   O = O·e^(m-m') + P·V_block         gemm_f32, the old O as the epilogue's residual
// and ends with O /= l, written straight into Y. So the S x T score matrix never exists in memory: only a
// rows x block_cols block per thread. When T fits one block (block_cols >= T) the rescaling never happens and
// this is the plain softmax of one materialised tile row block.
//
// With a causal (-inf) mask a tile stops at the last key any of its queries sees, which saves a third to a half of
// a decoder's attention work.
//
// With seq_first (Q [S, N, D] and so on, see scaled_dot_product_attention.cpp) the same tiles read and write the
// heads in place: rows N * D apart, head n at column n * D; gemm_f32 takes the leading dimensions as they are.
//
// Tiles are independent and each runs on one thread (gemm_f32 without the pool), so results do not depend on
// the thread count.

#include "ops/attention_prepared.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention/attention.h"
#include "kernels/gemm/gemm.h"
#include "kernels/isa.h"
#include "ops/batch_layout.h"

namespace kiln::ops {
namespace {

using kernels::GemmArgs;
using kernels::MatrixRef;

// BatchLayout operand slots.
constexpr int kOpQ = 0, kOpK = 1, kOpV = 2, kOpY = 3, kOpMask = 4;

// Query rows per tile: K and V are packed once per tile, so more rows share each packing, while the rows x keys
// scratch must stay in L2. Keys: up to kSinglePassMax in one block (no online rescaling at all), longer
// sequences in blocks of kBlockCols (scratch 128 KiB).
// Measured (benchmarks/attention_bench.cpp, 12 heads of 64, S = T, one thread, CPU time, Zen 2 under load):
// rows 16/32/64/128/192/256/512 at S = 512: 26.7/21.6/19.2/15.5/14.7/15.7/18.7 ms (128-256 equal within the
// noise; 512 leaves L2). One pass versus key blocks of 256 at S = 512: 15.5 vs 17.2 ms; at S = 1024: equal
// (66-76 ms both); key blocks of 64 or 128 were 5-20 % slower. So short sequences (BERT/ViT/GPT at 128-512)
// materialise one 128 x T tile row and never rescale; only longer ones walk key blocks.
constexpr int64_t kBlockRows = 128;
constexpr int64_t kSinglePassMax = 512;
constexpr int64_t kBlockCols = 256;
// With a mask that differs from row to row (a causal mask), tiles of this many rows instead: each tile stops at
// the last key its own rows see, so smaller tiles skip more of the masked triangle (S = 128: 62 % of the keys
// instead of all of them), at the price of packing K and V once per tile.
// Measured (benchmarks/attention_bench.cpp, 12 heads of 64, causal, one thread, CPU time, Zen 2 at load 6):
// S = 128: 853 us with 128-row tiles, 633/610/641/633 us with 16/32/48/64; S = 256: 2574 us, 2290/2095/2214/2213.
constexpr int64_t kCausalBlockRows = 32;
// Below this much work (both products, all heads) a second thread costs more than it saves: the tiles run on the
// calling thread. The same bound gemm_f32 uses.
constexpr double kMinParallelFlops = 2e6;
// The most packed Kᵀ and V (all heads) packed ahead of the tiles; past it each tile packs its own (see run).
constexpr size_t kMaxSharedPanelBytes = size_t{512} << 10;

// One run's sizes and pointers, read and checked from the tensors.
struct Geometry {
  int64_t S = 0, T = 0, D = 0, Dv = 0;
  BatchLayout L;
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const float* mask = nullptr;
  float* y = nullptr;
  int64_t mask_row_step = 0, mask_col_step = 0;  ///< within one [S, T] mask matrix; 0 where it broadcasts
  int64_t ldq = 0, ldk = 0, ldv = 0, ldy = 0;     ///< elements between rows (D, D, Dv, Dv unless seq_first)
  float scale = 1.0f;
};

// The length of row[0, n) without its trailing run of -inf, or `floor` when that is longer: only the part past
// floor is read, eight floats at a time (a loop without an early exit inside, which the compiler vectorises).
int64_t unmasked_prefix(const float* row, int64_t floor, int64_t n) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  int64_t j = n;
  for (; j - 8 >= floor; j -= 8) {
    bool any = false;
    for (int k = 0; k < 8; ++k) any |= row[j - 8 + k] != neg_inf;
    if (any) break;
  }
  while (j > floor && row[j - 1] == neg_inf) --j;
  return j;
}

// True when the first batch entry's mask hides a longer run of trailing keys from its first query than from its
// last (a causal mask): then smaller row tiles skip more. A mask whose rows are all alike (padding expanded to
// [S, T]) keeps the large tiles, which pack K and V fewer times.
bool causal_like(const Geometry& g) {
  if (!g.mask || g.mask_row_step == 0 || g.mask_col_step != 1 || g.S < 2) return false;
  const float* first = g.mask + g.L.offset(kOpMask, 0);
  return unmasked_prefix(first, 0, g.T) < unmasked_prefix(first + (g.S - 1) * g.mask_row_step, 0, g.T);
}

// The batch dims of t (all but the last two), as a span.
std::span<const int64_t> batch_of(const Tensor& t) { return {t.dims().data(), t.rank() - 2}; }

// Reads the mask into g (right-aligned against [batch_dims..., S, T]: each dim 1 or the full size) and returns
// its batch dims through mask_batch and its matrix size through elems; false when it does not broadcast so.
bool read_mask(const Tensor* mask, std::span<const int64_t> batch_dims, Geometry& g,
               std::span<const int64_t>& mask_batch, int64_t& elems) {
  elems = 1;
  if (!mask) return true;
  const size_t nb = batch_dims.size();
  const std::vector<int64_t>& md = mask->dims();
  if (md.size() > nb + 2) return false;
  for (size_t i = 0; i < md.size(); ++i) {
    const size_t at = nb + 2 - md.size() + i;
    const int64_t full = at < nb ? batch_dims[at] : at == nb ? g.S : g.T;
    if (md[i] != 1 && md[i] != full) return false;
  }
  const int64_t mt = md.empty() ? 1 : md.back();
  const int64_t ms = md.size() >= 2 ? md[md.size() - 2] : 1;
  if (md.size() >= 2) mask_batch = std::span<const int64_t>(md.data(), md.size() - 2);
  g.mask = mask->data<float>();
  g.mask_col_step = mt == 1 ? 0 : 1;
  g.mask_row_step = ms == 1 ? 0 : mt;
  elems = ms * mt;
  return true;
}

// seq_first: Q [S, Nq, D], K [T, Nk, D], V [T, Nv, Dv], Y [S, N, Dv] (each of Nq, Nk, Nv is N or 1). Head n's
// matrices start n * D (n * Dv) elements in, and their rows are N * D (N * Dv) apart.
bool read_seq_first(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask, const Tensor& y,
                    Geometry& g) {
  if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3 || y.rank() != 3) return false;
  g.S = q.dim(0);
  g.D = q.dim(2);
  g.T = k.dim(0);
  g.Dv = v.dim(2);
  if (k.dim(2) != g.D || v.dim(0) != g.T) return false;
  const int64_t n = std::max({q.dim(1), k.dim(1), v.dim(1)});
  for (const Tensor* t : {&q, &k, &v})
    if (t->dim(1) != n && t->dim(1) != 1) return false;
  if (y.dim(0) != g.S || y.dim(1) != n || y.dim(2) != g.Dv) return false;
  const int64_t heads[1] = {n};
  std::span<const int64_t> mask_batch;
  int64_t mask_elems = 1;
  if (!read_mask(mask, heads, g, mask_batch, mask_elems)) return false;
  const BatchOperand operands[] = {{{&q.dims()[1], 1}, g.D}, {{&k.dims()[1], 1}, g.D}, {{&v.dims()[1], 1}, g.Dv},
                                   {{&y.dims()[1], 1}, g.Dv}, {mask_batch, mask_elems}};
  if (!broadcast_batch(operands, g.L)) return false;
  g.ldq = q.dim(1) * g.D;
  g.ldk = k.dim(1) * g.D;
  g.ldv = v.dim(1) * g.Dv;
  g.ldy = n * g.Dv;
  return true;
}

bool finish_geometry(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& y, float scale_attr, bool has_scale,
                     Geometry& g) {
  g.q = q.data<float>();
  g.k = k.data<float>();
  g.v = v.data<float>();
  g.y = y.data<float>();
  g.scale = has_scale ? scale_attr : 1.0f / std::sqrt(static_cast<float>(g.D));
  return true;
}

// Reads the geometry; false when a shape is outside what this kernel handles (the reference then runs and
// reports any error).
bool read_geometry(KernelContext& ctx, float scale_attr, bool has_scale, bool seq_first, Geometry& g) {
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  const Tensor* mask = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  Tensor& y = ctx.output(0);
  for (const Tensor* t : {&q, &k, &v, mask, static_cast<const Tensor*>(&y)})
    if (t && t->dtype() != DType::kFloat32) return false;
  if (seq_first) return read_seq_first(q, k, v, mask, y, g) && finish_geometry(q, k, v, y, scale_attr, has_scale, g);
  if (q.rank() < 2 || k.rank() < 2 || v.rank() < 2) return false;
  g.S = q.dim(q.rank() - 2);
  g.D = q.dims().back();
  g.T = k.dim(k.rank() - 2);
  g.Dv = v.dims().back();
  if (k.dims().back() != g.D || v.dim(v.rank() - 2) != g.T) return false;
  // Y must be [broadcast batch..., S, Dv].
  const size_t nb = std::max({q.rank(), k.rank(), v.rank()}) - 2;
  if (y.rank() != nb + 2 || y.dim(nb) != g.S || y.dim(nb + 1) != g.Dv) return false;
  for (size_t d = 0; d < nb; ++d) {
    int64_t want = 1;
    for (const Tensor* t : {&q, &k, &v}) {
      const size_t tb = t->rank() - 2;
      if (d + tb >= nb && t->dim(d + tb - nb) != 1) want = t->dim(d + tb - nb);
    }
    if (y.dim(d) != want) return false;
  }
  std::span<const int64_t> mask_batch;
  int64_t mask_elems = 1;
  if (!read_mask(mask, {y.dims().data(), nb}, g, mask_batch, mask_elems)) return false;
  const BatchOperand operands[] = {{batch_of(q), g.S * g.D}, {batch_of(k), g.T * g.D}, {batch_of(v), g.T * g.Dv},
                                   {{y.dims().data(), nb}, g.S * g.Dv}, {mask_batch, mask_elems}};
  if (!broadcast_batch(operands, g.L)) return false;
  g.ldq = g.ldk = g.D;
  g.ldv = g.ldy = g.Dv;
  return finish_geometry(q, k, v, y, scale_attr, has_scale, g);
}

// Kᵀ and V of every head, packed once per run as GEMM B operands (pack_heads): head b's Kᵀ (D x T) at
// base + b * head_floats, its V (T x Dv) right after it. Empty (null base) when the tiles pack their own.
struct SharedPanels {
  float* base = nullptr;
  size_t head_floats = 0, k_bytes = 0, v_bytes = 0;
  const kernels::PackedGemmOperand* v = nullptr;  ///< head b's V as a prepacked B operand: v[b]
  const float* k(int64_t b) const { return base + static_cast<size_t>(b) * head_floats; }
};

void pack_heads(const Geometry& g, kernels::ThreadPool* pool, SharedPanels& p);

// Bytes of the packed Kᵀ and V of every head (pack_heads).
size_t shared_panel_bytes(const Geometry& g) {
  return static_cast<size_t>(g.L.count) * (kernels::gemm_packed_bytes(kernels::GemmSide::kB, g.D, g.T) +
                                           kernels::gemm_packed_bytes(kernels::GemmSide::kB, g.T, g.Dv));
}

// Floats between rows of the score block: cols rounded up to 16, so that every row starts on a cache line (64-byte
// aligned scratch) and the GEMM's stores and the row kernels' loads never split one.
int64_t score_ld(int64_t cols) { return (cols + 15) / 16 * 16; }

class PreparedAttention final : public PreparedKernel {
 public:
  float scale = 1.0f;
  bool has_scale = false;
  bool seq_first = false;
  const kernels::AttentionRowKernels* rows = nullptr;
  ComputeFn reference = nullptr;

  void run(KernelContext& ctx) const override {
    Geometry g;
    if (!read_geometry(ctx, scale, has_scale, seq_first, g)) return reference(ctx);
    if (ctx.output(0).numel() == 0) return;
    if (g.T == 0) {  // softmax over no keys, times no values: the reference's empty product, zeros
      std::fill_n(g.y, ctx.output(0).numel(), 0.0f);
      return;
    }
    const int64_t bc = g.T <= kSinglePassMax ? g.T : kBlockCols;
    // Row tiles of one head are of equal size (S = 197: 99 + 98 rather than 128 + 69), so tasks of equal cost
    // share the threads evenly.
    const int64_t max_rows = causal_like(g) ? kCausalBlockRows : kBlockRows;
    const int64_t row_blocks = (g.S + max_rows - 1) / max_rows;
    const int64_t tile_rows = (g.S + row_blocks - 1) / row_blocks;
    const size_t tasks = static_cast<size_t>(g.L.count * row_blocks);
    const double flops = 2.0 * static_cast<double>(g.L.count) * static_cast<double>(g.S) *
                         static_cast<double>(g.T) * static_cast<double>(g.D + g.Dv);
    kernels::ThreadPool* pool = flops >= kMinParallelFlops ? ctx.threads() : nullptr;
    // Several row tiles of one head in one pass over the keys: Kᵀ and V are packed once per head here, in the
    // GEMM's B layout, and every tile of the head reads them (a tile under a causal mask reads a prefix of Kᵀ's
    // column panels, and packs its rows of V itself).
    // Only while all heads' panels stay within cache (ViT-tiny's 3 heads at batch 1: 320 KiB): at batch 8 they
    // would be written to memory before the first tile reads them, where each tile's own packing stays in L2.
    SharedPanels panels;
    if (row_blocks > 1 && bc == g.T && shared_panel_bytes(g) <= kMaxSharedPanelBytes) pack_heads(g, pool, panels);
    kernels::parallel_for(pool, tasks, [&](size_t task) {
      thread_local std::vector<float> scratch;
      const size_t need = static_cast<size_t>(tile_rows * (score_ld(bc) + 2) + 16);
      if (scratch.size() < need) scratch.resize(need);
      float* base = scratch.data();
      base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64 / sizeof(float);
      // Last row tiles first: under a causal mask they see the most keys, so the threads claim the longest tasks
      // first and the short ones fill in at the end.
      const int64_t b = static_cast<int64_t>(task) % g.L.count;
      const int64_t i0 = (row_blocks - 1 - static_cast<int64_t>(task) / g.L.count) * tile_rows;
      run_tile(g, b, i0, std::min(tile_rows, g.S - i0), bc, base, panels);
    });
  }
  std::string describe() const override {
    return fmt::format("sdpa blocked {} rows ({} under a causal mask), keys in blocks of {} past {}, {} + {}",
                       kBlockRows, kCausalBlockRows, kBlockCols, kSinglePassMax, rows->name,
                       kernels::gemm_kernel_name());
  }

 private:
  void run_tile(const Geometry& g, int64_t b, int64_t i0, int64_t n_rows, int64_t bc, float* scratch,
                const SharedPanels& panels) const;
};

void pack_heads(const Geometry& g, kernels::ThreadPool* pool, SharedPanels& p) {
  using kernels::GemmSide;
  p.k_bytes = kernels::gemm_packed_bytes(GemmSide::kB, g.D, g.T);
  p.v_bytes = kernels::gemm_packed_bytes(GemmSide::kB, g.T, g.Dv);
  const size_t head_floats = (p.k_bytes + p.v_bytes) / sizeof(float);
  // On the calling thread, reused from run to run (64-byte aligned: the view needs it).
  thread_local std::vector<float> buffer;
  const size_t need = head_floats * static_cast<size_t>(g.L.count) + 16;
  if (buffer.size() < need) buffer.resize(need);
  float* base = buffer.data();
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64 / sizeof(float);
  p.base = base;
  p.head_floats = head_floats;
  // The views too, reused from run to run: a steady-state run allocates nothing.
  thread_local std::vector<kernels::PackedGemmOperand> views;
  if (views.size() < static_cast<size_t>(g.L.count)) views.resize(static_cast<size_t>(g.L.count));
  kernels::PackedGemmOperand* const v_views = views.data();  // named in the workers' lambda: not their own
  p.v = v_views;
  kernels::parallel_for(pool, static_cast<size_t>(2 * g.L.count), [&](size_t item) {
    const int64_t b = static_cast<int64_t>(item / 2);
    float* kp = base + static_cast<size_t>(b) * head_floats;
    if (item % 2 == 0) {
      kernels::pack_gemm_operand_into(GemmSide::kB, MatrixRef{g.k + g.L.offset(kOpK, b), g.ldk, true}, g.D, g.T,
                                      kp);
    } else {
      float* vp = kp + p.k_bytes / sizeof(float);
      kernels::pack_gemm_operand_into(GemmSide::kB, MatrixRef{g.v + g.L.offset(kOpV, b), g.ldv, false}, g.T, g.Dv,
                                      vp);
      v_views[b] = kernels::gemm_operand_view(GemmSide::kB, g.T, g.Dv, vp, p.v_bytes, nullptr);
    }
  });
}

void PreparedAttention::run_tile(const Geometry& g, int64_t b, int64_t i0, int64_t n_rows, int64_t bc,
                                 float* scratch, const SharedPanels& panels) const {
  float* s = scratch;
  float* m = s + n_rows * score_ld(bc);
  float* l = m + n_rows;
  const float* q = g.q + g.L.offset(kOpQ, b) + i0 * g.ldq;
  const float* k = g.k + g.L.offset(kOpK, b);
  const float* v = g.v + g.L.offset(kOpV, b);
  float* y = g.y + g.L.offset(kOpY, b) + i0 * g.ldy;
  const float* mask = g.mask ? g.mask + g.L.offset(kOpMask, b) + i0 * g.mask_row_step : nullptr;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  // Keys masked with -inf for every row of the tile from some point on (a causal mask: the tile's last query
  // sees nothing past its own position) add exactly 0 to the softmax and to P·V: stop before them. A mask that
  // hides every key of every row is left alone (those rows give NaN through the normal path).
  int64_t keys = g.T;
  if (mask && g.mask_row_step != 0 && g.mask_col_step == 1) {
    // The last row first: under a causal mask it sees the most keys, and the other rows then stop at once.
    int64_t last = 0;
    for (int64_t r = n_rows - 1; r >= 0 && last < g.T; --r)
      last = std::max(last, unmasked_prefix(mask + r * g.mask_row_step, last, g.T));
    if (last > 0) keys = last;
  }
  for (int64_t j0 = 0; j0 < keys; j0 += bc) {
    const int64_t cols = std::min(bc, keys - j0);
    GemmArgs qk;
    qk.M = n_rows;
    qk.N = cols;
    qk.K = g.D;
    qk.a = MatrixRef{q, g.ldq, false};
    qk.b = MatrixRef{k + j0 * g.ldk, g.ldk, true};
    // The head's packed Kᵀ: its first column panels are the packed Kᵀ of the first keys (a causal tile's prefix).
    kernels::PackedGemmOperand packed_k;
    if (panels.base) {
      packed_k = kernels::gemm_operand_view(kernels::GemmSide::kB, g.D, cols, panels.k(b),
                                            kernels::gemm_packed_bytes(kernels::GemmSide::kB, g.D, cols), nullptr);
      qk.packed_b = &packed_k;
    }
    qk.c = s;
    const int64_t ld = score_ld(cols);
    qk.ldc = ld;
    qk.epilogue.alpha = g.scale;
    kernels::gemm_f32(qk, nullptr);
    for (int64_t r = 0; r < n_rows; ++r) {
      float* sr = s + r * ld;
      const float* mr = mask ? mask + r * g.mask_row_step + j0 * g.mask_col_step : nullptr;
      const float block_max = rows->add_mask_max(sr, mr, g.mask_col_step, cols);
      const float m_old = j0 == 0 ? neg_inf : m[r];
      const float m_new = std::max(m_old, block_max);
      // A row masked out so far (-inf) shifts by 0, so exp gives exact zeros instead of NaN from -inf - -inf.
      const float shift = m_new == neg_inf ? 0.0f : m_new;
      const float sum = rows->exp_sum(sr, shift, cols);
      if (j0 == 0) {
        l[r] = sum;
      } else {
        const float corr = m_old == m_new ? 1.0f : std::exp(m_old - shift);
        if (corr != 1.0f) rows->scale(y + r * g.ldy, corr, g.Dv);
        l[r] = l[r] * corr + sum;
      }
      m[r] = m_new;
    }
    GemmArgs pv;
    pv.M = n_rows;
    pv.N = g.Dv;
    pv.K = cols;
    pv.a = MatrixRef{s, ld, false};
    pv.b = MatrixRef{v + j0 * g.ldv, g.ldv, false};
    if (panels.base && cols == g.T) pv.packed_b = &panels.v[static_cast<size_t>(b)];
    pv.c = y;
    pv.ldc = g.ldy;
    if (j0 > 0) {
      pv.epilogue.residual = y;
      pv.epilogue.ldr = g.ldy;
    }
    kernels::gemm_f32(pv, nullptr);
  }
  // A row with no unmasked key has l = 0: 0 · (1/0) is NaN, as the reference softmax gives for it.
  for (int64_t r = 0; r < n_rows; ++r) rows->scale(y + r * g.ldy, 1.0f / l[r], g.Dv);
}

}  // namespace

std::unique_ptr<PreparedKernel> prepare_scaled_dot_product_attention(PrepareContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype != DType::kFloat32) return nullptr;
  const kernels::AttentionRowKernels* rows = kernels::attention_row_kernels_for(kernels::active_isa());
  const OpSchema* schema = find_op(ctx.node().domain, ctx.node().op_type);
  if (!rows || !schema || !schema->compute) return nullptr;
  auto k = std::make_unique<PreparedAttention>();
  k->has_scale = ctx.has_attr("scale");
  k->scale = ctx.attr_float("scale", 1.0f);
  k->seq_first = ctx.attr_int("seq_first", 0) != 0;
  k->rows = rows;
  k->reference = schema->compute;
  return k;
}

}  // namespace kiln::ops
