#include "ops/matmul_shape.h"

#include "base/checked.h"
#include "ops/shape_util.h"

namespace kiln::ops {

Shape infer_matmul_shape(const NodeContext& ctx, const Shape& a, const Shape& b) {
  if (!a.rank_known || !b.rank_known) return Shape::unknown_rank();
  if (a.rank() == 0 || b.rank() == 0) ctx.fail("matmul operands must have rank >= 1, got {} and {}", a.str(), b.str());
  const Dim& ka = a.dims.back();
  const Dim& kb = b.rank() == 1 ? b.dims[0] : b.dims[b.rank() - 2];
  if (ka.is_known() && kb.is_known() && ka.value() != kb.value())
    ctx.fail("cannot multiply {} by {}: A has {} columns but B has {} rows", a.str(), b.str(), ka.value(), kb.value());
  Shape ab(std::vector<Dim>(a.dims.begin(), a.dims.end() - std::min<size_t>(a.rank(), 2)));
  Shape bb(std::vector<Dim>(b.dims.begin(), b.dims.end() - std::min<size_t>(b.rank(), 2)));
  std::vector<Shape> batch{ab, bb};
  Shape out = broadcast_shapes(ctx, batch);
  if (a.rank() >= 2) out.dims.push_back(a.dims[a.rank() - 2]);
  if (b.rank() >= 2) out.dims.push_back(b.dims.back());
  return out;
}

MatMulPlan plan_matmul(const NodeContext& ctx, const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.empty() || b.empty())
    ctx.bad_input("matmul operands must have rank >= 1, got {} and {}", dims_str(a), dims_str(b));
  MatMulPlan p;
  p.K = a.back();
  const int64_t kb = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (p.K != kb)
    ctx.bad_input("cannot multiply {} by {}: A has {} columns but B has {} rows", dims_str(a), dims_str(b), p.K, kb);
  p.M = a.size() >= 2 ? a[a.size() - 2] : 1;
  p.N = b.size() >= 2 ? b.back() : 1;
  std::vector<int64_t> ab(a.begin(), a.end() - std::min<size_t>(a.size(), 2));
  std::vector<int64_t> bb(b.begin(), b.end() - std::min<size_t>(b.size(), 2));
  std::vector<std::vector<int64_t>> both{ab, bb};
  std::vector<int64_t> batch = broadcast_dims(ctx, both);
  p.out_dims = batch;
  if (a.size() >= 2) p.out_dims.push_back(p.M);
  if (b.size() >= 2) p.out_dims.push_back(p.N);
  checked_numel(p.out_dims, "matmul output");
  const int64_t count = checked_numel(batch);
  const int64_t a_mat = checked_mul(p.M, p.K), b_mat = checked_mul(p.K, p.N);
  std::vector<int64_t> as = broadcast_strides(ab, batch), bs = broadcast_strides(bb, batch);
  p.a_offset.resize(static_cast<size_t>(count));
  p.b_offset.resize(static_cast<size_t>(count));
  std::vector<int64_t> idx(batch.size(), 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t ao = 0, bo = 0;
    for (size_t d = 0; d < batch.size(); ++d) ao += idx[d] * as[d], bo += idx[d] * bs[d];
    p.a_offset[static_cast<size_t>(i)] = ao * a_mat;
    p.b_offset[static_cast<size_t>(i)] = bo * b_mat;
    for (size_t d = batch.size(); d-- > 0;) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  bool b_shared = true, a_contiguous = true;
  for (int64_t i = 0; i < count; ++i) {
    b_shared = b_shared && p.b_offset[static_cast<size_t>(i)] == 0;
    a_contiguous = a_contiguous && p.a_offset[static_cast<size_t>(i)] == i * a_mat;
  }
  p.fold_batches = count > 1 && b_shared && a_contiguous;
  return p;
}

}  // namespace kiln::ops
