// Building blocks ONNX added for transformer models in opset 23: RMSNormalization and RotaryEmbedding.
// (Attention, the third, has its own file.)

#include <cmath>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

template <typename T> double round_to(double x) { return to_double(from_double<T>(x)); }

// ---- RMSNormalization ----
// Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * scale. Stage one runs in stash_type precision
// (float by default) and its result is cast back to X's type before the scale multiplies it; Y has scale's
// type. scale broadcasts unidirectionally to X.

void check_unidirectional(const NodeContext& ctx, const Shape& to, const Shape& from, const char* what) {
  if (!to.rank_known || !from.rank_known) return;
  if (from.rank() > to.rank()) ctx.fail("{} {} has a higher rank than X {}", what, from.str(), to.str());
  const size_t off = to.rank() - from.rank();
  for (size_t i = 0; i < from.rank(); ++i) {
    const Dim &f = from.dims[i], &t = to.dims[off + i];
    if (f.is_known() && t.is_known() && f.value() != 1 && f.value() != t.value())
      ctx.fail("{} {} does not broadcast to X {}", what, from.str(), to.str());
  }
}

void infer_rms_norm(InferContext& ctx) {
  const DType x = ctx.input_type(0), scale = ctx.input_type(1);
  if (!dtype_is_float(x) || !dtype_is_float(scale))
    ctx.fail("X and scale must be float types, not {} and {}", dtype_name(x), dtype_name(scale));
  const Shape& s = ctx.input_shape(0);
  if (s.rank_known) normalize_axis(ctx, ctx.attr_int("axis", -1), static_cast<int64_t>(s.rank()));
  check_unidirectional(ctx, s, ctx.input_shape(1), "scale");
  ctx.set_output(0, scale, s);
}

void compute_rms_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  Tensor& y = ctx.output(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), rank));
  if (scale.rank() > x.rank()) ctx.bad_input("scale {} has a higher rank than X {}", dims_str(scale.dims()), dims_str(x.dims()));
  for (size_t i = 0; i < scale.rank(); ++i) {
    const int64_t f = scale.dim(i), t = x.dim(x.rank() - scale.rank() + i);
    if (f != 1 && f != t) ctx.bad_input("scale {} does not broadcast to X {}", dims_str(scale.dims()), dims_str(x.dims()));
  }
  const double eps = static_cast<double>(ctx.attr_float("epsilon", 1e-5f));
  const bool stash_double = ctx.attr_int("stash_type", 1) == static_cast<int64_t>(DType::kFloat64);
  const int64_t outer = product(x.dims(), 0, axis), n = product(x.dims(), axis, x.rank());
  // scale broadcasts to the normalised block X.shape[axis:], so one table of its offsets serves every row.
  const std::vector<int64_t> sstr = broadcast_strides(scale.dims(), x.dims());
  for (size_t a = 0; a < axis; ++a)
    if (sstr[a] != 0)
      ctx.bad_input("scale {} must broadcast to the normalised dims of X {} from axis {}", dims_str(scale.dims()),
                    dims_str(x.dims()), axis);
  std::vector<int64_t> scale_at(static_cast<size_t>(n), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t rest = k, at = 0;
    for (size_t a = x.rank(); a-- > axis;) {
      at += (rest % x.dim(a)) * sstr[a];
      rest /= x.dim(a);
    }
    scale_at[static_cast<size_t>(k)] = at;
  }
  visit_float(x.dtype(), [&]<typename T>() {
    visit_float(scale.dtype(), [&]<typename V>() {
      const T* in = x.data<T>();
      const V* w = scale.data<V>();
      V* out = y.data<V>();
      for (int64_t o = 0; o < outer; ++o) {
        const T* row = in + o * n;
        double sq = 0;
        for (int64_t k = 0; k < n; ++k) sq += to_double(row[k]) * to_double(row[k]);
        const double mean = n == 0 ? 0.0 : sq / static_cast<double>(n);
        double rms = std::sqrt(mean + eps);
        if (!stash_double) rms = static_cast<float>(rms);
        for (int64_t k = 0; k < n; ++k) {
          const double normalized = round_to<T>(to_double(row[k]) / rms);
          out[o * n + k] = from_double<V>(normalized * to_double(w[scale_at[static_cast<size_t>(k)]]));
        }
      }
    }, "RMSNormalization scale");
  }, "RMSNormalization");
}

// ---- RotaryEmbedding ----
// Rotates pairs of each head's first rotary_embedding_dim features by the angle whose cos/sin the caches
// hold for the token's position: pairs are (k, k + half) or, interleaved, (2k, 2k + 1).

struct RopeDims {
  bool is_3d = false;
  int64_t batch = 0, heads = 0, seq = 0, head = 0, rot = 0;
};

