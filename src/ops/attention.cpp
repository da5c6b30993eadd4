// Attention (opsets 23, 24, 25): scaled dot-product attention over 3-D or 4-D Q/K/V with grouped-query
// heads, a bool or additive mask, causal and sliding-window masking, softcap, an internal KV cache
// (past_* -> present_*) or an external one (nonpad_kv_seqlen), and the qk_matmul_output debug output.
//
// Numerics follow the operator's function body, where every step is its own op producing the input type:
// each stage (Q*sqrt(scale), K*sqrt(scale), QK^T, softcap, + bias, softmax, P*V) is rounded to that type,
// and the softmax runs in `softmax_precision` when given. For float/double this changes nothing measurable;
// for float16/bfloat16 it is what makes results agree with the reference to the last bit or two.

#include <cmath>
#include <limits>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/attention_util.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

using attention::round_to;

enum AttentionInput { kQ, kK, kV, kMask, kPastKey, kPastValue, kNonpad };
enum Output { kY, kPresentKey, kPresentValue, kQkOut };


// ---- geometry ----

struct AttentionDims {
  bool is_3d = false;
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, past_len = 0, total_len = 0;
  int64_t head = 0, v_head = 0;
};

int64_t heads_attr(const NodeContext& ctx, const char* name) {
  const int64_t h = ctx.attr_int(name, 0);
  if (h <= 0) ctx.fail("3-D Q/K/V need a positive '{}' attribute (got {})", name, h);
  return h;
}

/// Splits a 3-D hidden size into `heads` heads; fails unless it divides evenly.
int64_t split_hidden(const NodeContext& ctx, int64_t hidden, int64_t heads, const char* what) {
  if (hidden % heads != 0)
    ctx.bad_input("{} hidden size {} is not a multiple of its {} heads", what, hidden, heads);
  return hidden / heads;
}

/// Reads and checks every size from concrete input shapes.
AttentionDims attention_dims(const NodeContext& ctx, const std::vector<int64_t>& q, const std::vector<int64_t>& k,
                             const std::vector<int64_t>& v, const std::vector<int64_t>* past_key,
                             const std::vector<int64_t>* past_value) {
  AttentionDims d;
  if ((q.size() != 3 && q.size() != 4) || k.size() != q.size() || v.size() != q.size())
    ctx.bad_input("Q, K and V must all be 3-D or all 4-D, but they are {}, {} and {}", dims_str(q), dims_str(k),
                  dims_str(v));
  d.is_3d = q.size() == 3;
  d.batch = q[0];
  if (k[0] != d.batch || v[0] != d.batch)
    ctx.bad_input("Q, K and V disagree on the batch size: {}, {} and {}", dims_str(q), dims_str(k), dims_str(v));
  if (d.is_3d) {
    d.q_heads = heads_attr(ctx, "q_num_heads");
    d.kv_heads = heads_attr(ctx, "kv_num_heads");
    d.q_len = q[1];
    d.kv_len = k[1];
    if (v[1] != d.kv_len) ctx.bad_input("K and V sequence lengths differ: {} vs {}", dims_str(k), dims_str(v));
    d.head = split_hidden(ctx, q[2], d.q_heads, "Q");
    if (split_hidden(ctx, k[2], d.kv_heads, "K") != d.head)
      ctx.bad_input("K's head size {} differs from Q's {}", k[2] / d.kv_heads, d.head);
    d.v_head = split_hidden(ctx, v[2], d.kv_heads, "V");
  } else {
    d.q_heads = q[1];
    d.kv_heads = k[1];
    d.q_len = q[2];
    d.kv_len = k[2];
    d.head = q[3];
    d.v_head = v[3];
    if (v[1] != d.kv_heads || v[2] != d.kv_len)
      ctx.bad_input("K {} and V {} must agree on heads and sequence length", dims_str(k), dims_str(v));
    if (k[3] != d.head) ctx.bad_input("K's head size {} differs from Q's {}", k[3], d.head);
  }
  if (d.kv_heads == 0 || d.q_heads % d.kv_heads != 0)
    ctx.bad_input("q_num_heads {} must be a multiple of kv_num_heads {}", d.q_heads, d.kv_heads);
  if ((past_key == nullptr) != (past_value == nullptr)) ctx.fail("past_key and past_value must be given together");
  if (past_key != nullptr) {
    const std::vector<int64_t> want_k{d.batch, d.kv_heads, (*past_key).size() == 4 ? (*past_key)[2] : -1, d.head};
    if (*past_key != want_k)
      ctx.bad_input("past_key must be [batch, kv_heads, past_len, head] = [{}, {}, *, {}], but it is {}", d.batch,
                    d.kv_heads, d.head, dims_str(*past_key));
    d.past_len = (*past_key)[2];
    const std::vector<int64_t> want_v{d.batch, d.kv_heads, d.past_len, d.v_head};
    if (*past_value != want_v)
      ctx.bad_input("past_value must be {}, but it is {}", dims_str(want_v), dims_str(*past_value));
  }
  d.total_len = checked_add(d.past_len, d.kv_len, "total sequence length");
  return d;
}

