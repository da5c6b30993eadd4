// FlexAttention (ai.onnx.preview, opset 1): scaled dot-product attention over rank-4 Q/K/V with grouped-query
// heads, where two optional graph attributes customise the scores before the softmax (score_mod) and the
// probabilities after it (prob_mod). Each modifier is a one-input, one-output graph run once over the whole
// [batch, q_heads, q_len, kv_len] tensor through the runtime's SubgraphRunner, like a Loop body.
//
// Precision follows the operator's definition: Q and K are each scaled by sqrt(scale) and multiplied in the
// input type; the scores are then cast to the softmax precision (float for float16/bfloat16/float, double for
// double, or the `softmax_precision` attribute), in which the modifiers, the softmax and the product with V
// run; Y is cast back to the input type.

#include <cmath>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/attention_util.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using attention::round_to;

enum FlexAttentionInput { kQ, kK, kV };

struct FlexDims {
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, head = 0, v_head = 0;
};

/// Reads and checks every size from concrete Q, K, V dims.
FlexDims flex_dims(const NodeContext& ctx, const std::vector<int64_t>& q, const std::vector<int64_t>& k,
                   const std::vector<int64_t>& v) {
  if (q.size() != 4 || k.size() != 4 || v.size() != 4)
    ctx.bad_input("Q, K and V must be rank 4 ([batch, heads, sequence, head_size]), but they are {}, {} and {}",
                  dims_str(q), dims_str(k), dims_str(v));
  FlexDims d{q[0], q[1], k[1], q[2], k[2], q[3], v[3]};
  if (k[0] != d.batch || v[0] != d.batch)
    ctx.bad_input("Q, K and V disagree on the batch size: {}, {} and {}", dims_str(q), dims_str(k), dims_str(v));
  if (v[1] != d.kv_heads || v[2] != d.kv_len)
    ctx.bad_input("K {} and V {} must agree on heads and sequence length", dims_str(k), dims_str(v));
  if (k[3] != d.head) ctx.bad_input("K's head size {} differs from Q's {}", k[3], d.head);
  if (d.kv_heads == 0 || d.q_heads % d.kv_heads != 0)
    ctx.bad_input("Q's {} heads must be a multiple of K/V's {} heads", d.q_heads, d.kv_heads);
  return d;
}

/// The precision of the scores, the modifiers and the softmax.
DType softmax_type(const NodeContext& ctx, DType input) {
  if (!ctx.has_attr("softmax_precision")) return input == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
  const int64_t p = ctx.attr_int("softmax_precision");
  if (p != 1 && p != 10 && p != 11 && p != 16)
    ctx.fail("softmax_precision must be 1 (float), 10 (float16), 11 (double) or 16 (bfloat16), not {}", p);
  return static_cast<DType>(p);
}

/// The modifier graph `name`, or nullptr when the node has none; checks its one-in, one-out form.
const ir::Graph* modifier(const NodeContext& ctx, const char* name) {
  if (!ctx.has_attr(name)) return nullptr;
  const ir::Graph& g = ctx.attr_graph(name);
  if (g.inputs.size() != 1 || g.outputs.size() != 1)
    ctx.fail("graph attribute '{}' must take one input and return one output, but '{}' takes {} and returns {}",
             name, g.name, g.inputs.size(), g.outputs.size());
  return &g;
}

// ---- inference ----

Dim dim_at(const Shape& s, size_t i) { return s.rank_known && i < s.rank() ? s.dims[i] : Dim(); }

void infer_flex_attention(InferContext& ctx) {
  const DType t = ctx.input_type(kQ);
  if (t != DType::kUndefined && !dtype_is_float(t)) ctx.fail("Q must be a float type, not {}", dtype_name(t));
  for (int i : {kK, kV})
    if (ctx.input_type(i) != DType::kUndefined && t != DType::kUndefined && ctx.input_type(i) != t)
      ctx.fail("input {} is {} but Q is {}", i, dtype_name(ctx.input_type(i)), dtype_name(t));
  softmax_type(ctx, t);
  modifier(ctx, "score_mod");
  modifier(ctx, "prob_mod");
  const Shape &q = ctx.input_shape(kQ), &k = ctx.input_shape(kK), &v = ctx.input_shape(kV);
  for (const Shape* s : {&q, &k, &v})
    if (s->rank_known && s->rank() != 4) ctx.fail("Q, K and V must be rank 4, but one is {}", s->str());
  if (q.is_concrete() && k.is_concrete() && v.is_concrete()) {
    const FlexDims d = flex_dims(ctx, q.values(), k.values(), v.values());
    ctx.set_output(0, t, Shape::from({d.batch, d.q_heads, d.q_len, d.v_head}));
    return;
  }
  ctx.set_output(0, t, Shape({dim_at(q, 0), dim_at(q, 1), dim_at(q, 2), dim_at(v, 3)}));
}

// ---- kernel ----

/// Runs modifier `g` over `x` (the [b, hq, l, s] tensor of precision P) and returns its result, which must
/// keep x's type and dims.
Tensor run_modifier(KernelContext& ctx, const ir::Graph& g, const char* name, const Tensor& x) {
  std::vector<Tensor> out = ctx.subgraphs().run(g, std::span<const Tensor>(&x, 1));
  if (out.size() != 1) ctx.fail("graph attribute '{}' returned {} values instead of one", name, out.size());
  if (out[0].dtype() != x.dtype() || out[0].dims() != x.dims())
    ctx.bad_input("graph attribute '{}' must return its input's type and shape ({} {}), but returned {} {}", name,
                  dtype_name(x.dtype()), dims_str(x.dims()), dtype_name(out[0].dtype()), dims_str(out[0].dims()));
  return std::move(out[0]);
}

