// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
//
// Both pick, for each sample position (n, d1, ..., dk), the class c = target[n, d...] out of
// input[n, :, d...] (log-probabilities; SoftmaxCrossEntropyLoss first takes log_softmax over the classes)
// and give loss = -input[n, c, d...] * weight[c]. Positions whose target equals ignore_index contribute 0
// and carry weight 0. reduction: "none" keeps the per-position losses, "sum" adds them, "mean" divides the
// sum by the total weight of the positions that count (their number when there are no weights).

#include <algorithm>
#include <cmath>

#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class Reduction { kNone, kSum, kMean };

Reduction reduction_of(const NodeContext& ctx) {
  const std::string r = ctx.attr_string("reduction", "mean");
  if (r == "none") return Reduction::kNone;
  if (r == "sum") return Reduction::kSum;
  if (r == "mean") return Reduction::kMean;
  ctx.fail("reduction must be none, sum or mean, got '{}'", r);
}

void infer_loss(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.fail("input must be a float type, not {}", dtype_name(t));
  const DType ti = ctx.input_type(1);
  if (ti != DType::kInt32 && ti != DType::kInt64) ctx.fail("target must be int32 or int64, not {}", dtype_name(ti));
  const Shape& x = ctx.input_shape(0);
  const Shape& target = ctx.input_shape(1);
  if (x.rank_known && x.rank() < 2) ctx.fail("input must be (N, C, d1, ...), got {}", x.str());
  if (x.rank_known && target.rank_known) {
    if (target.rank() + 1 != x.rank()) ctx.fail("target {} must be input {} without the class dim", target.str(), x.str());
    for (size_t i = 0; i < target.rank(); ++i) {
      const Dim& a = target.dims[i];
      const Dim& b = x.dims[i == 0 ? 0 : i + 1];
      if (a.is_known() && b.is_known() && a.value() != b.value())
        ctx.fail("target {} must be input {} without the class dim", target.str(), x.str());
    }
  }
  if (reduction_of(ctx) == Reduction::kNone) {
    if (target.rank_known) {
      ctx.set_output(0, t, target);
    } else if (x.rank_known) {
      std::vector<Dim> d = x.dims;
      d.erase(d.begin() + 1);
      ctx.set_output(0, t, Shape(d));
    } else {
      ctx.set_output(0, t, Shape::unknown_rank());
    }
  } else {
    ctx.set_output(0, t, Shape(std::vector<Dim>{}));
  }
  ctx.set_output(1, t, x);  // SoftmaxCrossEntropyLoss's log_prob
}

/// The shared second half: losses from log-probabilities `logp` laid out as [N, C, D].
template <typename T>
void nll_from_log_probs(const KernelContext& ctx, const std::vector<double>& logp, int64_t n, int64_t c, int64_t d,
                        const Tensor& target, const Tensor* weight, Tensor& out) {
  const Reduction red = reduction_of(ctx);
  const bool has_ignore = ctx.has_attr("ignore_index");
  const int64_t ignore = ctx.attr_int("ignore_index", 0);
  std::vector<double> w;
  if (weight) {
    if (weight->rank() != 1 || weight->dim(0) != c)
      ctx.bad_input("weight must be 1-D with C = {} values, got {}", c, dims_str(weight->dims()));
    for (int64_t i = 0; i < c; ++i) w.push_back(weight->double_at(i));
  }
  T* o = out.data<T>();
  double sum = 0, total_weight = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) {
      const int64_t pos = i * d + k;
      const int64_t cls = target.int_at(pos);
      double loss = 0, wt = 0;
      if (!(has_ignore && cls == ignore)) {
        if (cls < 0 || cls >= c)
          ctx.bad_input("target {} at position {} is not a class in [0, {}) nor ignore_index", cls, pos, c);
        wt = weight ? w[static_cast<size_t>(cls)] : 1.0;
        loss = -logp[static_cast<size_t>((i * c + cls) * d + k)] * wt;
      }
      if (red == Reduction::kNone) o[pos] = from_double<T>(loss);
      sum += loss;
      total_weight += wt;
    }
  if (red == Reduction::kSum) o[0] = from_double<T>(sum);
  if (red == Reduction::kMean) o[0] = from_double<T>(sum / total_weight);  // nothing counted: 0/0 = NaN, as PyTorch
}

void check_target(const KernelContext& ctx, const Tensor& x, const Tensor& target) {
  if (x.rank() < 2 || target.rank() + 1 != x.rank() || target.dim(0) != x.dim(0))
    ctx.bad_input("target {} must be input {} without the class dim", dims_str(target.dims()), dims_str(x.dims()));
  for (size_t i = 1; i < target.rank(); ++i)
    if (target.dim(i) != x.dim(i + 1))
      ctx.bad_input("target {} must be input {} without the class dim", dims_str(target.dims()), dims_str(x.dims()));
}

void compute_nll(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& target = ctx.input(1);
  check_target(ctx, x, target);
  const int64_t n = x.dim(0), c = x.dim(1), d = product(x.dims(), 2, x.rank());
  visit_float(x.dtype(), [&]<typename T>() {
    std::vector<double> logp(static_cast<size_t>(x.numel()));
    const T* in = x.data<T>();
    for (size_t i = 0; i < logp.size(); ++i) logp[i] = to_double(in[i]);
    nll_from_log_probs<T>(ctx, logp, n, c, d, target, ctx.has_input(2) ? &ctx.input(2) : nullptr, ctx.output(0));
  }, "NegativeLogLikelihoodLoss");
}

void compute_softmax_cross_entropy(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& target = ctx.input(1);
  check_target(ctx, x, target);
  const int64_t n = x.dim(0), c = x.dim(1), d = product(x.dims(), 2, x.rank());
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    std::vector<double> logp(static_cast<size_t>(x.numel()));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < d; ++k) {  // log_softmax over the class dim
        double mx = -INFINITY;
        for (int64_t j = 0; j < c; ++j) mx = std::max(mx, to_double(in[(i * c + j) * d + k]));
        if (!std::isfinite(mx)) mx = 0;
        double s = 0;
        for (int64_t j = 0; j < c; ++j) s += std::exp(to_double(in[(i * c + j) * d + k]) - mx);
        const double log_s = std::log(s) + mx;
        for (int64_t j = 0; j < c; ++j) {
          const size_t at = static_cast<size_t>((i * c + j) * d + k);
          logp[at] = to_double(in[at]) - log_s;
        }
      }
    nll_from_log_probs<T>(ctx, logp, n, c, d, target, ctx.has_input(2) ? &ctx.input(2) : nullptr, ctx.output(0));
    if (ctx.num_outputs() > 1 && ctx.node().outputs[1] >= 0) {
      T* lp = ctx.output(1).data<T>();
      for (size_t i = 0; i < logp.size(); ++i) lp[i] = from_double<T>(logp[i]);
    }
  }, "SoftmaxCrossEntropyLoss");
}

}  // namespace

KILN_REGISTER_OP(negative_log_likelihood_loss, {"", "NegativeLogLikelihoodLoss", {12, 13, 22}, 0, infer_loss, compute_nll});
KILN_REGISTER_OP(softmax_cross_entropy_loss, {"", "SoftmaxCrossEntropyLoss", {12, 13}, 0, infer_loss,
                                              compute_softmax_cross_entropy});

}  // namespace kiln::ops
