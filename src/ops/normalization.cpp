// BatchNormalization (inference, and training_mode=1 from opset 14), InstanceNormalization, LayerNormalization, GroupNormalization.
//
// Statistics and the affine step are computed in double whatever the element type (stash_type asks for
// at least float precision; double meets it). Per-channel parameters are read through Tensor::double_at,
// which also covers BatchNormalization-15's mixed parameter types.

#include <cmath>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/elementwise_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

std::vector<double> read_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.double_at(i);
  return v;
}

void require_float(const NodeContext& ctx, DType t, const char* what) {
  if (!dtype_is_float(t)) ctx.fail("{} must be a float type, not {}", what, dtype_name(t));
}

/// Checks that a per-channel parameter (known shape) holds `want` elements.
void check_param_count(const NodeContext& ctx, const Shape& s, int64_t want, const char* name) {
  if (!s.is_concrete() || want < 0) return;
  int64_t n = product(s.values(), 0, s.rank());
  if (n != want) ctx.fail("{} must hold {} values (one per channel), but has shape {}", name, want, s.str());
}

/// Channel count of an [N, C, ...] input (-1 when unknown); rank 1 means C = 1 (BatchNormalization).
int64_t channels_of(const Shape& s) {
  if (!s.rank_known) return -1;
  if (s.rank() < 2) return 1;
  return s.dims[1].is_known() ? s.dims[1].value() : -1;
}

// ---- BatchNormalization ----

/// BatchNormalization before opset 9 has `spatial`; spatial=0 gives each (channel, position) its own
/// statistics, so the parameters have shape [C, D1, ..., Dn].
bool bn_per_activation(const NodeContext& ctx) { return ctx.opset() < 9 && ctx.attr_int("spatial", 1) == 0; }

/// BatchNormalization-14/15 with training_mode=1: Y is normalised with the batch's own statistics, and the
/// optional outputs 1 and 2 are the running mean and variance updated with `momentum`.
bool bn_training(const NodeContext& ctx) { return ctx.opset() >= 14 && ctx.attr_int("training_mode", 0) != 0; }

void check_bn_mode(const NodeContext& ctx) {
  if (ctx.opset() >= 14) {
    const int64_t mode = ctx.attr_int("training_mode", 0);
    if (mode != 0 && mode != 1) ctx.fail("training_mode must be 0 or 1, not {}", mode);
    if (mode == 0)
      for (size_t i = 1; i < ctx.node().outputs.size(); ++i)
        if (ctx.wants_output(i))
          ctx.fail("output {} (running statistics) exists only in training mode, but training_mode=0", i);
  } else {
    // Before 14, training is signalled by listing the statistics outputs. BatchNormalization-6's is_test
    // is ignored, as onnxruntime does: without those outputs there is nothing to train.
    for (size_t i = 1; i < ctx.node().outputs.size(); ++i)
      if (ctx.wants_output(i))
        ctx.unsupported("output {} (batch statistics) means training mode, which kiln runs only from opset 14 "
                        "(training_mode=1); re-export the model at opset 14 or later, or in eval mode", i);
  }
}

void infer_batch_norm(InferContext& ctx) {
  check_bn_mode(ctx);
  require_float(ctx, ctx.input_type(0), "X");
  const Shape& x = ctx.input_shape(0);
  if (!bn_per_activation(ctx)) {
    const int64_t c = channels_of(x);
    const char* names[] = {"scale", "B", "mean", "var"};
    for (size_t i = 1; i < 5; ++i) check_param_count(ctx, ctx.input_shape(i), c, names[i - 1]);
  }
  infer_same_as_input(ctx);
  if (bn_training(ctx)) {  // running mean and variance: the type and shape of the mean and var inputs
    ctx.set_output(1, ctx.input_type(3), ctx.input_shape(3));
    ctx.set_output(2, ctx.input_type(4), ctx.input_shape(4));
  }
}

