// ai.kiln.ScaledDotProductAttention (kiln's own domain, version 1): the attention core the passes find in
// exported transformers (MatMul, scale, Add mask, Softmax, MatMul), as one op so the fast path never writes
// the whole S x T score matrix.
//   inputs  Q [..., S, D], K [..., T, D], V [..., T, Dv], mask (optional, additive, broadcastable to [..., S, T])
//   attrs   scale (float; 1/sqrt(D) when absent)
//           seq_first (int, default 0): 1 = Q, K, V and Y are [S, N, D], [T, N, D], [T, N, Dv], [S, N, Dv], rank 3
//           exactly: the sequence-first layout of torch's MultiheadAttention, whose export moves the heads first
//           and back with Transposes (perm [1, 0, 2]) around the attention; the pass fold_attention_transposes
//           drops them and sets this. The result is that of the head-first op on the transposed operands,
//           transposed back; the mask broadcasts to [N, S, T] as in the head-first form.
//   Y [..., S, Dv] = Softmax(Q·Kᵀ·scale + mask, last axis)·V
// The batch dims of Q, K and V broadcast numpy-style; the mask broadcasts to [batch..., S, T] one way (it never
// makes the result larger). float32 only. A causal mask comes as an additive input (-inf or a large negative
// number above the diagonal). The reference runs the reference Transpose, MatMul, Add and Softmax.

#include <algorithm>
#include <cmath>
#include <span>

#include "ops/attention_prepared.h"
#include "ops/matmul_shape.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/reference_compose.h"
#include "ops/shape_util.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

Shape swap_first_two(Shape s) {
  std::swap(s.dims[0], s.dims[1]);
  return s;
}

// x [A, B, C] as [B, A, C], through the reference Transpose.
Tensor swap_first_two(const KernelContext& ctx, const Tensor& x) {
  Tensor out[1] = {Tensor(DType::kFloat32, {x.dim(1), x.dim(0), x.dim(2)})};
  run_reference_op(ctx, "Transpose", 13, {ints_attr("perm", {1, 0, 2})}, {&x}, out);
  return std::move(out[0]);
}

void infer_sdpa(InferContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const DType t = ctx.input_type(i);
    if (t != DType::kFloat32 && t != DType::kUndefined)
      ctx.unsupported("ScaledDotProductAttention takes float32 only, but input {} is {}", i, dtype_name(t));
  }
  const bool seq_first = ctx.attr_int("seq_first", 0) != 0;
  if (!ctx.input_shape(0).rank_known || !ctx.input_shape(1).rank_known || !ctx.input_shape(2).rank_known) {
    ctx.set_output(0, DType::kFloat32, seq_first ? Shape(std::vector<Dim>(3)) : Shape::unknown_rank());
    return;
  }
  if (seq_first)
    for (size_t i = 0; i < 3; ++i)
      if (ctx.input_shape(i).rank() != 3)
        ctx.fail("with seq_first = 1, Q, K and V must have rank 3 ([len, heads, head]), but input {} is {}", i,
                 ctx.input_shape(i).str());
  // The head-first view: seq_first operands with their first two dims swapped.
  const Shape q = seq_first ? swap_first_two(ctx.input_shape(0)) : ctx.input_shape(0);
  const Shape k = seq_first ? swap_first_two(ctx.input_shape(1)) : ctx.input_shape(1);
  const Shape v = seq_first ? swap_first_two(ctx.input_shape(2)) : ctx.input_shape(2);
  const char* names[] = {"Q", "K", "V"};
  const Shape* qkv[] = {&q, &k, &v};
  for (int i = 0; i < 3; ++i)
    if (qkv[i]->rank() < 2) ctx.fail("{} must have rank >= 2 ([..., len, head]), got {}", names[i], qkv[i]->str());
  auto known_differ = [](const Dim& a, const Dim& b) { return a.is_known() && b.is_known() && a.value() != b.value(); };
  if (known_differ(q.dims.back(), k.dims.back()))
    ctx.fail("Q {} and K {} must have the same head size D", q.str(), k.str());
  if (known_differ(k.dims[k.rank() - 2], v.dims[v.rank() - 2]))
    ctx.fail("K {} and V {} must have the same length T", k.str(), v.str());
  std::vector<Shape> batches;
  for (const Shape* s : qkv) batches.push_back(Shape(std::vector<Dim>(s->dims.begin(), s->dims.end() - 2)));
  Shape y = broadcast_shapes(ctx, batches);
  const size_t nb = y.rank();
  y.dims.push_back(q.dims[q.rank() - 2]);
  y.dims.push_back(v.dims.back());
  if (ctx.has_input(3)) {
    const Shape& m = ctx.input_shape(3);
    if (m.rank_known) {
      std::vector<Dim> target(y.dims.begin(), y.dims.begin() + static_cast<std::ptrdiff_t>(nb));
      target.push_back(q.dims[q.rank() - 2]);
      target.push_back(k.dims[k.rank() - 2]);
      if (m.rank() > target.size())
        ctx.fail("mask {} has a higher rank than the scores {}", m.str(), Shape(target).str());
      for (size_t i = 0; i < m.rank(); ++i) {
        const Dim& md = m.dims[i];
        const Dim& td = target[target.size() - m.rank() + i];
        if (md.is_known() && md.value() != 1 && known_differ(md, td))
          ctx.fail("mask {} does not broadcast to the scores {}", m.str(), Shape(target).str());
      }
    }
  }
  ctx.set_output(0, DType::kFloat32, seq_first ? swap_first_two(y) : std::move(y));
}

