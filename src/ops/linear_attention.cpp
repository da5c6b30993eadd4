// LinearAttention (opset 27): the recurrent form of linear attention (RetNet, GLA, DeltaNet, Gated DeltaNet)
// for prefill (T > 1) and decoding (T = 1). Per kv head, a state S of [d_k, d_v] is carried through time:
//   linear:       S = S + k v^T
//   gated:        S = exp(g) S + k v^T
//   delta:        S = S + beta k (v - S^T k)^T
//   gated_delta:  S = exp(g) S + beta k (v - exp(g) S^T k)^T
//   o = scale * q^T S
// Q/K/V (and decay/beta) are packed [B, T, heads * size]; past_state/present_state are [B, H_kv, d_k, d_v].
// With q_num_heads > kv_num_heads, query head h reads the state of kv head h / (q_num_heads / kv_num_heads)
// (the same grouping Attention uses). decay is log-space, per kv head ([B, T, H_kv]) or per key dim
// ([B, T, H_kv * d_k]); beta is per kv head ([B, T, H_kv]) or shared ([B, T, 1]).
//
// This kernel runs the recurrence token by token, which is the spec's definition; chunk_size only tunes
// chunk-parallel implementations, so it is accepted and ignored. Everything is computed in double from the
// input values and rounded once into the output types (the reference computes in float32 and does the same).
// present_state takes past_state's type (S may differ from T), or T when there is no past_state.

#include <algorithm>
#include <cmath>
#include <utility>
#include <string>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum LinearAttentionInput { kQuery, kKey, kValue, kPast, kDecay, kBeta };
enum Output { kOutput, kPresent };

bool is_allowed_type(DType t) { return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16; }

struct UpdateRule {
  bool gated = false;  ///< decays the state by exp(decay) each step
  bool delta = false;  ///< writes beta * (v - S^T k) instead of v
};

UpdateRule update_rule(const NodeContext& ctx) {
  const std::string rule = ctx.attr_string("update_rule", "gated_delta");
  if (rule == "linear") return {false, false};
  if (rule == "gated") return {true, false};
  if (rule == "delta") return {false, true};
  if (rule == "gated_delta") return {true, true};
  ctx.fail("update_rule must be 'linear', 'gated', 'delta' or 'gated_delta', not '{}'", rule);
}

struct Heads {
  int64_t q = 0, kv = 0;
};

Heads heads(const NodeContext& ctx) {
  Heads h{ctx.attr_int("q_num_heads", 0), ctx.attr_int("kv_num_heads", 0)};
  if (h.q <= 0 || h.kv <= 0)
    ctx.fail("q_num_heads and kv_num_heads are required and must be positive (got {} and {})", h.q, h.kv);
  if (h.q % h.kv != 0)
    ctx.fail("q_num_heads ({}) must be a multiple of kv_num_heads ({}): each kv head serves a whole group of "
             "query heads", h.q, h.kv);
  return h;
}

/// Every size of the op, as far as the shapes tell: numbers, symbols or unknown.
struct Geometry {
  Heads heads;
  Dim batch, seq, dk, dv;
  bool per_key_decay = false;  ///< decay is [B, T, H_kv * d_k] (else [B, T, H_kv])
  bool shared_beta = false;    ///< beta is [B, T, 1] (else [B, T, H_kv])
};

/// Of several dims that must be equal: the first number, else the first symbol, else unknown.
Dim pick(std::initializer_list<Dim> dims) {
  for (const Dim& d : dims)
    if (d.is_known()) return d;
  for (const Dim& d : dims)
    if (d.is_symbol()) return d;
  return Dim();
}

void expect_rank(const NodeContext& ctx, const Shape& s, size_t rank, const char* input, const char* layout) {
  if (s.rank_known && s.rank() != rank) ctx.bad_input("{} must be {}-D {}, but it is {}", input, rank, layout, s.str());
}

/// The packed size of each head: last / heads, failing when it does not divide.
Dim per_head(const NodeContext& ctx, const Dim& last, int64_t heads, const char* input, const char* heads_name) {
  if (last.is_known() && last.value() % heads != 0)
    ctx.bad_input("{} dim 2 is {}, which is not a multiple of {} ({})", input, last.value(), heads_name, heads);
  return dim_div(last, heads);
}

