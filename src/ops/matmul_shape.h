#pragma once
// numpy matmul shapes, shared by MatMul, MatMulInteger and QLinearMatMul: 1-D operands are promoted
// (a vector A becomes 1 x K, a vector B becomes K x 1, and the promoted dim is dropped from the result) and
// batch dims broadcast.

#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

/// Symbolic output shape of matmul(a, b); fails naming both shapes when K differs or batch dims clash.
Shape infer_matmul_shape(const NodeContext& ctx, const Shape& a, const Shape& b);

/// Concrete plan: per output batch the element offsets of its A and B matrices.
struct MatMulPlan {
  int64_t M = 0, N = 0, K = 0;
  std::vector<int64_t> out_dims;
  std::vector<int64_t> a_offset, b_offset;  ///< one entry per batch (product of the broadcast batch dims)
  /// True when B has a single matrix shared by every batch and A's batches are contiguous, so the batches
  /// can be folded into M (one GEMM of batches * M rows).
  bool fold_batches = false;
};

/// Plans matmul(a, b) for concrete dims; bad_input naming both shapes on a mismatch.
MatMulPlan plan_matmul(const NodeContext& ctx, const std::vector<int64_t>& a, const std::vector<int64_t>& b);

}  // namespace kiln::ops
