#include "ops/batch_layout.h"

#include <algorithm>

namespace kiln::ops {

bool broadcast_batch(std::span<const BatchOperand> operands, BatchLayout& out) {
  out = BatchLayout();
  const int n_ops = static_cast<int>(operands.size());
  if (n_ops > BatchLayout::kMaxOperands) return false;
  size_t rank = 0;
  for (const BatchOperand& o : operands) rank = std::max(rank, o.batch_dims.size());
  if (rank > static_cast<size_t>(BatchLayout::kMaxDims)) return false;

  // Per output dim (outermost first): its size and each operand's stride, before merging.
  int64_t dims[BatchLayout::kMaxDims];
  int64_t strides[BatchLayout::kMaxOperands][BatchLayout::kMaxDims] = {};
  for (size_t d = 0; d < rank; ++d) dims[d] = 1;
  for (int o = 0; o < n_ops; ++o) {
    const std::span<const int64_t> bd = operands[static_cast<size_t>(o)].batch_dims;
    int64_t step = operands[static_cast<size_t>(o)].matrix_elems;
    for (size_t k = bd.size(); k-- > 0;) {
      const size_t d = rank - bd.size() + k;
      const int64_t n = bd[k];
      if (n < 0) return false;
      if (n != 1) {
        if (dims[d] != 1 && dims[d] != n) return false;
        dims[d] = n;
        strides[o][d] = step;
      }
      if (__builtin_mul_overflow(step, n, &step)) return false;
    }
  }
  for (size_t d = 0; d < rank; ++d)
    if (__builtin_mul_overflow(out.count, dims[d], &out.count)) return false;
  if (out.count == 0) {  // nothing to compute; keep one empty dim so offset() stays defined
    out.rank = 1;
    out.dims[0] = 0;
    return true;
  }

  // Drop 1-sized dims; merge a dim into the previous kept one when every operand's strides line up.
  for (size_t d = 0; d < rank; ++d) {
    if (dims[d] == 1) continue;
    const int r = out.rank;
    bool merge = r > 0;
    for (int o = 0; o < n_ops && merge; ++o) merge = out.strides[o][r - 1] == strides[o][d] * dims[d];
    if (merge) {
      out.dims[r - 1] *= dims[d];
      for (int o = 0; o < n_ops; ++o) out.strides[o][r - 1] = strides[o][d];
    } else {
      out.dims[r] = dims[d];
      for (int o = 0; o < n_ops; ++o) out.strides[o][r] = strides[o][d];
      ++out.rank;
    }
  }
  return true;
}

}  // namespace kiln::ops