/// Checks every shape against the others (where dims are numbers) and derives the sizes. `shape(i)` is
/// null for an absent optional input.
template <typename ShapeOf> Geometry geometry(const NodeContext& ctx, const ShapeOf& shape) {
  Geometry g;
  g.heads = heads(ctx);
  const Shape &q = *shape(kQuery), &k = *shape(kKey), &v = *shape(kValue);
  expect_rank(ctx, q, 3, "query", "(B, T, q_num_heads * d_k)");
  expect_rank(ctx, k, 3, "key", "(B, T, kv_num_heads * d_k)");
  expect_rank(ctx, v, 3, "value", "(B, T, kv_num_heads * d_v)");
  g.batch = pick({dim_at(q, 0), dim_at(k, 0), dim_at(v, 0)});
  g.seq = pick({dim_at(q, 1), dim_at(k, 1), dim_at(v, 1)});
  for (auto [name, s] : {std::pair{"key", &k}, std::pair{"value", &v}}) {
    expect_dim(ctx, dim_at(*s, 0), g.batch, name, 0, "the batch size B");
    expect_dim(ctx, dim_at(*s, 1), g.seq, name, 1, "the sequence length T");
  }
  const Dim dk_q = per_head(ctx, dim_at(q, 2), g.heads.q, "query", "q_num_heads");
  const Dim dk_k = per_head(ctx, dim_at(k, 2), g.heads.kv, "key", "kv_num_heads");
  if (dk_q.is_known() && dk_k.is_known() && dk_q.value() != dk_k.value())
    ctx.bad_input("query's head size d_k is {} but key's is {} (key dim 2 must be kv_num_heads * d_k = {})",
                  dk_q.value(), dk_k.value(), checked_mul(g.heads.kv, dk_q.value()));
  g.dk = pick({dk_q, dk_k});
  g.dv = per_head(ctx, dim_at(v, 2), g.heads.kv, "value", "kv_num_heads");

  if (const Shape* p = shape(kPast)) {
    expect_rank(ctx, *p, 4, "past_state", "(B, kv_num_heads, d_k, d_v)");
    expect_dim(ctx, dim_at(*p, 0), g.batch, "past_state", 0, "the batch size B");
    expect_dim(ctx, dim_at(*p, 1), Dim(g.heads.kv), "past_state", 1, "kv_num_heads");
    expect_dim(ctx, dim_at(*p, 2), g.dk, "past_state", 2, "the key head size d_k");
    expect_dim(ctx, dim_at(*p, 3), g.dv, "past_state", 3, "the value head size d_v");
    g.batch = pick({g.batch, dim_at(*p, 0)});
    g.dk = pick({g.dk, dim_at(*p, 2)});
    g.dv = pick({g.dv, dim_at(*p, 3)});
  }
  if (const Shape* d = shape(kDecay)) {
    expect_rank(ctx, *d, 3, "decay", "(B, T, kv_num_heads) or (B, T, kv_num_heads * d_k)");
    expect_dim(ctx, dim_at(*d, 0), g.batch, "decay", 0, "the batch size B");
    expect_dim(ctx, dim_at(*d, 1), g.seq, "decay", 1, "the sequence length T");
    const Dim last = dim_at(*d, 2);
    if (last.is_known() && g.dk.is_known()) {
      const int64_t per_key = checked_mul(g.heads.kv, g.dk.value());
      if (last.value() != g.heads.kv && last.value() != per_key)
        ctx.bad_input("decay dim 2 is {}, but it must be kv_num_heads = {} (one decay per head) or "
                      "kv_num_heads * d_k = {} (one per key dim)", last.value(), g.heads.kv, per_key);
      g.per_key_decay = last.value() != g.heads.kv;  // when d_k is 1 both readings are the same
    }
  }
  if (const Shape* b = shape(kBeta)) {
    expect_rank(ctx, *b, 3, "beta", "(B, T, kv_num_heads) or (B, T, 1)");
    expect_dim(ctx, dim_at(*b, 0), g.batch, "beta", 0, "the batch size B");
    expect_dim(ctx, dim_at(*b, 1), g.seq, "beta", 1, "the sequence length T");
    const Dim last = dim_at(*b, 2);
    if (last.is_known() && last.value() != g.heads.kv && last.value() != 1)
      ctx.bad_input("beta dim 2 is {}, but it must be kv_num_heads = {} or 1", last.value(), g.heads.kv);
    g.shared_beta = last.is_known() && last.value() == 1;
  }
  return g;
}

