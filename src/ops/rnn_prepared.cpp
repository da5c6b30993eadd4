#include "ops/rnn_prepared.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include "ir/dispatch.h"
#include "kernels/gemv/gemv.h"
#include "ops/packed_weights.h"

namespace kiln::ops::rnn {

namespace {

// A step's recurrent GEMM below this many multiply-adds runs on the calling thread: a step is a few
// microseconds, and handing half of it to another thread costs about as much as it saves.
constexpr int64_t kThreadedStepMacs = int64_t{1} << 20;
// Directions run on two threads only when each has at least this many multiply-adds (a tiny recurrence is over
// before a second thread has woken up).
constexpr int64_t kThreadedDirectionMacs = int64_t{1} << 18;
// X·Wᵀ of every step at once takes seq * batch * gates * hidden floats; past this (long sequences, big batches)
// each step multiplies its own rows instead, so the scratch stays bounded (32 MiB by default).
std::atomic<int64_t> max_all_steps_floats{int64_t{8} << 20};

}  // namespace

struct PreparedRecurrent::Run {
  int64_t seq = 0, batch = 0;
  const float* x = nullptr;
  const int64_t* lens = nullptr;  ///< [batch], each in [0, seq]
  bool full_lengths = true;       ///< every length is seq
  const float* h0 = nullptr;      ///< initial states in the node's layout, or null (zeros)
  const float* c0 = nullptr;
  float* y = nullptr;  ///< outputs the node lists, in its layout, or null
  float* yh = nullptr;
  float* yc = nullptr;
};

void set_all_steps_input_limit(int64_t floats) { max_all_steps_floats.store(floats, std::memory_order_relaxed); }

void activate_f32(kernels::Activation kind, float* x, int64_t n) {
  kernels::apply_activation_f32(kernels::ActivationParams{kind, 0.0f, 0.0f}, x, x, n);
}

void clip_f32(float* x, int64_t n, const std::optional<float>& clip) {
  if (!clip) return;
  const float c = *clip;
  for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], -c), c);
}

size_t PreparedRecurrent::packed_bytes() const {
  size_t n = (x_bias.size() + rec_bias.size()) * sizeof(float) + extra_packed_bytes();
  for (const auto& p : w) n += p.bytes();
  for (const auto& p : r) n += p.bytes();
  for (const auto& p : r_rows) n += p.size;
  for (const auto& p : w_rows) n += p.size;
  return n;
}

// Reads and checks what the run needs; false sends the node to the reference kernel, which reports errors.
bool PreparedRecurrent::read_run(const KernelContext& ctx, Run& run) const {
  thread_local std::vector<int64_t> lens;
  const Tensor& x = ctx.input(kX);
  if (x.dtype() != DType::kFloat32 || x.rank() != 3 || x.dim(2) != input) return false;
  if (ctx.input(kW).dims() != w_dims || ctx.input(kR).dims() != r_dims) return false;
  const bool l1 = cfg.layout == 1;
  const int64_t dirs = cfg.num_directions;
  run.seq = x.dim(l1 ? 1 : 0);
  run.batch = x.dim(l1 ? 0 : 1);
  run.x = x.data<float>();
  // Expected dims in fixed arrays, compared in place: a run allocates nothing.
  const std::array<int64_t, 3> state = l1 ? std::array<int64_t, 3>{run.batch, dirs, hidden}
                                          : std::array<int64_t, 3>{dirs, run.batch, hidden};
  auto has_dims = [](const Tensor& t, const auto& dims) { return std::ranges::equal(t.dims(), dims); };
  for (size_t slot : {kInitH, kInitC}) {
    if (!ctx.has_input(slot) || (slot == kInitC && !spec.has_cell)) continue;
    const Tensor& t = ctx.input(slot);
    if (t.dtype() != DType::kFloat32 || !has_dims(t, state)) return false;
    (slot == kInitH ? run.h0 : run.c0) = t.data<float>();
  }
  lens.assign(static_cast<size_t>(run.batch), run.seq);
  if (ctx.has_input(kLens)) {
    const Tensor& t = ctx.input(kLens);
    if (!dtype_is_integer(t.dtype()) || !has_dims(t, std::array<int64_t, 1>{run.batch})) return false;
    for (int64_t b = 0; b < run.batch; ++b) {
      const int64_t len = t.int_at(b);
      if (len < 0 || len > run.seq) return false;
      lens[static_cast<size_t>(b)] = len;
      run.full_lengths = run.full_lengths && len == run.seq;
    }
  }
  run.lens = lens.data();
  const std::array<int64_t, 4> y_dims = l1 ? std::array<int64_t, 4>{run.batch, run.seq, dirs, hidden}
                                           : std::array<int64_t, 4>{run.seq, dirs, run.batch, hidden};
  float** dst[] = {&run.y, &run.yh, &run.yc};
  for (size_t out : {kY, kYh, kYc}) {
    if (!ctx.wants_output(out) || (out == kYc && !spec.has_cell)) continue;
    Tensor& t = const_cast<KernelContext&>(ctx).output(out);
    if (t.dtype() != DType::kFloat32 || !(out == kY ? has_dims(t, y_dims) : has_dims(t, state))) return false;
    *dst[out] = t.data<float>();
  }
  return true;
}

