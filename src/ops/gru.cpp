// GRU (ONNX opsets 1, 3, 7, 14, 22). Gates in ONNX order z (update), r (reset), h (hidden).
//   zt = f(Xt Wz^T + Ht-1 Rz^T + Wbz + Rbz)
//   rt = f(Xt Wr^T + Ht-1 Rr^T + Wbr + Rbr)
//   ht = g(Xt Wh^T + (rt . Ht-1) Rh^T + Rbh + Wbh)        linear_before_reset = 0
//   ht = g(Xt Wh^T + rt . (Ht-1 Rh^T + Rbh) + Wbh)        linear_before_reset = 1 (what PyTorch exports)
//   Ht = (1 - zt) . ht + zt . Ht-1
// clip bounds every gate's input to its activation.

#include "kernels/activation.h"
#include "ops/rnn_common.h"
#include "ops/rnn_prepared.h"
#include "ops/op_macs.h"
#include "ops/packed_weights.h"

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

// ---- fast path: packed W and R, all steps' input products in one GEMM, fused gate math ----

// With linear_before_reset (what PyTorch exports) one GEMM per step gives all three gates' recurrent products
// (Rbh in its epilogue, inside rt . (...)); without, the step multiplies the z and r rows of R first and the
// hidden gate's rows by rt . Ht-1 afterwards (r_h, packed separately).
class PreparedGru final : public rnn::PreparedRecurrent {
 public:
  bool lbr = false;
  std::vector<kernels::PackedGemmOperand> r_h;  ///< without linear_before_reset: per direction Rhᵀ [hidden, hidden]

  std::string describe() const override {
    return fmt::format("gru{} packed W {}x{} R {}x{} {}", lbr ? " linear_before_reset" : "", input, gh, hidden,
                       gh, kernels::gemm_kernel_name());
  }

 protected:
  int64_t extra_floats(int64_t batch) const override { return lbr ? 0 : 2 * batch * hidden; }
  size_t extra_packed_bytes() const override {
    size_t n = 0;
    for (const auto& p : r_h) n += p.bytes();
    return n;
  }

  void cell(const Step& s) const override {
    const int64_t H = s.hidden, B = s.batch, G = rec_cols;  // G: columns of s.g per row (3H or 2H)
    float* rh = s.extra;       // rt . Ht-1 (without linear_before_reset)
    float* rec = rh + B * H;   // (rt . Ht-1) Rhᵀ
    for (int64_t b = 0; b < B; ++b) {
      float* z = s.g + b * G;
      const float* xw = s.xw[b];
      if (!xw) {
        if (!lbr) std::fill_n(rh + b * H, H, 0.0f);
        continue;
      }
      for (int64_t j = 0; j < 2 * H; ++j) z[j] += xw[j];
      rnn::clip_f32(z, 2 * H, cfg.clip);
      rnn::activate_f32(kernels::Activation::kSigmoid, z, 2 * H);
      const float* r = z + H;
      const float* h = s.h + b * H;
      if (lbr) {
        float* ht = z + 2 * H;  // Ht-1 Rhᵀ + Rbh, becomes the candidate state
        for (int64_t j = 0; j < H; ++j) ht[j] = xw[2 * H + j] + r[j] * ht[j];
      } else {
        for (int64_t j = 0; j < H; ++j) rh[b * H + j] = r[j] * h[j];
      }
    }
    if (!lbr) {
      kernels::GemmArgs g;
      g.M = B;
      g.N = H;
      g.K = H;
      g.a = kernels::MatrixRef{rh, H, false};
      g.packed_b = &r_h[static_cast<size_t>(s.d)];
      g.c = rec;
      g.ldc = H;
      kernels::gemm_f32(g, s.pool);
    }
    for (int64_t b = 0; b < B; ++b) {
      const float* xw = s.xw[b];
      if (!xw) continue;
      const float* z = s.g + b * G;
      float* ht = lbr ? s.g + b * G + 2 * H : rec + b * H;
      if (!lbr)
        for (int64_t j = 0; j < H; ++j) ht[j] += xw[2 * H + j];
      rnn::clip_f32(ht, H, cfg.clip);
      rnn::activate_f32(kernels::Activation::kTanh, ht, H);
      float* h = s.h + b * H;
      for (int64_t j = 0; j < H; ++j) h[j] = (1.0f - z[j]) * ht[j] + z[j] * h[j];
    }
  }
};

std::unique_ptr<PreparedKernel> prepare_gru(PrepareContext& ctx) {
  auto k = std::make_unique<PreparedGru>();
  k->lbr = read_linear_before_reset(ctx);
  if (!rnn::prepare_recurrent(ctx, gru_spec(), k->lbr ? 3 : 2, *k)) return nullptr;
  const std::vector<float> b = rnn::recurrent_bias(ctx, *k);
  const int64_t dirs = k->cfg.num_directions, H = k->hidden, gh = k->gh;
  // Biases added to X·Wᵀ: Wb + Rb, except the hidden gate's Rbh with linear_before_reset (it sits inside rt . (...)
  // there, so it goes to the recurrent GEMM's epilogue instead).
  k->x_bias.resize(static_cast<size_t>(dirs * gh));
  if (k->lbr) k->rec_bias.assign(static_cast<size_t>(dirs * gh), 0.0f);
  for (int64_t d = 0; d < dirs; ++d) {
    const float* wb = b.data() + d * 2 * gh;
    const float* rb = wb + gh;
    for (int64_t j = 0; j < gh; ++j) {
      const bool inside_reset = k->lbr && j >= 2 * H;
      k->x_bias[static_cast<size_t>(d * gh + j)] = wb[j] + (inside_reset ? 0.0f : rb[j]);
      if (inside_reset) k->rec_bias[static_cast<size_t>(d * gh + j)] = rb[j];
    }
    if (!k->lbr) {
      const float* r_hd = ctx.input_value(2)->data<float>() + d * gh * H + 2 * H * H;
      k->r_h.push_back(pack_gemm_weights(ctx, "gru Rh d" + std::to_string(d), kernels::GemmSide::kB, H, H,
                                         [&] { return kernels::MatrixRef{r_hd, H, true}; }));
    }
  }
  return k;
}

}  // namespace
KILN_REGISTER_OP(gru, {"", "GRU", {1, 3, 7, 14, 22}, 0, infer_gru, compute_gru, false, false, false, prepare_gru}.with_macs(macs::recurrent));
}  // namespace kiln::ops