/// Per-channel mean and (population) variance of an [n, c, spatial] input, in double.
void batch_statistics(const Tensor& x, int64_t n, int64_t c, int64_t spatial, std::vector<double>& mean,
                      std::vector<double>& var) {
  mean.assign(static_cast<size_t>(c), 0.0);
  var.assign(static_cast<size_t>(c), 0.0);
  const double count = static_cast<double>(n) * static_cast<double>(spatial);
  if (count == 0) return;  // no elements: nothing to normalise, statistics stay 0
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    for (int64_t ch = 0; ch < c; ++ch) {
      double sum = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t s = 0; s < spatial; ++s) sum += to_double(in[(i * c + ch) * spatial + s]);
      const double m = sum / count;
      double sq = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t s = 0; s < spatial; ++s) {
          const double dv = to_double(in[(i * c + ch) * spatial + s]) - m;
          sq += dv * dv;
        }
      mean[static_cast<size_t>(ch)] = m;
      var[static_cast<size_t>(ch)] = sq / count;
    }
  }, "BatchNormalization");
}

/// Writes running = input * momentum + batch * (1 - momentum) into output i, in that output's type.
void write_running(KernelContext& ctx, size_t i, const std::vector<double>& input, const std::vector<double>& batch,
                   double momentum) {
  if (!ctx.wants_output(i)) return;
  Tensor& out = ctx.output(i);
  visit_float(out.dtype(), [&]<typename U>() {
    U* o = out.data<U>();
    for (size_t k = 0; k < batch.size(); ++k) o[k] = from_double<U>(input[k] * momentum + batch[k] * (1 - momentum));
  }, "BatchNormalization running statistics");
}

void compute_batch_norm(KernelContext& ctx) {
  check_bn_mode(ctx);
  const Tensor& x = ctx.input(0);
  const double eps = ctx.attr_float("epsilon", 1e-5f);
  const std::vector<int64_t>& d = x.dims();
  const int64_t n = d.empty() ? 1 : d[0];
  const int64_t c = d.size() < 2 ? 1 : d[1];
  const int64_t spatial = product(d, 2, d.size());
  const bool per_activation = bn_per_activation(ctx);
  const int64_t params = per_activation ? checked_mul(c, spatial) : c;
  // Fold the four parameters into y = x * a + b per channel (or per activation).
  std::vector<double> a(static_cast<size_t>(params)), b(static_cast<size_t>(params));
  {
    std::vector<double> p[4];
    const char* names[] = {"scale", "B", "mean", "var"};
    for (size_t i = 0; i < 4; ++i) {
      p[i] = read_doubles(ctx.input(i + 1));
      if (static_cast<int64_t>(p[i].size()) != params)
        ctx.bad_input("{} has {} values, but X {} needs {}", names[i], p[i].size(), dims_str(d), params);
    }
    std::vector<double> mean = p[2], var = p[3];
    if (bn_training(ctx)) {
      batch_statistics(x, n, c, spatial, mean, var);
      const double momentum = ctx.attr_float("momentum", 0.9f);
      write_running(ctx, 1, p[2], mean, momentum);
      write_running(ctx, 2, p[3], var, momentum);
    }
    for (size_t k = 0; k < a.size(); ++k) {
      a[k] = p[0][k] / std::sqrt(var[k] + eps);
      b[k] = p[1][k] - mean[k] * a[k];
    }
  }
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t s = 0; s < spatial; ++s) {
          const int64_t at = (i * c + ch) * spatial + s;
          const size_t k = static_cast<size_t>(per_activation ? ch * spatial + s : ch);
          out[at] = from_double<T>(to_double(in[at]) * a[k] + b[k]);
        }
  }, "BatchNormalization");
}

// ---- Instance / Group normalization: statistics per (sample, group of channels) ----

/// Normalizes x as [n, groups, per_group] blocks, then applies y = x̂ * scale[ch] + bias[ch] with
/// ch = the channel of each element (channels of `spatial` elements each).
template <typename T>
void normalize_groups(const T* in, T* out, int64_t n, int64_t c, int64_t groups, int64_t spatial, double eps,
                      const std::vector<double>& scale, const std::vector<double>& bias) {
  const int64_t ch_per_group = c / groups;
  const int64_t block = ch_per_group * spatial;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t base = (i * groups + g) * block;
      double mean = 0;
      for (int64_t k = 0; k < block; ++k) mean += to_double(in[base + k]);
      mean /= static_cast<double>(block);
      double var = 0;
      for (int64_t k = 0; k < block; ++k) {
        double dv = to_double(in[base + k]) - mean;
        var += dv * dv;
      }
      var /= static_cast<double>(block);
      const double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t k = 0; k < block; ++k) {
        const size_t ch = static_cast<size_t>(g * ch_per_group + k / spatial);
        out[base + k] = from_double<T>((to_double(in[base + k]) - mean) * inv * scale[ch] + bias[ch]);
      }
    }
}

