// Softmax, LogSoftmax, Hardmax.
//
// Before opset 13 the input is coerced to 2-D at `axis` (default 1): rows are dims[:axis], and the
// normalisation runs over all of dims[axis:] at once. From opset 13 it runs along the single `axis`
// (default -1). Both are the same [outer, n, inner] walk with different splits.

#include <cmath>

#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/elementwise_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class Kind { kSoftmax, kLogSoftmax, kHardmax };

void infer_softmax(InferContext& ctx) {
  const Shape& s = ctx.input_shape(0);
  if (s.rank_known) {
    int64_t rank = static_cast<int64_t>(s.rank());
    int64_t axis = ctx.attr_int("axis", ctx.opset() < 13 ? 1 : -1);
    normalize_axis(ctx, axis, rank);
  }
  if (!dtype_is_float(ctx.input_type(0)))
    ctx.fail("input must be a float type, not {}", dtype_name(ctx.input_type(0)));
  infer_same_as_input(ctx);
}

AxisSplit softmax_split(const KernelContext& ctx, const std::vector<int64_t>& dims) {
  int64_t rank = static_cast<int64_t>(dims.size());
  if (ctx.opset() < 13) {
    const int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", 1), rank);
    AxisSplit s;
    s.outer = product(dims, 0, static_cast<size_t>(axis));
    s.n = product(dims, static_cast<size_t>(axis), dims.size());
    return s;
  }
  return split_at_axis(dims, static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), rank)));
}

template <Kind K> void compute_softmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (x.numel() == 0) return;
  const AxisSplit s = softmax_split(ctx, x.dims());
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<double> row(static_cast<size_t>(s.n));
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t base = o * s.n * s.inner + i;
        double mx = -INFINITY;
        int64_t arg = 0;
        for (int64_t k = 0; k < s.n; ++k) {
          double v = to_double(in[base + k * s.inner]);
          row[static_cast<size_t>(k)] = v;
          if (v > mx) {  // first maximum wins, which is Hardmax's tie rule
            mx = v;
            arg = k;
          }
        }
        if (K == Kind::kHardmax) {
          for (int64_t k = 0; k < s.n; ++k) out[base + k * s.inner] = T(k == arg ? 1.0f : 0.0f);
          continue;
        }
        // Subtracting the maximum keeps exp() finite; an all -inf row has no finite maximum, so shift by 0
        // and let the result be NaN, as exp(-inf - -inf) gives in numpy.
        const double shift = std::isfinite(mx) ? mx : 0.0;
        double sum = 0;
        for (double v : row) sum += std::exp(v - shift);
        const double log_sum = std::log(sum);
        for (int64_t k = 0; k < s.n; ++k) {
          double v = row[static_cast<size_t>(k)] - shift;
          out[base + k * s.inner] = from_double<T>(K == Kind::kSoftmax ? std::exp(v) / sum : v - log_sum);
        }
      }
    }
  }, ctx.node().op_type.c_str());
}

}  // namespace

KILN_REGISTER_OP(softmax, {"", "Softmax", {1, 11, 13}, 0, infer_softmax, compute_softmax<Kind::kSoftmax>,
                           false, false, false, prepare_softmax});
KILN_REGISTER_OP(log_softmax, {"", "LogSoftmax", {1, 11, 13}, 0, infer_softmax, compute_softmax<Kind::kLogSoftmax>,
                               false, false, false, prepare_softmax});
KILN_REGISTER_OP(hardmax, {"", "Hardmax", {1, 11, 13}, 0, infer_softmax, compute_softmax<Kind::kHardmax>});

}  // namespace kiln::ops