/// Copies a tensor of precision P into doubles (each value a P already).
std::vector<double> to_doubles(const Tensor& x) {
  std::vector<double> v(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) v[static_cast<size_t>(i)] = x.double_at(i);
  return v;
}

template <typename P> Tensor from_doubles(const std::vector<double>& v, const std::vector<int64_t>& dims) {
  Tensor t(dtype_of<P>(), dims);
  P* p = t.data<P>();
  for (size_t i = 0; i < v.size(); ++i) p[i] = from_double<P>(v[i]);
  return t;
}

template <typename T, typename P> void run_flex_attention(KernelContext& ctx, const FlexDims& d) {
  const T* q = ctx.input(kQ).data<T>();
  const T* k = ctx.input(kK).data<T>();
  const T* v = ctx.input(kV).data<T>();
  // sqrt(scale) is taken in float and rounded to T, and each of Q and K is scaled by it in T.
  const float scale = ctx.has_attr("scale") ? ctx.attr_float("scale", 1.0f)
                                            : static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.head)));
  const double root = round_to<T>(static_cast<double>(std::sqrt(scale)));
  const std::vector<int64_t> score_dims{d.batch, d.q_heads, d.q_len, d.kv_len};
  std::vector<double> scores(static_cast<size_t>(checked_numel(score_dims, "FlexAttention scores")));
  std::vector<double> ks(static_cast<size_t>(ctx.input(kK).numel()));  // K * sqrt(scale), rounded to T
  for (size_t at = 0; at < ks.size(); ++at) ks[at] = round_to<T>(to_double(k[at]) * root);
  const int64_t group = d.q_heads / d.kv_heads;  // query head h reads K/V head h / group
  std::vector<double> qi(static_cast<size_t>(d.head));
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t h = 0; h < d.q_heads; ++h) {
      const double* kb = ks.data() + (b * d.kv_heads + h / group) * d.kv_len * d.head;
      for (int64_t i = 0; i < d.q_len; ++i) {
        const T* qrow = q + ((b * d.q_heads + h) * d.q_len + i) * d.head;
        for (int64_t e = 0; e < d.head; ++e) qi[static_cast<size_t>(e)] = round_to<T>(to_double(qrow[e]) * root);
        double* row = scores.data() + ((b * d.q_heads + h) * d.q_len + i) * d.kv_len;
        for (int64_t j = 0; j < d.kv_len; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < d.head; ++e) dot += qi[static_cast<size_t>(e)] * kb[j * d.head + e];
          row[j] = round_to<P>(round_to<T>(dot));
        }
      }
    }

  if (const ir::Graph* g = modifier(ctx, "score_mod"))
    scores = to_doubles(run_modifier(ctx, *g, "score_mod", from_doubles<P>(scores, score_dims)));
  std::vector<double> row(static_cast<size_t>(d.kv_len));
  const int64_t rows = d.batch * d.q_heads * d.q_len;
  for (int64_t r = 0; r < rows; ++r) {
    const auto first = scores.begin() + static_cast<std::ptrdiff_t>(r * d.kv_len);
    std::copy(first, first + static_cast<std::ptrdiff_t>(d.kv_len), row.begin());
    attention::softmax_row<P>(row);
    std::copy(row.begin(), row.end(), first);
  }
  if (const ir::Graph* g = modifier(ctx, "prob_mod"))
    scores = to_doubles(run_modifier(ctx, *g, "prob_mod", from_doubles<P>(scores, score_dims)));

  T* y = ctx.output(0).data<T>();
  std::vector<double> vs(static_cast<size_t>(ctx.input(kV).numel()));  // V in the softmax precision
  for (size_t at = 0; at < vs.size(); ++at) vs[at] = round_to<P>(to_double(v[at]));
  std::vector<double> acc(static_cast<size_t>(d.v_head));
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t h = 0; h < d.q_heads; ++h) {
      const double* vb = vs.data() + (b * d.kv_heads + h / group) * d.kv_len * d.v_head;
      for (int64_t i = 0; i < d.q_len; ++i) {
        const int64_t bhi = (b * d.q_heads + h) * d.q_len + i;
        const double* p = scores.data() + bhi * d.kv_len;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j < d.kv_len; ++j)
          for (int64_t e = 0; e < d.v_head; ++e) acc[static_cast<size_t>(e)] += p[j] * vb[j * d.v_head + e];
        for (int64_t e = 0; e < d.v_head; ++e)
          y[bhi * d.v_head + e] = from_double<T>(round_to<P>(acc[static_cast<size_t>(e)]));
      }
    }
}

void compute_flex_attention(KernelContext& ctx) {
  const DType t = ctx.input(kQ).dtype();
  for (int i : {kK, kV})
    if (ctx.input(i).dtype() != t)
      ctx.fail("input {} is {} but Q is {}", i, dtype_name(ctx.input(i).dtype()), dtype_name(t));
  const FlexDims d = flex_dims(ctx, ctx.input(kQ).dims(), ctx.input(kK).dims(), ctx.input(kV).dims());
  const DType p = softmax_type(ctx, t);
  visit_float(t, [&]<typename T>() {
    visit_float(p, [&]<typename P>() { run_flex_attention<T, P>(ctx, d); }, "FlexAttention softmax_precision");
  }, "FlexAttention");
}

}  // namespace

KILN_REGISTER_OP(flex_attention,
                 {"ai.onnx.preview", "FlexAttention", {1}, 0, infer_flex_attention, compute_flex_attention});

}  // namespace kiln::ops