// ---- inference ----

void check_attention_types(InferContext& ctx) {
  const DType t = ctx.input_type(kQ);
  if (!dtype_is_float(t)) ctx.fail("Q must be a float type, not {}", dtype_name(t));
  for (int i : {kK, kV, kPastKey, kPastValue})
    if (ctx.has_input(i) && ctx.input_type(i) != t)
      ctx.fail("input {} is {} but Q is {}", i, dtype_name(ctx.input_type(i)), dtype_name(t));
  if (ctx.has_input(kMask) && ctx.input_type(kMask) != DType::kBool && !dtype_is_float(ctx.input_type(kMask)))
    ctx.fail("attn_mask must be bool or a float type, not {}", dtype_name(ctx.input_type(kMask)));
  if (ctx.has_input(kNonpad) && ctx.input_type(kNonpad) != DType::kInt64)
    ctx.fail("nonpad_kv_seqlen must be int64, not {}", dtype_name(ctx.input_type(kNonpad)));
  if (ctx.has_input(kNonpad) && ctx.has_input(kPastKey))
    ctx.fail("nonpad_kv_seqlen (an external KV cache) cannot be combined with past_key/past_value");
  if (ctx.has_input(kPastKey) != ctx.has_input(kPastValue)) ctx.fail("past_key and past_value must be given together");
  if (ctx.has_attr("softmax_precision")) {
    const int64_t p = ctx.attr_int("softmax_precision");
    if (p != 1 && p != 10 && p != 11 && p != 16)
      ctx.fail("softmax_precision must be 1 (float), 10 (float16), 11 (double) or 16 (bfloat16), not {}", p);
  }
  const int64_t mode = ctx.attr_int("qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3) ctx.fail("qk_matmul_output_mode must be 0..3, not {}", mode);
}

void infer_attention(InferContext& ctx) {
  check_attention_types(ctx);
  const DType t = ctx.input_type(kQ);
  const Shape &q = ctx.input_shape(kQ), &k = ctx.input_shape(kK), &v = ctx.input_shape(kV);
  const bool have_past = ctx.has_input(kPastKey);
  const bool all_concrete = q.is_concrete() && k.is_concrete() && v.is_concrete() &&
                            (!have_past || (ctx.input_shape(kPastKey).is_concrete() &&
                                            ctx.input_shape(kPastValue).is_concrete()));
  if (all_concrete) {
    const std::vector<int64_t> pk = have_past ? ctx.input_shape(kPastKey).values() : std::vector<int64_t>{};
    const std::vector<int64_t> pv = have_past ? ctx.input_shape(kPastValue).values() : std::vector<int64_t>{};
    const AttentionDims d = attention_dims(ctx, q.values(), k.values(), v.values(), have_past ? &pk : nullptr,
                                           have_past ? &pv : nullptr);
    if (d.is_3d) ctx.set_output(kY, t, Shape::from({d.batch, d.q_len, checked_mul(d.q_heads, d.v_head)}));
    else ctx.set_output(kY, t, Shape::from({d.batch, d.q_heads, d.q_len, d.v_head}));
    if (ctx.num_outputs() > kPresentKey)
      ctx.set_output(kPresentKey, t, Shape::from({d.batch, d.kv_heads, d.total_len, d.head}));
    if (ctx.num_outputs() > kPresentValue)
      ctx.set_output(kPresentValue, t, Shape::from({d.batch, d.kv_heads, d.total_len, d.v_head}));
    if (ctx.num_outputs() > kQkOut)
      ctx.set_output(kQkOut, t, Shape::from({d.batch, d.q_heads, d.q_len, d.total_len}));
    return;
  }
  // Symbolic: keep the dims that pass through (batch, heads, sequence lengths); derived sizes are unknown
  // unless every part is a number.
  const int64_t rank = q.rank_known ? static_cast<int64_t>(q.rank()) : (k.rank_known ? int64_t(k.rank()) : -1);
  if (rank != -1 && rank != 3 && rank != 4) ctx.fail("Q, K and V must be 3-D or 4-D, but Q is {}", q.str());
  const bool is_3d = rank == 3;
  const Dim batch = dim_at(q, 0);
  Dim q_heads, kv_heads, q_len, kv_len, head, v_head;
  if (is_3d) {
    const int64_t hq = heads_attr(ctx, "q_num_heads"), hkv = heads_attr(ctx, "kv_num_heads");
    q_heads = hq;
    kv_heads = hkv;
    q_len = dim_at(q, 1);
    kv_len = dim_at(k, 1);
    head = dim_div(dim_at(k, 2), hkv);
    v_head = dim_div(dim_at(v, 2), hkv);
  } else {
    q_heads = dim_at(q, 1);
    kv_heads = dim_at(k, 1);
    q_len = dim_at(q, 2);
    kv_len = dim_at(k, 2);
    head = dim_at(k, 3);
    v_head = dim_at(v, 3);
  }
  const Dim total = have_past ? dim_add(dim_at(ctx.input_shape(kPastKey), 2), kv_len) : kv_len;
  if (rank == -1) ctx.set_output(kY, t, Shape::unknown_rank());
  else if (is_3d) ctx.set_output(kY, t, Shape({batch, q_len, v_head.is_known() ? dim_mul(q_heads, v_head.value()) : Dim()}));
  else ctx.set_output(kY, t, Shape({batch, q_heads, q_len, v_head}));
  if (ctx.num_outputs() > kPresentKey) ctx.set_output(kPresentKey, t, Shape({batch, kv_heads, total, head}));
  if (ctx.num_outputs() > kPresentValue) ctx.set_output(kPresentValue, t, Shape({batch, kv_heads, total, v_head}));
  if (ctx.num_outputs() > kQkOut) ctx.set_output(kQkOut, t, Shape({batch, q_heads, q_len, total}));
}

// ---- bias: mask, causal frontier, sliding window, padding ----

/// Everything that decides the additive bias of score (b, h, i, j).
struct BiasRule {
  const Tensor* mask = nullptr;
  std::vector<int64_t> mask_strides;  ///< [b, h, i, j] strides into the mask (0 on broadcast axes)
  int64_t mask_len = 0;               ///< keys the mask covers; later keys are masked out
  bool causal = false;
  int64_t left = -1, right = -1;      ///< sliding window bounds, -1 for unbounded
  int64_t past_len = 0;
  std::vector<int64_t> nonpad;        ///< per batch, empty without an external cache
  int64_t q_len = 0;

  /// Keys preceding query 0 (the causal/window frontier's offset) for batch b.
  int64_t offset(int64_t b) const {
    return nonpad.empty() ? past_len : nonpad[static_cast<size_t>(b)] - q_len;
  }
};

BiasRule make_bias_rule(const KernelContext& ctx, const AttentionDims& d) {
  BiasRule r;
  r.causal = ctx.attr_int("is_causal", 0) != 0;
  if (ctx.opset() >= 25) {
    r.left = ctx.attr_int("left_window_size", -1);
    r.right = ctx.attr_int("right_window_size", -1);
    if (r.left < -1 || r.right < -1) ctx.fail("window sizes must be -1 or >= 0, got {} and {}", r.left, r.right);
  }
  r.past_len = d.past_len;
  r.q_len = d.q_len;
  if (ctx.has_input(kNonpad)) {
    const Tensor& n = ctx.input(kNonpad);
    if (n.dtype() != DType::kInt64 || n.dims() != std::vector<int64_t>{d.batch})
      ctx.bad_input("nonpad_kv_seqlen must be int64 [{}], but it is {} {}", d.batch, dtype_name(n.dtype()),
                    dims_str(n.dims()));
    // Clamped so that offset arithmetic cannot overflow; lengths beyond this range mean the same thing.
    constexpr int64_t kLimit = int64_t{1} << 40;
    for (int64_t x : n.span<int64_t>()) r.nonpad.push_back(std::clamp(x, -kLimit, kLimit));
  }
  if (ctx.has_input(kMask)) {
    const Tensor& m = ctx.input(kMask);
    if (m.rank() < 1 || m.rank() > 4) ctx.bad_input("attn_mask must have rank 1 to 4, but it is {}", dims_str(m.dims()));
    const std::vector<int64_t> full{d.batch, d.q_heads, d.q_len, d.total_len};
    std::vector<int64_t> md(4 - m.rank(), 1);
    md.insert(md.end(), m.dims().begin(), m.dims().end());
    for (size_t a = 0; a < 3; ++a)
      if (md[a] != 1 && md[a] != full[a])
        ctx.bad_input("attn_mask {} does not broadcast to [batch, q_heads, q_len, total_len] = {}", dims_str(m.dims()),
                      dims_str(full));
    if (md[3] > d.total_len)
      ctx.bad_input("attn_mask covers {} keys but there are only {}", md[3], d.total_len);
    r.mask = &m;
    r.mask_len = md[3];
    r.mask_strides = strides_of(md);
    for (size_t a = 0; a < 3; ++a)
      if (md[a] == 1) r.mask_strides[a] = 0;
  }
  return r;
}

/// The row of biases for query i of (b, h), rounded to T as the function body's bias tensor is.
template <typename T> void bias_row(const BiasRule& r, int64_t b, int64_t h, int64_t i, std::vector<double>& out) {
  const double neg_inf = -std::numeric_limits<double>::infinity();
  const int64_t n = static_cast<int64_t>(out.size());
  const int64_t off = r.offset(b);
  for (int64_t j = 0; j < n; ++j) {
    double bias = 0;
    if (r.mask != nullptr) {
      if (j >= r.mask_len) {
        bias = neg_inf;  // the spec pads a short mask with -inf (bool: false)
      } else {
        const int64_t at = b * r.mask_strides[0] + h * r.mask_strides[1] + i * r.mask_strides[2] + j;
        if (r.mask->dtype() == DType::kBool) bias = r.mask->data<bool>()[at] ? 0.0 : neg_inf;
        else bias = round_to<T>(r.mask->double_at(at));
      }
    }
    const int64_t diff = i + off - j;  // query position minus key position
    if (r.causal && diff < 0) bias = neg_inf;
    if (r.left >= 0 && diff > r.left) bias = neg_inf;
    if (r.right >= 0 && -diff > r.right) bias = neg_inf;
    if (!r.nonpad.empty() && j >= r.nonpad[static_cast<size_t>(b)]) bias = neg_inf;
    out[static_cast<size_t>(j)] = bias;
  }
}

// ---- kernel ----

/// Copies Q, K or V (3-D [b, s, heads*size] or 4-D [b, heads, s, size]) into dst laid out
/// [b, heads, dst_len, size], starting at sequence position `at`.
template <typename T>
void load_heads(const Tensor& x, bool is_3d, int64_t batch, int64_t heads, int64_t len, int64_t size,
                std::vector<double>& dst, int64_t dst_len, int64_t at) {
  const T* src = x.data<T>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < len; ++s) {
        const int64_t from = is_3d ? ((b * len + s) * heads + h) * size : ((b * heads + h) * len + s) * size;
        const int64_t to = ((b * heads + h) * dst_len + at + s) * size;
        for (int64_t e = 0; e < size; ++e) dst[static_cast<size_t>(to + e)] = to_double(src[from + e]);
      }
}