void infer_instance_norm(InferContext& ctx) {
  require_float(ctx, ctx.input_type(0), "input");
  const Shape& x = ctx.input_shape(0);
  if (x.rank_known && x.rank() < 2) ctx.fail("input must be [N, C, ...], got {}", x.str());
  const int64_t c = channels_of(x);
  check_param_count(ctx, ctx.input_shape(1), c, "scale");
  check_param_count(ctx, ctx.input_shape(2), c, "B");
  infer_same_as_input(ctx);
}

void compute_instance_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("input must be [N, C, ...], got {}", dims_str(x.dims()));
  const int64_t n = x.dim(0), c = x.dim(1), spatial = product(x.dims(), 2, x.rank());
  std::vector<double> scale = read_doubles(ctx.input(1)), bias = read_doubles(ctx.input(2));
  if (static_cast<int64_t>(scale.size()) != c || static_cast<int64_t>(bias.size()) != c)
    ctx.bad_input("scale and B must hold C = {} values, got {} and {}", c, scale.size(), bias.size());
  if (c == 0 || n == 0) return;
  const double eps = ctx.attr_float("epsilon", 1e-5f);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    normalize_groups(x.data<T>(), y.data<T>(), n, c, c, spatial, eps, scale, bias);
  }, "InstanceNormalization");
}

void infer_group_norm(InferContext& ctx) {
  require_float(ctx, ctx.input_type(0), "X");
  const int64_t groups = ctx.attr_int("num_groups");
  if (groups <= 0) ctx.fail("num_groups must be positive, got {}", groups);
  const Shape& x = ctx.input_shape(0);
  if (x.rank_known && x.rank() < 2) ctx.fail("X must be [N, C, ...], got {}", x.str());
  const int64_t c = channels_of(x);
  if (c >= 0 && c % groups != 0) ctx.fail("C = {} is not divisible by num_groups = {}", c, groups);
  if (ctx.opset() >= 21) {
    check_param_count(ctx, ctx.input_shape(1), c, "scale");
    check_param_count(ctx, ctx.input_shape(2), c, "bias");
  }
  infer_same_as_input(ctx);
}

void compute_group_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("X must be [N, C, ...], got {}", dims_str(x.dims()));
  const int64_t groups = ctx.attr_int("num_groups");
  const int64_t n = x.dim(0), c = x.dim(1), spatial = product(x.dims(), 2, x.rank());
  if (groups <= 0 || c % groups != 0) ctx.fail("C = {} is not divisible by num_groups = {}", c, groups);
  std::vector<double> scale = read_doubles(ctx.input(1)), bias = read_doubles(ctx.input(2));
  // Opset 18 gives one scale/bias per group (the spec later called this a mistake and 21 made it per
  // channel); expand per-group values to channels so one kernel serves both. A per-channel pair at 18
  // is accepted too, since it has only one meaning.
  const bool per_group = ctx.opset() < 21 && static_cast<int64_t>(scale.size()) == groups &&
                         static_cast<int64_t>(bias.size()) == groups;
  if (per_group && groups != c) {
    std::vector<double> s(static_cast<size_t>(c)), b(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ++ch) {
      s[static_cast<size_t>(ch)] = scale[static_cast<size_t>(ch / (c / groups))];
      b[static_cast<size_t>(ch)] = bias[static_cast<size_t>(ch / (c / groups))];
    }
    scale.swap(s);
    bias.swap(b);
  }
  if (static_cast<int64_t>(scale.size()) != c || static_cast<int64_t>(bias.size()) != c)
    ctx.bad_input("scale and bias must hold {} values, got {} and {}", ctx.opset() < 21 ? groups : c, scale.size(),
                  bias.size());
  if (ctx.opset() >= 21) {
    const int64_t stash = ctx.attr_int("stash_type", 1);
    if (stash != 1 && stash != 11 && stash != 10 && stash != 16) ctx.fail("stash_type {} is not a float type", stash);
  }
  if (c == 0 || n == 0) return;
  const double eps = ctx.attr_float("epsilon", 1e-5f);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    normalize_groups(x.data<T>(), y.data<T>(), n, c, groups, spatial, eps, scale, bias);
  }, "GroupNormalization");
}