// The head-first attention of q, k, v (and mask) into y.
void attend(KernelContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask, Tensor& y);

void compute_sdpa(KernelContext& ctx) {
  const Tensor& q = ctx.input(0);
  const Tensor& k = ctx.input(1);
  const Tensor& v = ctx.input(2);
  const Tensor* mask = ctx.has_input(3) ? &ctx.input(3) : nullptr;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype() != DType::kFloat32)
      ctx.bad_input("ScaledDotProductAttention takes float32 only, but input {} is {}", i,
                    dtype_name(ctx.input(i).dtype()));
  Tensor& y = ctx.output(0);
  if (ctx.attr_int("seq_first", 0) == 0) return attend(ctx, q, k, v, mask, y);
  if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3)
    ctx.bad_input("with seq_first = 1, Q {}, K {} and V {} must have rank 3", dims_str(q.dims()),
                  dims_str(k.dims()), dims_str(v.dims()));
  const Tensor qh = swap_first_two(ctx, q), kh = swap_first_two(ctx, k), vh = swap_first_two(ctx, v);
  Tensor yh(DType::kFloat32, {y.rank() == 3 ? y.dim(1) : 0, y.rank() == 3 ? y.dim(0) : 0,
                              y.rank() == 3 ? y.dim(2) : 0});
  attend(ctx, qh, kh, vh, mask, yh);
  Tensor out[1] = {swap_first_two(ctx, yh)};
  expect_output_dims(ctx, y, out[0].dims());
  std::copy_n(out[0].data<float>(), out[0].numel(), y.data<float>());
}

void attend(KernelContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask, Tensor& y) {
  if (q.rank() < 2 || k.rank() < 2 || v.rank() < 2)
    ctx.bad_input("Q {}, K {} and V {} must have rank >= 2", dims_str(q.dims()), dims_str(k.dims()),
                  dims_str(v.dims()));
  const float scale = ctx.attr_float("scale", 1.0f / std::sqrt(static_cast<float>(q.dims().back())));

  // scores = Q·Kᵀ·scale (+ mask)
  const Tensor kt = transpose_last_two(ctx, k);
  const MatMulPlan qk = plan_matmul(ctx, q.dims(), kt.dims());
  Tensor scores[1] = {Tensor(DType::kFloat32, qk.out_dims)};
  run_reference_op(ctx, "MatMul", 13, {}, {&q, &kt}, scores);
  for (float& s : scores[0].span<float>()) s *= scale;
  if (mask) {
    const std::vector<int64_t>& md = mask->dims();
    const std::vector<int64_t>& sd = qk.out_dims;
    bool ok = md.size() <= sd.size();
    for (size_t i = 0; ok && i < md.size(); ++i) ok = md[i] == 1 || md[i] == sd[sd.size() - md.size() + i];
    if (!ok) ctx.bad_input("mask {} does not broadcast to the scores {}", dims_str(md), dims_str(sd));
    Tensor sum[1] = {Tensor(DType::kFloat32, sd)};
    run_reference_op(ctx, "Add", 14, {}, {&scores[0], mask}, sum);
    scores[0] = std::move(sum[0]);
  }
  Tensor probs[1] = {Tensor(DType::kFloat32, qk.out_dims)};
  run_reference_op(ctx, "Softmax", 13, {int_attr("axis", -1)}, {&scores[0]}, probs);

  // Y = P·V
  const MatMulPlan pv = plan_matmul(ctx, probs[0].dims(), v.dims());
  expect_output_dims(ctx, y, pv.out_dims);
  run_reference_op(ctx, "MatMul", 13, {}, {&probs[0], &v}, std::span<Tensor>(&y, 1));
}

}  // namespace

KILN_REGISTER_OP(scaled_dot_product_attention,
                 {"ai.kiln", "ScaledDotProductAttention", {1}, 0, infer_sdpa, compute_sdpa, false, false, false,
                  prepare_scaled_dot_product_attention}.with_macs(macs::attention));

}  // namespace kiln::ops