template <typename T> void write_all(const std::vector<double>& v, Tensor& out) {
  T* o = out.data<T>();
  for (size_t i = 0; i < v.size(); ++i) o[i] = from_double<T>(v[i]);
}

template <typename T> void run_attention(KernelContext& ctx, const AttentionDims& d) {
  const BiasRule rule = make_bias_rule(ctx, d);
  const size_t k_count = static_cast<size_t>(checked_numel(std::vector<int64_t>{d.batch, d.kv_heads, d.total_len, d.head}));
  const size_t v_count = static_cast<size_t>(checked_numel(std::vector<int64_t>{d.batch, d.kv_heads, d.total_len, d.v_head}));
  std::vector<double> q(static_cast<size_t>(checked_numel(std::vector<int64_t>{d.batch, d.q_heads, d.q_len, d.head})));
  std::vector<double> k(k_count), v(v_count);
  load_heads<T>(ctx.input(kQ), d.is_3d, d.batch, d.q_heads, d.q_len, d.head, q, d.q_len, 0);
  if (ctx.has_input(kPastKey)) {
    load_heads<T>(ctx.input(kPastKey), false, d.batch, d.kv_heads, d.past_len, d.head, k, d.total_len, 0);
    load_heads<T>(ctx.input(kPastValue), false, d.batch, d.kv_heads, d.past_len, d.v_head, v, d.total_len, 0);
  }
  load_heads<T>(ctx.input(kK), d.is_3d, d.batch, d.kv_heads, d.kv_len, d.head, k, d.total_len, d.past_len);
  load_heads<T>(ctx.input(kV), d.is_3d, d.batch, d.kv_heads, d.kv_len, d.v_head, v, d.total_len, d.past_len);
  if (ctx.wants_output(kPresentKey)) write_all<T>(k, ctx.output(kPresentKey));
  if (ctx.wants_output(kPresentValue)) write_all<T>(v, ctx.output(kPresentValue));

  // Q and K are each scaled by sqrt(scale) (rounded to T) before the product, as the spec prescribes.
  const double scale = ctx.has_attr("scale") ? static_cast<double>(ctx.attr_float("scale", 1.0f))
                                             : 1.0 / std::sqrt(static_cast<double>(d.head));
  const double root = round_to<T>(std::sqrt(scale));
  for (double& x : q) x = round_to<T>(x * root);
  for (double& x : k) x = round_to<T>(x * root);

  const double softcap = static_cast<double>(ctx.attr_float("softcap", 0.0f));
  const int64_t mode = ctx.attr_int("qk_matmul_output_mode", 0);
  const attention::SoftmaxFn softmax = attention::softmax_for(
      ctx.has_attr("softmax_precision") ? static_cast<DType>(ctx.attr_int("softmax_precision")) : dtype_of<T>(),
      "Attention softmax_precision");
  Tensor* qk_out = ctx.wants_output(kQkOut) ? &ctx.output(kQkOut) : nullptr;
  T* y = ctx.output(kY).data<T>();

  const auto n = static_cast<size_t>(d.total_len);
  std::vector<double> raw(n), capped(n), bias(n), p(n), acc(static_cast<size_t>(d.v_head));
  const int64_t group = d.q_heads / d.kv_heads;  // grouped-query: q head h reads kv head h / group
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t h = 0; h < d.q_heads; ++h) {
      const int64_t kvh = h / group;
      const double* kb = k.data() + (b * d.kv_heads + kvh) * d.total_len * d.head;
      const double* vb = v.data() + (b * d.kv_heads + kvh) * d.total_len * d.v_head;
      for (int64_t i = 0; i < d.q_len; ++i) {
        const double* qi = q.data() + ((b * d.q_heads + h) * d.q_len + i) * d.head;
        bias_row<T>(rule, b, h, i, bias);
        bool all_masked = true;
        for (size_t j = 0; j < n; ++j) {
          double dot = 0;
          const double* kj = kb + static_cast<int64_t>(j) * d.head;
          for (int64_t e = 0; e < d.head; ++e) dot += qi[e] * kj[e];
          raw[j] = round_to<T>(dot);
          capped[j] = softcap > 0 ? round_to<T>(round_to<T>(std::tanh(round_to<T>(raw[j] / softcap))) * softcap) : raw[j];
          p[j] = round_to<T>(capped[j] + bias[j]);
          all_masked = all_masked && std::isinf(bias[j]) && bias[j] < 0;
        }
        const int64_t row_at = ((b * d.q_heads + h) * d.q_len + i) * d.total_len;
        if (qk_out != nullptr && mode < 3) {
          const std::vector<double>& src = mode == 0 ? raw : mode == 1 ? capped : p;
          T* o = qk_out->data<T>() + row_at;
          for (size_t j = 0; j < n; ++j) o[j] = from_double<T>(src[j]);
        }
        softmax(p);
        // A row with no attendable key gives zero probabilities (not NaN), decided on the bias alone.
        for (double& x : p) x = all_masked ? 0.0 : round_to<T>(x);
        if (qk_out != nullptr && mode == 3) {
          T* o = qk_out->data<T>() + row_at;
          for (size_t j = 0; j < n; ++j) o[j] = from_double<T>(p[j]);
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (size_t j = 0; j < n; ++j) {
          const double* vj = vb + static_cast<int64_t>(j) * d.v_head;
          for (int64_t e = 0; e < d.v_head; ++e) acc[static_cast<size_t>(e)] += p[j] * vj[e];
        }
        const int64_t y_at = d.is_3d ? (b * d.q_len + i) * d.q_heads * d.v_head + h * d.v_head
                                     : ((b * d.q_heads + h) * d.q_len + i) * d.v_head;
        for (int64_t e = 0; e < d.v_head; ++e) y[y_at + e] = from_double<T>(acc[static_cast<size_t>(e)]);
      }
    }
}

void compute_attention(KernelContext& ctx) {
  const bool have_past = ctx.has_input(kPastKey) && ctx.has_input(kPastValue);
  if (ctx.has_input(kPastKey) != ctx.has_input(kPastValue)) ctx.fail("past_key and past_value must be given together");
  const AttentionDims d =
      attention_dims(ctx, ctx.input(kQ).dims(), ctx.input(kK).dims(), ctx.input(kV).dims(),
                     have_past ? &ctx.input(kPastKey).dims() : nullptr, have_past ? &ctx.input(kPastValue).dims() : nullptr);
  visit_float(ctx.input(kQ).dtype(), [&]<typename T>() { run_attention<T>(ctx, d); }, "Attention");
}

}  // namespace

KILN_REGISTER_OP(attention, {"", "Attention", {23, 24, 25}, 0, infer_attention, compute_attention}.with_macs(macs::attention));

}  // namespace kiln::ops
