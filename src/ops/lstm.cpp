// LSTM (ONNX opsets 1, 7, 14, 22). Gates in ONNX order i, o, f, c; peepholes P in order i, o, f.
//   it = f(Xt Wi^T + Ht-1 Ri^T + Pi . Ct-1 + Wbi + Rbi)
//   ft = f(Xt Wf^T + Ht-1 Rf^T + Pf . Ct-1 + Wbf + Rbf)      (1 - it with input_forget)
//   ct = g(Xt Wc^T + Ht-1 Rc^T + Wbc + Rbc)
//   Ct = ft . Ct-1 + it . ct
//   ot = f(Xt Wo^T + Ht-1 Ro^T + Po . Ct + Wbo + Rbo)
//   Ht = ot . h(Ct)
// clip bounds every gate's input to its activation. Opset 1's output_sequence attribute changes nothing
// here: Y is computed whenever the node lists it.

#include "kernels/activation.h"
#include "ops/rnn_common.h"
#include "ops/rnn_prepared.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

const rnn::RnnOpSpec& lstm_spec() {
  static const rnn::RnnOpSpec spec{4, {"Sigmoid", "Tanh", "Tanh"}, true, 8, 3};
  return spec;
}

bool read_input_forget(const NodeContext& ctx) {
  const int64_t v = ctx.attr_int("input_forget", 0);
  if (v != 0 && v != 1) ctx.fail("input_forget must be 0 or 1, not {}", v);
  return v == 1;
}

template <typename A> void lstm_steps(rnn::RnnProblem<A>& p, const rnn::RnnConfig& cfg, bool input_forget) {
  const int64_t B = p.batch, H = p.hidden, I = p.input, GH = 4 * H;
  std::vector<A> g(static_cast<size_t>(B * GH)), bias(static_cast<size_t>(GH));
  rnn::run_time_loop(p, cfg, [&](int64_t d, const std::vector<A>& xs, const std::vector<char>& active,
                                 std::vector<A>& h, std::vector<A>& c) {
    const A* w = p.w.data() + d * GH * I;
    const A* r = p.r.data() + d * GH * H;
    const A* wb = p.b.data() + d * 2 * GH;
    for (int64_t j = 0; j < GH; ++j) bias[static_cast<size_t>(j)] = wb[j] + wb[GH + j];
    const A* pi = p.p.data() + d * 3 * H;
    const A* po = pi + H;
    const A* pf = pi + 2 * H;
    const rnn::Activation& f = cfg.act(d, 0);
    const rnn::Activation& gact = cfg.act(d, 1);
    const rnn::Activation& hact = cfg.act(d, 2);

    rnn::matmul_nt(xs.data(), I, w, I, g.data(), GH, B, GH, I, false);
    rnn::matmul_nt(h.data(), H, r, H, g.data(), GH, B, GH, H, true);
    for (int64_t b = 0; b < B; ++b) {
      if (!active[static_cast<size_t>(b)]) continue;
      A* gi = g.data() + b * GH;
      A* go = gi + H;
      A* gf = gi + 2 * H;
      A* gc = gi + 3 * H;
      A* hb = h.data() + b * H;
      A* cb = c.data() + b * H;
      for (int64_t j = 0; j < GH; ++j) gi[j] += bias[static_cast<size_t>(j)];
      for (int64_t j = 0; j < H; ++j) {
        gi[j] += pi[j] * cb[j];
        gf[j] += pf[j] * cb[j];
      }
      rnn::clip_values(gi, H, cfg.clip);
      f.apply(gi, H);
      if (input_forget) {
        for (int64_t j = 0; j < H; ++j) gf[j] = A(1) - gi[j];
      } else {
        rnn::clip_values(gf, H, cfg.clip);
        f.apply(gf, H);
      }
      rnn::clip_values(gc, H, cfg.clip);
      gact.apply(gc, H);
      for (int64_t j = 0; j < H; ++j) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
      for (int64_t j = 0; j < H; ++j) go[j] += po[j] * cb[j];
      rnn::clip_values(go, H, cfg.clip);
      f.apply(go, H);
      std::copy_n(cb, H, gc);  // gc is free now: h(Ct) goes there
      hact.apply(gc, H);
      for (int64_t j = 0; j < H; ++j) hb[j] = go[j] * gc[j];
    }
  });
}

void infer_lstm(InferContext& ctx) {
  read_input_forget(ctx);
  rnn::infer_rnn(ctx, lstm_spec());
}

void compute_lstm(KernelContext& ctx) {
  const rnn::RnnConfig cfg = rnn::parse_config(ctx, lstm_spec());
  const bool input_forget = read_input_forget(ctx);
  rnn::run_problem(ctx, cfg, lstm_spec(), [&](auto& p) { lstm_steps(p, cfg, input_forget); });
}

