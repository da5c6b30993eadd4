#pragma once
// What LSTM, GRU and RNN share: their attributes (direction, hidden_size, activations with alpha/beta, clip,
// layout), symbolic inference of Y / Y_h / Y_c, loading the inputs into one compute-precision form in
// layout 0, storing the results back in the node's dtype and layout, and the small matrix product the cells
// are built on. Each op file keeps only its cell equations.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/gemm_ref.h"
#include "ops/op.h"

namespace kiln::ops::rnn {

// Input slots, the same in all three ops (GRU and RNN stop after initial_h), and output slots.
inline constexpr size_t kX = 0, kW = 1, kR = 2, kB = 3, kLens = 4, kInitH = 5, kInitC = 6, kP = 7;
inline constexpr size_t kY = 0, kYh = 1, kYc = 2;

enum class Direction { kForward, kReverse, kBidirectional };

/// The activation functions the ONNX recurrent ops name in their `activations` attribute.
enum class ActKind {
  kRelu, kTanh, kSigmoid, kAffine, kLeakyRelu, kThresholdedRelu, kScaledTanh, kHardSigmoid, kElu, kSoftsign,
  kSoftplus,
};

/// One activation with its alpha and beta resolved (given values or the defaults).
struct Activation {
  ActKind kind = ActKind::kTanh;
  float alpha = 0;
  float beta = 0;

  /// Applies the function in place to x[0..n). The switch sits outside the loop so each loop is plain.
  template <typename A> void apply(A* x, int64_t n) const {
    const A a = static_cast<A>(alpha), b = static_cast<A>(beta);
    switch (kind) {
      case ActKind::kRelu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] > A(0) ? x[i] : A(0); break;
      case ActKind::kTanh: for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]); break;
      case ActKind::kSigmoid: for (int64_t i = 0; i < n; ++i) x[i] = sigmoid(x[i]); break;
      case ActKind::kAffine: for (int64_t i = 0; i < n; ++i) x[i] = a * x[i] + b; break;
      case ActKind::kLeakyRelu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= A(0) ? x[i] : a * x[i]; break;
      case ActKind::kThresholdedRelu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= a ? x[i] : A(0); break;
      case ActKind::kScaledTanh: for (int64_t i = 0; i < n; ++i) x[i] = a * std::tanh(b * x[i]); break;
      case ActKind::kHardSigmoid:
        for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(a * x[i] + b, A(0)), A(1));
        break;
      case ActKind::kElu: for (int64_t i = 0; i < n; ++i) x[i] = x[i] >= A(0) ? x[i] : a * std::expm1(x[i]); break;
      case ActKind::kSoftsign: for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (A(1) + std::abs(x[i])); break;
      case ActKind::kSoftplus: for (int64_t i = 0; i < n; ++i) x[i] = softplus(x[i]); break;
    }
  }

 private:
  // Both written so that no intermediate overflows for large |x|.
  template <typename A> static A sigmoid(A x) {
    if (x >= A(0)) return A(1) / (A(1) + std::exp(-x));
    const A e = std::exp(x);
    return e / (A(1) + e);
  }
  template <typename A> static A softplus(A x) { return std::max(x, A(0)) + std::log1p(std::exp(-std::abs(x))); }
};

/// What distinguishes the three ops for the shared code.
struct RnnOpSpec {
  int64_t gates;                                 ///< 4 (LSTM iofc), 3 (GRU zrh), 1 (RNN)
  std::vector<std::string> default_activations;  ///< one direction's defaults: f,g,h / f,g / f
  bool has_cell;                                 ///< LSTM: inputs initial_c and P, output Y_c
  size_t max_inputs;                             ///< 8 for LSTM, 6 for GRU and RNN
  size_t max_outputs;                            ///< 3 for LSTM, 2 for GRU and RNN
};

/// The node's attributes, checked.
struct RnnConfig {
  Direction direction = Direction::kForward;
  int64_t num_directions = 1;
  int64_t hidden_size = -1;  ///< -1 when the attribute is absent: taken from R's shape
  int64_t layout = 0;        ///< 0: [seq, batch, ...]; 1: [batch, seq, ...] (opset 14+)
  std::optional<float> clip;
  size_t per_direction = 1;             ///< activations each direction uses
  std::vector<Activation> activations;  ///< per_direction * num_directions, direction-major