RopeDims rope_dims(const NodeContext& ctx, const std::vector<int64_t>& x) {
  RopeDims d;
  if (x.size() != 3 && x.size() != 4) ctx.bad_input("input must be 3-D or 4-D, but it is {}", dims_str(x));
  d.is_3d = x.size() == 3;
  d.batch = x[0];
  if (d.is_3d) {
    d.heads = ctx.attr_int("num_heads", 0);
    if (d.heads <= 0) ctx.fail("a 3-D input needs a positive num_heads attribute");
    d.seq = x[1];
    if (x[2] % d.heads != 0) ctx.bad_input("hidden size {} is not a multiple of num_heads {}", x[2], d.heads);
    d.head = x[2] / d.heads;
  } else {
    d.heads = x[1];
    d.seq = x[2];
    d.head = x[3];
  }
  d.rot = ctx.attr_int("rotary_embedding_dim", 0);
  if (d.rot == 0) d.rot = d.head;
  if (d.rot < 0 || d.rot > d.head || d.rot % 2 != 0)
    ctx.bad_input("rotary_embedding_dim {} must be even and at most the head size {}", d.rot, d.head);
  return d;
}

void infer_rope(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.fail("input must be a float type, not {}", dtype_name(t));
  for (size_t i : {1, 2})
    if (ctx.input_type(i) != t) ctx.fail("input {} is {} but the input is {}", i, dtype_name(ctx.input_type(i)), dtype_name(t));
  if (ctx.has_input(3) && ctx.input_type(3) != DType::kInt64)
    ctx.fail("position_ids must be int64, not {}", dtype_name(ctx.input_type(3)));
  const Shape& s = ctx.input_shape(0);
  if (s.rank_known && s.rank() != 3 && s.rank() != 4) ctx.fail("input must be 3-D or 4-D, but it is {}", s.str());
  if (s.is_concrete()) rope_dims(ctx, s.values());
  ctx.set_output(0, t, s);
}

template <typename T> void run_rope(KernelContext& ctx, const RopeDims& d) {
  const Tensor &x = ctx.input(0), &cos_t = ctx.input(1), &sin_t = ctx.input(2);
  const int64_t half = d.rot / 2;
  const Tensor* pos = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  // Cache rows: [positions, half] indexed by position_ids, or [batch, seq, half] read directly.
  const std::vector<int64_t> want = pos ? std::vector<int64_t>{cos_t.rank() == 2 ? cos_t.dim(0) : -1, half}
                                        : std::vector<int64_t>{d.batch, d.seq, half};
  if (cos_t.dims() != want || sin_t.dims() != cos_t.dims())
    ctx.bad_input("cos_cache {} and sin_cache {} must be {} ({} position_ids)", dims_str(cos_t.dims()),
                  dims_str(sin_t.dims()), pos ? "[positions, rotary_dim/2]" : dims_str(want), pos ? "with" : "without");
  if (pos && pos->dims() != std::vector<int64_t>{d.batch, d.seq})
    ctx.bad_input("position_ids must be [batch, seq] = [{}, {}], but it is {}", d.batch, d.seq, dims_str(pos->dims()));
  const T *in = x.data<T>(), *cs = cos_t.data<T>(), *sn = sin_t.data<T>();
  T* out = ctx.output(0).data<T>();
  const bool interleaved = ctx.attr_int("interleaved", 0) != 0;
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t s = 0; s < d.seq; ++s) {
      int64_t row = b * d.seq + s;
      if (pos) {
        row = pos->data<int64_t>()[b * d.seq + s];
        if (row < 0 || row >= cos_t.dim(0))
          ctx.bad_input("position id {} is outside the caches' {} positions", row, cos_t.dim(0));
      }
      const T *c = cs + row * half, *sv = sn + row * half;
      for (int64_t h = 0; h < d.heads; ++h) {
        const int64_t at = d.is_3d ? ((b * d.seq + s) * d.heads + h) * d.head : ((b * d.heads + h) * d.seq + s) * d.head;
        const T* xi = in + at;
        T* yo = out + at;
        for (int64_t k = d.rot; k < d.head; ++k) yo[k] = xi[k];
        for (int64_t k = 0; k < half; ++k) {
          const int64_t i1 = interleaved ? 2 * k : k, i2 = interleaved ? 2 * k + 1 : k + half;
          const double x1 = to_double(xi[i1]), x2 = to_double(xi[i2]);
          const double ck = to_double(c[k]), sk = to_double(sv[k]);
          // Each product is a T-typed intermediate, as in the operator's function body.
          yo[i1] = from_double<T>(round_to<T>(ck * x1) - round_to<T>(sk * x2));
          yo[i2] = from_double<T>(round_to<T>(sk * x1) + round_to<T>(ck * x2));
        }
      }
    }
}

void compute_rope(KernelContext& ctx) {
  const RopeDims d = rope_dims(ctx, ctx.input(0).dims());
  for (size_t i : {1, 2})
    if (ctx.input(i).dtype() != ctx.input(0).dtype()) ctx.bad_input("caches must have the input's type");
  visit_float(ctx.input(0).dtype(), [&]<typename T>() { run_rope<T>(ctx, d); }, "RotaryEmbedding");
}

}  // namespace

KILN_REGISTER_OP(rms_normalization, {"", "RMSNormalization", {23}, 0, infer_rms_norm, compute_rms_norm});
KILN_REGISTER_OP(rotary_embedding, {"", "RotaryEmbedding", {23}, 0, infer_rope, compute_rope});

}  // namespace kiln::ops