/// decay is required by the gated rules and forbidden otherwise; beta likewise for the delta rules.
void check_rule_inputs(const NodeContext& ctx, const UpdateRule& rule, bool has_decay, bool has_beta) {
  const std::string name = ctx.attr_string("update_rule", "gated_delta");
  if (rule.gated && !has_decay) ctx.fail("update_rule '{}' needs the decay input (5th)", name);
  if (!rule.gated && has_decay) ctx.fail("update_rule '{}' takes no decay input; remove it or use a gated rule", name);
  if (rule.delta && !has_beta) ctx.fail("update_rule '{}' needs the beta input (6th)", name);
  if (!rule.delta && has_beta) ctx.fail("update_rule '{}' takes no beta input; remove it or use a delta rule", name);
}

void infer_linear_attention(InferContext& ctx) {
  const DType t = ctx.input_type(kQuery);
  if (!is_allowed_type(t)) ctx.fail("query must be float, float16 or bfloat16, not {}", dtype_name(t));
  for (auto [i, name] : {std::pair{kKey, "key"}, std::pair{kValue, "value"}, std::pair{kDecay, "decay"},
                          std::pair{kBeta, "beta"}})
    if (ctx.has_input(i) && ctx.input_type(i) != t)
      ctx.fail("{} is {} but query is {}: query, key, value, decay and beta share one type", name,
               dtype_name(ctx.input_type(i)), dtype_name(t));
  const DType state_type = ctx.has_input(kPast) ? ctx.input_type(kPast) : t;
  if (!is_allowed_type(state_type))
    ctx.fail("past_state must be float, float16 or bfloat16, not {}", dtype_name(state_type));
  check_rule_inputs(ctx, update_rule(ctx), ctx.has_input(kDecay), ctx.has_input(kBeta));

  const Geometry g = geometry(ctx, [&](int i) { return ctx.has_input(i) ? &ctx.input_shape(i) : nullptr; });
  ctx.set_output(kOutput, t, Shape({g.batch, g.seq, g.dv.is_known() ? dim_mul(g.dv, g.heads.q) : Dim()}));
  if (ctx.num_outputs() > kPresent) ctx.set_output(kPresent, state_type, Shape({g.batch, Dim(g.heads.kv), g.dk, g.dv}));
}

// ---- kernel ----

/// All elements of a float tensor as double (converted once, outside the recurrence).
std::vector<double> load(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  visit_float(t.dtype(), [&]<typename T>() {
    const T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = to_double(p[i]);
  }, "LinearAttention");
  return v;
}

void store(const std::vector<double>& v, Tensor& t) {
  visit_float(t.dtype(), [&]<typename T>() {
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = from_double<T>(v[i]);
  }, "LinearAttention");
}