  const Activation& act(int64_t dir, size_t k) const {
    return activations[static_cast<size_t>(dir) * per_direction + k];
  }
  /// True when direction `dir` (0 or 1) walks the sequence from its end.
  bool reverse(int64_t dir) const {
    return direction == Direction::kReverse || (direction == Direction::kBidirectional && dir == 1);
  }
};

/// Reads and checks direction, hidden_size, activations (with activation_alpha/beta), clip and layout.
RnnConfig parse_config(const NodeContext& ctx, const RnnOpSpec& spec);

/// Inference for all three ops: Y, Y_h (and Y_c) from X's dims (symbols for seq_length and batch survive),
/// the direction and hidden_size (or R's last dim). Checks every input shape it can see.
void infer_rnn(InferContext& ctx, const RnnOpSpec& spec);

/// A recurrent op's inputs in compute precision A (double for float64 data, float otherwise), always in
/// layout 0, and room for its results. Absent optional inputs are zeros (lengths: seq_length).
template <typename A> struct RnnProblem {
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1, gates = 1;
  bool has_cell = false;         ///< LSTM: c0 / yc are used
  std::vector<A> x;              ///< [seq, batch, input]
  std::vector<A> w;              ///< [dirs, gates*hidden, input]
  std::vector<A> r;              ///< [dirs, gates*hidden, hidden]
  std::vector<A> b;              ///< [dirs, 2*gates*hidden]: Wb then Rb
  std::vector<int64_t> lens;     ///< [batch], each in [0, seq]
  std::vector<A> h0, c0;         ///< [dirs, batch, hidden] (c0 only with a cell, zeros when absent)
  std::vector<A> p;              ///< [dirs, 3*hidden] peepholes i,o,f (only with a cell)
  bool want_y = false;           ///< the node lists output Y
  std::vector<A> y;              ///< [seq, dirs, batch, hidden] when want_y; zero past each length
  std::vector<A> yh, yc;         ///< [dirs, batch, hidden]
};

/// Checks every input against the others and converts them. Fails naming the input on any mismatch.
template <typename A> RnnProblem<A> load_problem(const KernelContext& ctx, const RnnConfig& cfg, const RnnOpSpec& spec);

/// Writes y / yh / yc to the outputs the node lists, in X's dtype and the node's layout.
template <typename A> void store_outputs(KernelContext& ctx, const RnnConfig& cfg, const RnnProblem<A>& p);

/// Runs `body<A>(problem)` with A = double for float64 inputs and float for float32/float16/bfloat16, between
/// loading and storing. Keeps the dtype dispatch in one place.
template <typename Body> void run_problem(KernelContext& ctx, const RnnConfig& cfg, const RnnOpSpec& spec, Body&& body) {
  if (ctx.input(0).dtype() == DType::kFloat64) {
    RnnProblem<double> p = load_problem<double>(ctx, cfg, spec);
    body(p);
    store_outputs(ctx, cfg, p);
  } else {
    RnnProblem<float> p = load_problem<float>(ctx, cfg, spec);
    body(p);
    store_outputs(ctx, cfg, p);
  }
}

/// c[i*ldc + j] (+)= sum_k a[i*lda + k] * b[j*ldb + k] for i < m, j < n. Row j of b is one output's weights,
/// as ONNX stores W and R, so the inner loop reads both operands contiguously.
template <typename A>
void matmul_nt(const A* a, int64_t lda, const A* b, int64_t ldb, A* c, int64_t ldc, int64_t m, int64_t n, int64_t k,
               bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    const A* ai = a + i * lda;
    A* ci = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) {
      const A* bj = b + j * ldb;
      A s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // four partial sums: independent chains the CPU can overlap
      int64_t q = 0;
      for (; q + 4 <= k; q += 4) {
        s0 += ai[q] * bj[q];
        s1 += ai[q + 1] * bj[q + 1];
        s2 += ai[q + 2] * bj[q + 2];
        s3 += ai[q + 3] * bj[q + 3];
      }
      for (; q < k; ++q) s0 += ai[q] * bj[q];
      const A s = (s0 + s1) + (s2 + s3);
      ci[j] = accumulate ? ci[j] + s : s;
    }
  }
}

