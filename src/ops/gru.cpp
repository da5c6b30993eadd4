// GRU (ONNX opsets 1, 3, 7, 14, 22). Gates in ONNX order z (update), r (reset), h (hidden).
//   zt = f(Xt Wz^T + Ht-1 Rz^T + Wbz + Rbz)
//   rt = f(Xt Wr^T + Ht-1 Rr^T + Wbr + Rbr)
//   ht = g(Xt Wh^T + (rt . Ht-1) Rh^T + Rbh + Wbh)        linear_before_reset = 0
//   ht = g(Xt Wh^T + rt . (Ht-1 Rh^T + Rbh) + Wbh)        linear_before_reset = 1 (what PyTorch exports)
//   Ht = (1 - zt) . ht + zt . Ht-1
// clip bounds every gate's input to its activation.

#include "ops/rnn_common.h"

namespace kiln::ops {
namespace {

const rnn::RnnOpSpec& gru_spec() {
  static const rnn::RnnOpSpec spec{3, {"Sigmoid", "Tanh"}, false, 6, 2};
  return spec;
}

bool read_linear_before_reset(const NodeContext& ctx) {
  const int64_t v = ctx.attr_int("linear_before_reset", 0);
  if (v != 0 && v != 1) ctx.fail("linear_before_reset must be 0 or 1, not {}", v);
  return v == 1;
}

template <typename A> void gru_steps(rnn::RnnProblem<A>& p, const rnn::RnnConfig& cfg, bool lbr) {
  const int64_t B = p.batch, H = p.hidden, I = p.input, GH = 3 * H;
  const size_t state = static_cast<size_t>(B * H);
  std::vector<A> gx(static_cast<size_t>(B * GH)), gh(static_cast<size_t>(B * GH)), rh(state), rec(state);
  rnn::run_time_loop(p, cfg, [&](int64_t d, const std::vector<A>& xs, const std::vector<char>& active,
                                 std::vector<A>& h, std::vector<A>&) {
    const A* w = p.w.data() + d * GH * I;
    const A* r = p.r.data() + d * GH * H;
    const A* r_h = r + 2 * H * H;  // the hidden gate's rows of R
    const A* wb = p.b.data() + d * 2 * GH;
    const A* rb = wb + GH;
    const rnn::Activation& f = cfg.act(d, 0);
    const rnn::Activation& g = cfg.act(d, 1);

    rnn::matmul_nt(xs.data(), I, w, I, gx.data(), GH, B, GH, I, false);
    // With linear_before_reset the hidden gate's recurrent product uses Ht-1 directly; without, it needs
    // rt first, so only the z and r rows are multiplied here.
    rnn::matmul_nt(h.data(), H, r, H, gh.data(), GH, B, lbr ? GH : 2 * H, H, false);
    for (int64_t b = 0; b < B; ++b) {
      if (!active[static_cast<size_t>(b)]) continue;
      A* xz = gx.data() + b * GH;
      const A* hz = gh.data() + b * GH;
      for (int64_t j = 0; j < 2 * H; ++j) xz[j] += hz[j] + wb[j] + rb[j];  // z and r
      rnn::clip_values(xz, 2 * H, cfg.clip);
      f.apply(xz, 2 * H);
      const A* rt = xz + H;
      const A* hb = h.data() + b * H;
      A* rhb = rh.data() + b * H;
      for (int64_t j = 0; j < H; ++j) rhb[j] = rt[j] * hb[j];
    }
    if (!lbr) rnn::matmul_nt(rh.data(), H, r_h, H, rec.data(), H, B, H, H, false);
    for (int64_t b = 0; b < B; ++b) {
      if (!active[static_cast<size_t>(b)]) continue;
      const A* zt = gx.data() + b * GH;
      const A* rt = zt + H;
      A* ht = gx.data() + b * GH + 2 * H;
      const A* hh = gh.data() + b * GH + 2 * H;
      const A* recb = rec.data() + b * H;
      for (int64_t j = 0; j < H; ++j)
        ht[j] += wb[2 * H + j] + (lbr ? rt[j] * (hh[j] + rb[2 * H + j]) : recb[j] + rb[2 * H + j]);
      rnn::clip_values(ht, H, cfg.clip);
      g.apply(ht, H);
      A* hb = h.data() + b * H;
      for (int64_t j = 0; j < H; ++j) hb[j] = (A(1) - zt[j]) * ht[j] + zt[j] * hb[j];
    }
  });
}

void infer_gru(InferContext& ctx) {
  read_linear_before_reset(ctx);
  rnn::infer_rnn(ctx, gru_spec());
}

void compute_gru(KernelContext& ctx) {
  const rnn::RnnConfig cfg = rnn::parse_config(ctx, gru_spec());
  const bool lbr = read_linear_before_reset(ctx);
  rnn::run_problem(ctx, cfg, gru_spec(), [&](auto& p) { gru_steps(p, cfg, lbr); });
}

}  // namespace
KILN_REGISTER_OP(gru, {"", "GRU", {1, 3, 7, 14, 22}, 0, infer_gru, compute_gru});
}  // namespace kiln::ops