void PreparedRecurrent::run(KernelContext& ctx) const {
  Run run;
  if (!read_run(ctx, run)) return reference(ctx);
  const int64_t dirs = cfg.num_directions;
  if (run.y && !run.full_lengths)  // Y stays zero past each sequence's length
    std::fill_n(run.y, run.seq * dirs * run.batch * hidden, 0.0f);
  kernels::ThreadPool* pool = ctx.threads();
  const int64_t macs_per_direction = run.seq * run.batch * (gh * input + rec_cols * hidden);
  if (dirs == 2 && pool && pool->threads() >= 2 && macs_per_direction >= kThreadedDirectionMacs) {
    // The directions are independent: one per thread beats splitting every small step GEMM in two.
    pool->parallel_for(2, [&](size_t d) { run_direction(run, static_cast<int64_t>(d), nullptr); });
  } else {
    for (int64_t d = 0; d < dirs; ++d) run_direction(run, d, pool);
  }
}

void PreparedRecurrent::run_direction(const Run& run, int64_t d, kernels::ThreadPool* pool) const {
  const int64_t S = run.seq, B = run.batch, H = hidden, dirs = cfg.num_directions;
  const bool rev = cfg.reverse(d), l1 = cfg.layout == 1;
  // Scratch kept per thread across runs: a warm run allocates nothing.
  thread_local std::vector<float> buf;
  thread_local std::vector<const float*> rows;
  const bool all_steps = S * B * gh <= max_all_steps_floats.load(std::memory_order_relaxed);
  // A batch of one: the input product of steps [8j + 8, 8j + 16) rides along the R·h of steps [8j, 8j + 8) (rows in
  // step order, the last block's rows past S written and not read).
  const bool ahead = B == 1 && all_steps && !r_rows.empty() && !w_rows.empty();
  constexpr int64_t kAhead = kernels::kGemvSideRows;
  const int64_t xw_rows = ahead ? (S + kAhead - 1) / kAhead * kAhead : all_steps ? S * B : B;
  const int64_t xw_n = xw_rows * gh, xs_n = all_steps ? 0 : B * input;
  const int64_t g_n = B * rec_cols, st = B * H;
  buf.resize(static_cast<size_t>(xw_n + xs_n + g_n + 2 * st + extra_floats(B)));
  rows.resize(static_cast<size_t>(B));
  float* xw = buf.data();
  float* xs = xw + xw_n;  // one step's input rows, gathered (when not all_steps)
  float* g = xs + xs_n;
  float* h = g + g_n;
  float* c = h + st;

  // X·Wᵀ + bias: for every time step at once (row i of xw is row i of X in the node's layout), or per step.
  kernels::GemmArgs a;
  a.N = gh;
  a.K = input;
  a.packed_b = &w[static_cast<size_t>(d)];
  a.c = xw;
  a.ldc = gh;
  a.epilogue.bias = x_bias.data() + d * gh;
  if (all_steps && !ahead && xw_n > 0) {
    a.M = S * B;
    a.a = kernels::MatrixRef{run.x, input, false};
    kernels::gemm_f32(a, pool);
  }
  a.M = B;
  a.a = kernels::MatrixRef{xs, input, false};
  auto time_of = [&](int64_t b, int64_t s) { return rev ? run.lens[b] - 1 - s : s; };
  auto state_at = [&](int64_t b) { return (l1 ? b * dirs + d : d * B + b) * H; };
  for (int64_t b = 0; b < B; ++b) {
    if (run.h0) std::copy_n(run.h0 + state_at(b), H, h + b * H);
    else std::fill_n(h + b * H, H, 0.0f);
    if (!spec.has_cell) continue;
    if (run.c0) std::copy_n(run.c0 + state_at(b), H, c + b * H);
    else std::fill_n(c + b * H, H, 0.0f);
  }

  kernels::GemmArgs rg;
  rg.M = B;
  rg.N = rec_cols;
  rg.K = H;
  rg.a = kernels::MatrixRef{h, H, false};
  rg.packed_b = &r[static_cast<size_t>(d)];
  rg.c = g;
  rg.ldc = rec_cols;
  if (!rec_bias.empty()) rg.epilogue.bias = rec_bias.data() + d * rec_cols;
  kernels::ThreadPool* step_pool = B * rec_cols * H >= kThreadedStepMacs ? pool : nullptr;
  // A batch of one: h·Rᵀ as R·h, R read once as one stream per 64-row panel (kernels/gemv: eight accumulators
  // along the rows, against the GEMM's one-row tiles over 16-column panels). Measured (kiln bench, one thread,
  // CPU time, Zen 2 at load 6.3): LSTM-tagger 2.67 -> 2.53 ms, GRU-classifier 3.07 -> 2.93 ms.
  // Split over the pool (gemv_f32 keeps products under 64K multiply-adds on the calling thread): each step is
  // ~5 us of work, so a worker descheduled inside its rows holds up the step. Measured side by side (Zen 2,
  // GRU-classifier, 2 threads, median of 5 interleaved rounds): quiet 2.60 -> 1.48 ms (ONNX Runtime 2.65-3.8);
  // with another process hogging one core 3.0 -> 4.6 ms, where ONNX Runtime took 32-43 ms.
  // A batch of 2 to 8 multiplies its states by R in one pass over the same panels (kernels::gemv_batch_f32: tiles of
  // 4 states at AVX2), where the GEMM's 6-row tiles would hold 8 rows as 6 + 2 (Zen 3, 1 thread: lstm_tagger batch
  // 8 and gru_classifier batch 8 1-5 % faster, near the noise; the kernel alone 58.7 -> ~50 us a step).
  const bool small_batch = B > 1 && B <= kernels::kGemvBatchMax && !r_rows.empty();
  kernels::GemvArgs rv;
  if ((B == 1 || small_batch) && !r_rows.empty()) {
    rv.wp = static_cast<const float*>(r_rows[static_cast<size_t>(d)].data);
    rv.x = h;
    rv.bias = rec_bias.empty() ? nullptr : rec_bias.data() + d * rec_cols;
    rv.y = g;
    rv.M = rec_cols;
    rv.K = H;
  }
  // The input product of step block j (8 steps; step s reads x at its time, clamped to the sequence), units [u0, u1).
  kernels::GemvSide side;
  const int64_t len = run.lens[0], units = kernels::gemv_side_units(gh);
  auto side_block = [&](int64_t j, int64_t u0, int64_t u1) {
    side.wp = ahead ? static_cast<const float*>(w_rows[static_cast<size_t>(d)].data) : nullptr;
    side.bias = x_bias.data() + d * gh;
    side.N = gh;
    side.K = input;
    for (int64_t r = 0; r < kAhead; ++r) {
      const int64_t s = j * kAhead + r;
      side.x[r] = run.x + time_of(0, std::min(s, len - 1)) * input;
      side.y[r] = xw + s * gh;
    }
    side.unit_begin = u0;
    side.unit_end = u1;
  };
  kernels::GemvArgs none;  // no rows: the side product alone
  if (ahead && len > 0) {
    side_block(0, 0, units);
    kernels::gemv_side_f32(none, side, nullptr);
  }
  Step step;
  step.d = d;
  step.batch = B;
  step.hidden = H;
  step.xw = rows.data();
  step.g = g;
  step.h = h;
  step.c = c;
  step.extra = c + st;
  step.pool = step_pool;
  step.xw_added = ahead && xw_into_state_product && rv.bias == nullptr;
  for (int64_t s = 0; s < S; ++s) {
    bool any = false;
    for (int64_t b = 0; b < B; ++b) {
      const bool active = s < run.lens[b];
      const int64_t t = time_of(b, s), row = l1 ? b * S + t : t * B + b;
      if (ahead) {
        rows[static_cast<size_t>(b)] = active ? xw + s * gh : nullptr;
      } else if (all_steps) {
        rows[static_cast<size_t>(b)] = active ? xw + row * gh : nullptr;
      } else {
        rows[static_cast<size_t>(b)] = active ? xw + b * gh : nullptr;
        if (active) std::copy_n(run.x + row * input, input, xs + b * input);
        else std::fill_n(xs + b * input, input, 0.0f);
      }
      any = any || active;
    }
    if (!any) break;  // every sequence has ended
    if (!all_steps) kernels::gemm_f32(a, step_pool);
    rv.descending = s % 2 == 1;  // serpentine: begin on the panels of R the last step read (see GemvArgs)
    if (step.xw_added) rv.residual = rows[0];
    const int64_t next = s / kAhead + 1;  // the block whose input product this step computes a share of
    if (ahead && next * kAhead < len) {
      const int64_t i = s % kAhead;
      side_block(next, units * i / kAhead, units * (i + 1) / kAhead);
      kernels::gemv_side_f32(rv, side, pool);
    } else if (small_batch) {
      kernels::gemv_batch_f32(rv, B, H, rec_cols, step_pool);
    } else if (rv.wp) {
      kernels::gemv_f32(rv, pool);
    } else {
      kernels::gemm_f32(rg, step_pool);
    }
    cell(step);
    if (!run.y) continue;
    for (int64_t b = 0; b < B; ++b) {
      if (!rows[static_cast<size_t>(b)]) continue;
      const int64_t t = time_of(b, s);
      std::memcpy(run.y + (l1 ? (b * S + t) * dirs + d : (t * dirs + d) * B + b) * H, h + b * H,
                  static_cast<size_t>(H) * sizeof(float));
    }
  }
  // A sequence of length 0 has no last step: its final states are zero, as the reference gives.
  for (int64_t b = 0; b < B; ++b) {
    const bool empty = run.lens[b] == 0;
    if (run.yh) {
      if (empty) std::fill_n(run.yh + state_at(b), H, 0.0f);
      else std::copy_n(h + b * H, H, run.yh + state_at(b));
    }
    if (run.yc) {
      if (empty) std::fill_n(run.yc + state_at(b), H, 0.0f);
      else std::copy_n(c + b * H, H, run.yc + state_at(b));
    }
  }
}

