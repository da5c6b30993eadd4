// RNN, the simple recurrent cell (ONNX opsets 1, 7, 14, 22):
//   Ht = f(Xt Wi^T + Ht-1 Ri^T + Wbi + Rbi)       (default f = Tanh; clip bounds f's input)

#include "ops/rnn_common.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

const rnn::RnnOpSpec& rnn_spec() {
  static const rnn::RnnOpSpec spec{1, {"Tanh"}, false, 6, 2};
  return spec;
}

template <typename A> void rnn_steps(rnn::RnnProblem<A>& p, const rnn::RnnConfig& cfg) {
  const int64_t B = p.batch, H = p.hidden, I = p.input;
  std::vector<A> g(static_cast<size_t>(B * H));
  rnn::run_time_loop(p, cfg, [&](int64_t d, const std::vector<A>& xs, const std::vector<char>& active,
                                 std::vector<A>& h, std::vector<A>&) {
    const A* wb = p.b.data() + d * 2 * H;
    const A* rb = wb + H;
    rnn::matmul_nt(xs.data(), I, p.w.data() + d * H * I, I, g.data(), H, B, H, I, false);
    rnn::matmul_nt(h.data(), H, p.r.data() + d * H * H, H, g.data(), H, B, H, H, true);
    for (int64_t b = 0; b < B; ++b) {
      if (!active[static_cast<size_t>(b)]) continue;
      A* gb = g.data() + b * H;
      for (int64_t j = 0; j < H; ++j) gb[j] += wb[j] + rb[j];
      rnn::clip_values(gb, H, cfg.clip);
      cfg.act(d, 0).apply(gb, H);
      std::copy_n(gb, H, h.data() + b * H);
    }
  });
}

void infer_rnn_op(InferContext& ctx) { rnn::infer_rnn(ctx, rnn_spec()); }

void compute_rnn(KernelContext& ctx) {
  const rnn::RnnConfig cfg = rnn::parse_config(ctx, rnn_spec());
  rnn::run_problem(ctx, cfg, rnn_spec(), [&](auto& p) { rnn_steps(p, cfg); });
}

}  // namespace
KILN_REGISTER_OP(rnn, {"", "RNN", {1, 7, 14, 22}, 0, infer_rnn_op, compute_rnn}.with_macs(macs::recurrent));
}  // namespace kiln::ops