/// Float products of several rows go through the shared reference GEMM (blocked and vectorised). It packs the
/// weights on every call, which costs as much as the product itself when only a row or two multiply them
/// (batch 1, the common inference case): measured on an LSTM of hidden 256, one row runs 4x faster in the plain
/// loop and 64 rows 2.4x faster in the GEMM.
inline void matmul_nt(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t m,
                      int64_t n, int64_t k, bool accumulate) {
  if (m < 4) {
    matmul_nt<float>(a, lda, b, ldb, c, ldc, m, n, k, accumulate);
    return;
  }
  kernels::gemm_f32_ref(false, true, m, n, k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, ldc);
}

/// Clips x[0..n) to [-clip, clip] when a clip is set.
template <typename A> void clip_values(A* x, int64_t n, const std::optional<float>& clip) {
  if (!clip) return;
  const A c = static_cast<A>(*clip);
  for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], -c), c);
}

/// The time index that step `step` of a sequence of length `len` reads: reverse directions start at the
/// sequence's own last step, not at seq_length - 1.
inline int64_t time_index(bool reverse, int64_t step, int64_t len) { return reverse ? len - 1 - step : step; }

/// Drives every direction's time loop. At each step it gathers, for every sequence still running, the input
/// row X[t, b] that the sequence reads at this step (t differs per row in reverse directions when lengths
/// differ) into xs [batch, input], rows of ended sequences left zero, then calls
///   cell(dir, xs, active, h, c)
/// which must update rows b with active[b] of the states h (and c) [batch, hidden] and leave the others. The
/// driver writes those rows to Y and, after the last step, the final states to yh / yc. States of ended
/// sequences keep their last value, so yh holds each sequence's own last step; Y stays zero past a length.
template <typename A, typename Cell> void run_time_loop(RnnProblem<A>& p, const RnnConfig& cfg, Cell&& cell) {
  const int64_t B = p.batch, H = p.hidden, I = p.input;
  const size_t state = static_cast<size_t>(B * H);
  std::vector<A> xs(static_cast<size_t>(B * I)), h(state), c;
  std::vector<char> active(static_cast<size_t>(B));
  for (int64_t d = 0; d < p.dirs; ++d) {
    const bool rev = cfg.reverse(d);
    std::copy_n(p.h0.begin() + static_cast<std::ptrdiff_t>(d * B * H), state, h.begin());
    if (p.has_cell) c.assign(p.c0.begin() + static_cast<std::ptrdiff_t>(d * B * H),
                                p.c0.begin() + static_cast<std::ptrdiff_t>((d + 1) * B * H));
    for (int64_t s = 0; s < p.seq; ++s) {
      bool any = false;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t len = p.lens[static_cast<size_t>(b)];
        active[static_cast<size_t>(b)] = s < len;
        A* row = xs.data() + b * I;
        if (s < len) {
          any = true;
          std::copy_n(p.x.data() + (time_index(rev, s, len) * B + b) * I, I, row);
        } else {
          std::fill_n(row, I, A(0));
        }
      }
      if (!any) break;  // every sequence has ended: the rest of Y stays zero
      cell(d, xs, active, h, c);
      if (!p.want_y) continue;
      for (int64_t b = 0; b < B; ++b) {
        if (!active[static_cast<size_t>(b)]) continue;
        const int64_t t = time_index(rev, s, p.lens[static_cast<size_t>(b)]);
        std::copy_n(h.data() + b * H, H, p.y.data() + ((t * p.dirs + d) * B + b) * H);
      }
    }
    // A sequence of length 0 has no last step: its final states are zero, as ONNX Runtime gives.
    for (int64_t b = 0; b < B; ++b) {
      const bool empty = p.lens[static_cast<size_t>(b)] == 0;
      for (int64_t j = 0; j < H; ++j) {
        const size_t src = static_cast<size_t>(b * H + j), dst = static_cast<size_t>(d * B * H) + src;
        p.yh[dst] = empty ? A(0) : h[src];
        if (p.has_cell) p.yc[dst] = empty ? A(0) : c[src];
      }
    }
  }
}

}  // namespace kiln::ops::rnn
