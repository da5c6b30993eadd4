#include "ops/op_macs.h"

#include <algorithm>
#include <limits>

namespace kiln::ops::macs {

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t times(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0) return 0;
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? kMax : r;
}

/// Input i when present and defined, else null.
const Tensor* present(const KernelContext& ctx, size_t i) {
  return ctx.has_input(i) && ctx.input(i).defined() ? &ctx.input(i) : nullptr;
}

/// t's elements per index of its first dim (one filter), 0 without a first dim.
int64_t per_first_dim(const Tensor& t) { return t.dims().empty() || t.dim(0) <= 0 ? 0 : t.numel() / t.dim(0); }

}  // namespace

template <size_t W> int64_t conv(const KernelContext& ctx) {
  const Tensor* w = present(ctx, W);
  return w ? times(ctx.output_numel(0), per_first_dim(*w)) : 0;
}
template int64_t conv<1>(const KernelContext&);
template int64_t conv<3>(const KernelContext&);

int64_t conv_transpose(const KernelContext& ctx) {
  const Tensor *x = present(ctx, 0), *w = present(ctx, 1);
  return x && w ? times(x->numel(), per_first_dim(*w)) : 0;
}

int64_t matmul(const KernelContext& ctx) {
  const Tensor* a = present(ctx, 0);
  return a && !a->dims().empty() ? times(ctx.output_numel(0), a->dims().back()) : 0;
}

int64_t gemm(const KernelContext& ctx) {
  const Tensor* a = present(ctx, 0);
  if (!a || a->dims().size() != 2) return 0;
  return times(ctx.output_numel(0), a->dim(ctx.attr_int("transA", 0) ? 0 : 1));
}

int64_t pool(const KernelContext& ctx) {
  int64_t window = 1;
  for (int64_t k : ctx.attr_ints("kernel_shape")) window = times(window, k);
  return times(ctx.output_numel(0), window);
}

int64_t recurrent(const KernelContext& ctx) {
  const Tensor *x = present(ctx, 0), *w = present(ctx, 1), *r = present(ctx, 2);
  if (!x || !w || !r || x->dims().size() != 3 || x->dim(2) <= 0) return 0;
  const int64_t steps = x->numel() / x->dim(2);  // sequence length x batch
  const int64_t weights = w->numel() > kMax - r->numel() ? kMax : w->numel() + r->numel();
  return times(steps, weights);
}

int64_t roi_align(const KernelContext& ctx) {
  const Tensor* x = present(ctx, 0);
  if (!x || x->dims().size() != 4) return 0;
  const int64_t ratio = ctx.attr_int("sampling_ratio", 0);
  const int64_t rows = ratio > 0 ? ratio : (x->dim(2) + ctx.attr_int("output_height", 1) - 1) / std::max<int64_t>(1, ctx.attr_int("output_height", 1));
  const int64_t cols = ratio > 0 ? ratio : (x->dim(3) + ctx.attr_int("output_width", 1) - 1) / std::max<int64_t>(1, ctx.attr_int("output_width", 1));
  return times(times(ctx.output_numel(0), times(rows, cols)), 4);
}

int64_t attention(const KernelContext& ctx) {
  const Tensor *q = present(ctx, 0), *k = present(ctx, 1);
  if (!q || !k || k->dims().size() < 2) return 0;
  // K's length T: dim 0 with seq_first (K [T, N, D]), else the dim before the last (K [..., T, D]).
  const int64_t keys = ctx.attr_int("seq_first", 0) ? k->dim(0) : k->dims()[k->dims().size() - 2];
  return times(times(q->numel(), keys), 2);
}

}  // namespace kiln::ops::macs