// ---- LayerNormalization ----

/// Mean and InvStdDev take the stash type (float unless stash_type says bfloat16).
DType layer_norm_stash(const NodeContext& ctx) {
  const int64_t st = ctx.attr_int("stash_type", 1);
  if (st == 1) return DType::kFloat32;
  if (st == 16) return DType::kBFloat16;
  ctx.fail("stash_type must be 1 (float) or 16 (bfloat16), got {}", st);
}

/// Checks that a parameter of shape `p` broadcasts to X's shape `x` without changing it.
void check_unidirectional(const NodeContext& ctx, const Shape& p, const Shape& x, const char* name) {
  if (!p.rank_known || !x.rank_known) return;
  if (p.rank() > x.rank()) ctx.fail("{} {} has more dims than X {}", name, p.str(), x.str());
  for (size_t i = 0; i < p.rank(); ++i) {
    const Dim& pd = p.dims[i];
    const Dim& xd = x.dims[x.rank() - p.rank() + i];
    if (pd.is_known() && xd.is_known() && pd.value() != 1 && pd.value() != xd.value())
      ctx.fail("{} {} does not broadcast to X {}", name, p.str(), x.str());
  }
}

void infer_layer_norm(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  require_float(ctx, t, "X");
  const DType stash = layer_norm_stash(ctx);
  const Shape& x = ctx.input_shape(0);
  ctx.set_output(0, t, x);
  check_unidirectional(ctx, ctx.input_shape(1), x, "Scale");
  if (ctx.has_input(2)) check_unidirectional(ctx, ctx.input_shape(2), x, "B");
  if (!x.rank_known) {
    ctx.set_output(1, stash, Shape::unknown_rank());
    ctx.set_output(2, stash, Shape::unknown_rank());
    return;
  }
  const int64_t rank = static_cast<int64_t>(x.rank());
  const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), rank));
  std::vector<Dim> stat(x.dims.begin(), x.dims.begin() + static_cast<std::ptrdiff_t>(axis));
  stat.resize(x.rank(), Dim(1));
  ctx.set_output(1, stash, Shape(stat));
  ctx.set_output(2, stash, Shape(stat));
}

/// A parameter read as double and broadcast to X's trailing block of `cols` elements. Only the trailing
/// dims from `axis` may vary (leading dims of size 1); a parameter that varies over leading dims is rare
/// enough that it is refused rather than given a slower general path.
std::vector<double> broadcast_to_block(const KernelContext& ctx, const Tensor& p, const std::vector<int64_t>& xd,
                                       size_t axis, const char* name) {
  if (p.rank() > xd.size()) ctx.bad_input("{} {} has more dims than X {}", name, dims_str(p.dims()), dims_str(xd));
  const std::vector<int64_t> out_dims(xd.begin() + static_cast<std::ptrdiff_t>(axis), xd.end());
  const size_t lead = xd.size() - p.rank();
  for (size_t i = 0; i < p.rank(); ++i) {
    const int64_t pv = p.dim(i), xv = xd[lead + i];
    if (pv != 1 && pv != xv) ctx.bad_input("{} {} does not broadcast to X {}", name, dims_str(p.dims()), dims_str(xd));
    if (lead + i < axis && pv != 1)
      ctx.unsupported("{} {} varies over dims before axis {}; only the normalized dims may vary", name,
                      dims_str(p.dims()), axis);
  }
  // Dims of p that fall inside the block, right-aligned against out_dims.
  std::vector<int64_t> pd(out_dims.size(), 1);
  for (size_t i = 0; i < p.rank(); ++i)
    if (lead + i >= axis) pd[lead + i - axis] = p.dim(i);
  const std::vector<int64_t> strides = broadcast_strides(pd, out_dims);
  const int64_t cols = product(out_dims, 0, out_dims.size());
  std::vector<double> out(static_cast<size_t>(cols));
  std::vector<int64_t> idx(out_dims.size(), 0);
  for (int64_t k = 0; k < cols; ++k) {
    int64_t off = 0;
    for (size_t j = 0; j < idx.size(); ++j) off += idx[j] * strides[j];
    out[static_cast<size_t>(k)] = p.double_at(off);
    for (size_t j = idx.size(); j-- > 0;) {
      if (++idx[j] < out_dims[j]) break;
      idx[j] = 0;
    }
  }
  return out;
}