// ---- fast path: packed W and R, all steps' input products in one GEMM, fused gate math ----

class PreparedLstm final : public rnn::PreparedRecurrent {
 public:
  bool input_forget = false;
  std::vector<float> peep;  ///< [dirs, 3 * hidden] in order i, o, f; empty without P

  std::string describe() const override {
    return fmt::format("lstm packed W {}x{} R {}x{}{} {}", input, gh, hidden, rec_cols,
                       peep.empty() ? "" : " +peepholes", kernels::gemm_kernel_name());
  }

 protected:
  int64_t extra_floats(int64_t) const override { return hidden; }
  size_t extra_packed_bytes() const override { return peep.size() * sizeof(float); }

  void cell(const Step& s) const override {
    const int64_t H = s.hidden, GH = 4 * H;
    const float* p = peep.empty() ? nullptr : peep.data() + s.d * 3 * H;
    float* tanh_c = s.extra;
    for (int64_t b = 0; b < s.batch; ++b) {
      const float* xw = s.xw[b];
      if (!xw) continue;
      float* gi = s.g + b * GH;  // gates i, o, f, c: pre-activations, then activations, in place
      float* go = gi + H;
      float* gf = gi + 2 * H;
      float* gc = gi + 3 * H;
      float* c = s.c + b * H;
      float* h = s.h + b * H;
      if (!s.xw_added)
        for (int64_t j = 0; j < GH; ++j) gi[j] += xw[j];
      if (!p && !input_forget) {
        // i, o and f are adjacent: one clip and one sigmoid over all three.
        rnn::clip_f32(gi, GH, cfg.clip);
        rnn::activate_f32(kernels::Activation::kSigmoid, gi, 3 * H);
      } else {
        if (p)
          for (int64_t j = 0; j < H; ++j) {
            gi[j] += p[j] * c[j];
            gf[j] += p[2 * H + j] * c[j];
          }
        rnn::clip_f32(gi, H, cfg.clip);
        rnn::activate_f32(kernels::Activation::kSigmoid, gi, H);
        if (input_forget) {
          for (int64_t j = 0; j < H; ++j) gf[j] = 1.0f - gi[j];
        } else {
          rnn::clip_f32(gf, H, cfg.clip);
          rnn::activate_f32(kernels::Activation::kSigmoid, gf, H);
        }
        rnn::clip_f32(gc, H, cfg.clip);
      }
      rnn::activate_f32(kernels::Activation::kTanh, gc, H);
      for (int64_t j = 0; j < H; ++j) c[j] = gf[j] * c[j] + gi[j] * gc[j];
      if (p || input_forget) {  // o reads the new cell state through its peephole
        if (p)
          for (int64_t j = 0; j < H; ++j) go[j] += p[H + j] * c[j];
        rnn::clip_f32(go, H, cfg.clip);
        rnn::activate_f32(kernels::Activation::kSigmoid, go, H);
      }
      kernels::apply_activation_f32(kernels::ActivationParams{kernels::Activation::kTanh, 0.0f, 0.0f}, c, tanh_c, H);
      for (int64_t j = 0; j < H; ++j) h[j] = go[j] * tanh_c[j];
    }
  }
};

std::unique_ptr<PreparedKernel> prepare_lstm(PrepareContext& ctx) {
  auto k = std::make_unique<PreparedLstm>();
  if (!rnn::prepare_recurrent(ctx, lstm_spec(), 4, *k)) return nullptr;
  k->input_forget = read_input_forget(ctx);
  k->xw_into_state_product = true;
  const std::vector<float> b = rnn::recurrent_bias(ctx, *k);
  const int64_t dirs = k->cfg.num_directions, gh = k->gh;
  k->x_bias.resize(static_cast<size_t>(dirs * gh));
  for (int64_t d = 0; d < dirs; ++d) {  // Wb + Rb: both are added to every gate's input
    const float* wb = b.data() + d * 2 * gh;
    for (int64_t j = 0; j < gh; ++j) k->x_bias[static_cast<size_t>(d * gh + j)] = wb[j] + wb[gh + j];
  }
  if (ctx.has_input(7)) {
    const Tensor* p = ctx.input_value(7);
    k->peep.assign(p->data<float>(), p->data<float>() + p->numel());
  }
  return k;
}

}  // namespace
KILN_REGISTER_OP(lstm, {"", "LSTM", {1, 7, 14, 22}, 0, infer_lstm, compute_lstm, false, false, false, prepare_lstm}.with_macs(macs::recurrent));
}  // namespace kiln::ops