void compute_linear_attention(KernelContext& ctx) {
  const UpdateRule rule = update_rule(ctx);
  check_rule_inputs(ctx, rule, ctx.has_input(kDecay), ctx.has_input(kBeta));
  std::vector<Shape> shapes(6);
  for (int i = 0; i < 6; ++i)
    if (ctx.has_input(i)) shapes[size_t(i)] = Shape::from(ctx.input(i).dims());
  const Geometry g = geometry(ctx, [&](int i) { return ctx.has_input(i) ? &shapes[size_t(i)] : nullptr; });
  const int64_t B = g.batch.value(), T = g.seq.value(), Hq = g.heads.q, Hkv = g.heads.kv;
  const int64_t dk = g.dk.value(), dv = g.dv.value();
  const std::vector<int64_t> out_dims{B, T, checked_mul(Hq, dv)}, state_dims{B, Hkv, dk, dv};
  Tensor& out_t = ctx.output(kOutput);
  const bool wants_present = ctx.node().outputs.size() > kPresent && ctx.node().outputs[kPresent] >= 0;
  if (out_t.dims() != out_dims || (wants_present && ctx.output(kPresent).dims() != state_dims))
    ctx.fail("inference sized the outputs differently from the kernel's {} and {}", dims_str(out_dims),
             dims_str(state_dims));

  // With d_v = 0 both outputs are empty; the head loops below would still count through heads and tokens
  // that empty tensors let be arbitrarily many.
  if (dv == 0) return;

  const std::vector<double> q = load(ctx.input(kQuery)), k = load(ctx.input(kKey)), v = load(ctx.input(kValue));
  const std::vector<double> decay = rule.gated ? load(ctx.input(kDecay)) : std::vector<double>{};
  const std::vector<double> beta = rule.delta ? load(ctx.input(kBeta)) : std::vector<double>{};
  std::vector<double> state = ctx.has_input(kPast) ? load(ctx.input(kPast))
                                                   : std::vector<double>(size_t(checked_numel(state_dims)), 0.0);
  // scale 0 (the default) means 1/sqrt(d_k); with d_k = 0 every product is an empty sum, so any scale does.
  const double scale_attr = static_cast<double>(ctx.attr_float("scale", 0.0f));
  const double scale = scale_attr != 0.0 ? scale_attr : dk > 0 ? 1.0 / std::sqrt(static_cast<double>(dk)) : 1.0;
  const int64_t group = Hq / Hkv;
  const int64_t decay_width = g.per_key_decay ? Hkv * dk : Hkv;
  const int64_t beta_width = g.shared_beta ? 1 : Hkv;

  std::vector<double> out(size_t(checked_numel(out_dims)));
  std::vector<double> write(static_cast<size_t>(dv));     // what step t adds along k: v, or beta * (v - S^T k)
  std::vector<double> recalled(static_cast<size_t>(dv));  // S^T k
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hkv; ++h) {
      double* s = state.data() + (b * Hkv + h) * dk * dv;  // S[i][m] at s[i * dv + m]
      for (int64_t t = 0; t < T; ++t) {
        const int64_t tok = b * T + t;
        const double* kt = k.data() + (tok * Hkv + h) * dk;
        const double* vt = v.data() + (tok * Hkv + h) * dv;
        if (rule.gated) {
          const double* gt = decay.data() + tok * decay_width + (g.per_key_decay ? h * dk : h);
          for (int64_t i = 0; i < dk; ++i) {
            const double factor = std::exp(gt[g.per_key_decay ? i : 0]);
            for (int64_t m = 0; m < dv; ++m) s[i * dv + m] *= factor;
          }
        }
        for (int64_t m = 0; m < dv; ++m) write[size_t(m)] = vt[m];
        if (rule.delta) {
          // The delta rule corrects toward v what the (decayed) state already recalls for key k.
          const double bt = beta[size_t(tok * beta_width + (g.shared_beta ? 0 : h))];
          std::fill(recalled.begin(), recalled.end(), 0.0);
          for (int64_t i = 0; i < dk; ++i)
            for (int64_t m = 0; m < dv; ++m) recalled[size_t(m)] += s[i * dv + m] * kt[i];
          for (int64_t m = 0; m < dv; ++m) write[size_t(m)] = bt * (vt[m] - recalled[size_t(m)]);
        }
        for (int64_t i = 0; i < dk; ++i)
          for (int64_t m = 0; m < dv; ++m) s[i * dv + m] += kt[i] * write[size_t(m)];
        for (int64_t hq = h * group; hq < (h + 1) * group; ++hq) {
          const double* qt = q.data() + (tok * Hq + hq) * dk;
          double* ot = out.data() + (tok * Hq + hq) * dv;
          for (int64_t i = 0; i < dk; ++i)
            for (int64_t m = 0; m < dv; ++m) ot[m] += qt[i] * s[i * dv + m];
          for (int64_t m = 0; m < dv; ++m) ot[m] *= scale;
        }
      }
    }
  store(out, out_t);
  if (wants_present) store(state, ctx.output(kPresent));
}

}  // namespace

KILN_REGISTER_OP(linear_attention, {"", "LinearAttention", {27}, 0, infer_linear_attention, compute_linear_attention});

}  // namespace kiln::ops