void compute_layer_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<int64_t>& xd = x.dims();
  const size_t axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), static_cast<int64_t>(xd.size())));
  const int64_t rows = product(xd, 0, axis), cols = product(xd, axis, xd.size());
  const std::vector<double> scale = broadcast_to_block(ctx, ctx.input(1), xd, axis, "Scale");
  const std::vector<double> bias =
      ctx.has_input(2) ? broadcast_to_block(ctx, ctx.input(2), xd, axis, "B") : std::vector<double>(static_cast<size_t>(cols), 0.0);
  const double eps = ctx.attr_float("epsilon", 1e-5f);
  Tensor& y = ctx.output(0);
  Tensor* mean_out = ctx.wants_output(1) ? &ctx.output(1) : nullptr;
  Tensor* inv_out = ctx.wants_output(2) ? &ctx.output(2) : nullptr;
  auto store_stat = [](Tensor* t, int64_t r, double v) {
    if (!t) return;
    if (t->dtype() == DType::kBFloat16) t->data<BFloat16>()[r] = BFloat16(static_cast<float>(v));
    else t->data<float>()[r] = static_cast<float>(v);
  };
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = in + r * cols;
      double mean = 0, var = 0;
      for (int64_t k = 0; k < cols; ++k) mean += to_double(row[k]);
      mean /= static_cast<double>(cols);
      for (int64_t k = 0; k < cols; ++k) {
        double dv = to_double(row[k]) - mean;
        var += dv * dv;
      }
      var /= static_cast<double>(cols);
      const double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t k = 0; k < cols; ++k) {
        const size_t j = static_cast<size_t>(k);
        out[r * cols + k] = from_double<T>((to_double(row[k]) - mean) * inv * scale[j] + bias[j]);
      }
      store_stat(mean_out, r, mean);
      store_stat(inv_out, r, inv);
    }
  }, "LayerNormalization");
}

/// ai.kiln.LayerNormalization (kiln's domain, version 1): LayerNormalization-17's semantics at any opset of
/// the model, output Y only (the rewrite that fuses an exported mean/var/sqrt subgraph produces it).
void infer_kiln_layer_norm(InferContext& ctx) {
  if (ctx.num_outputs() != 1) ctx.fail("ai.kiln.LayerNormalization has one output (Y), not {}", ctx.num_outputs());
  infer_layer_norm(ctx);
}

}  // namespace

KILN_REGISTER_OP(batch_normalization, {"", "BatchNormalization", {1, 6, 7, 9, 14, 15}, 0, infer_batch_norm,
                                       compute_batch_norm, false, false, false, prepare_batch_norm});
KILN_REGISTER_OP(instance_normalization, {"", "InstanceNormalization", {1, 6, 22}, 0, infer_instance_norm,
                                          compute_instance_norm});
KILN_REGISTER_OP(group_normalization, {"", "GroupNormalization", {18, 21}, 0, infer_group_norm, compute_group_norm});
KILN_REGISTER_OP(layer_normalization, {"", "LayerNormalization", {17}, 0, infer_layer_norm, compute_layer_norm, false,
                                       false, false, prepare_layer_norm});
KILN_REGISTER_OP(kiln_layer_normalization, {"ai.kiln", "LayerNormalization", {1}, 0, infer_kiln_layer_norm,
                                            compute_layer_norm, false, false, false, prepare_layer_norm});

}  // namespace kiln::ops