bool prepare_recurrent(PrepareContext& ctx, const RnnOpSpec& spec, int64_t rec_cols_per_hidden,
                       PreparedRecurrent& k) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (i != kLens && ctx.has_input(i) && ctx.input(i).dtype != DType::kFloat32) return false;
  const Tensor* w = ctx.input_value(kW);
  const Tensor* r = ctx.input_value(kR);
  if (!w || !r || w->dtype() != DType::kFloat32 || r->dtype() != DType::kFloat32 || w->rank() != 3 ||
      r->rank() != 3)
    return false;
  if (ctx.has_input(kB) && !ctx.input_value(kB)) return false;
  if (spec.has_cell && ctx.has_input(kP) && !ctx.input_value(kP)) return false;
  k.cfg = parse_config(ctx, spec);
  k.spec = spec;
  // Only the default activations are fused (sigmoid for the gates, tanh for the rest).
  for (int64_t d = 0; d < k.cfg.num_directions; ++d)
    for (size_t i = 0; i < k.cfg.per_direction; ++i) {
      const ActKind want = spec.default_activations[i] == "Sigmoid" ? ActKind::kSigmoid : ActKind::kTanh;
      if (k.cfg.act(d, i).kind != want) return false;
    }
  const int64_t dirs = k.cfg.num_directions;
  k.hidden = k.cfg.hidden_size > 0 ? k.cfg.hidden_size : r->dim(2);
  k.input = w->dim(2);
  k.gh = spec.gates * k.hidden;
  k.rec_cols = rec_cols_per_hidden * k.hidden;
  k.w_dims = {dirs, k.gh, k.input};
  k.r_dims = {dirs, k.gh, k.hidden};
  if (k.hidden <= 0 || w->dims() != k.w_dims || r->dims() != k.r_dims) return false;
  const std::vector<int64_t> b_dims{dirs, 2 * k.gh}, p_dims{dirs, 3 * k.hidden};
  if (ctx.has_input(kB) && ctx.input_value(kB)->dims() != b_dims) return false;
  if (spec.has_cell && ctx.has_input(kP) && ctx.input_value(kP)->dims() != p_dims) return false;
  for (int64_t d = 0; d < dirs; ++d) {
    const float* wd = w->data<float>() + d * k.gh * k.input;
    const float* rd = r->data<float>() + d * k.gh * k.hidden;
    k.w.push_back(pack_gemm_weights(ctx, "rnn W d" + std::to_string(d), kernels::GemmSide::kB, k.input, k.gh,
                                    [&] { return kernels::MatrixRef{wd, k.input, true}; }));
    k.r.push_back(pack_gemm_weights(ctx, "rnn R d" + std::to_string(d), kernels::GemmSide::kB, k.hidden, k.rec_cols,
                                    [&] { return kernels::MatrixRef{rd, k.hidden, true}; }));
    k.r_rows.push_back(pack_gemv_weights(ctx, "rnn R rows d" + std::to_string(d), rd, k.rec_cols, k.hidden));
    k.w_rows.push_back(pack_gemv_side_weights(ctx, "rnn W tiles d" + std::to_string(d), wd, k.gh, k.input));
  }
  const OpSchema* schema = find_op(ctx.node().domain, ctx.node().op_type);
  if (!schema || !schema->compute) return false;
  k.reference = schema->compute;
  return true;
}

std::vector<float> recurrent_bias(const PrepareContext& ctx, const PreparedRecurrent& k) {
  const size_t n = static_cast<size_t>(k.cfg.num_directions * 2 * k.gh);
  if (!ctx.has_input(kB)) return std::vector<float>(n, 0.0f);
  const float* b = ctx.input_value(kB)->data<float>();
  return std::vector<float>(b, b + n);
}

}  // namespace kiln::ops::rnn
