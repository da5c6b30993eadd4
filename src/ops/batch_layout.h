#pragma once
// The batch dims of a batched matrix op (MatMul, FusedMatMul, attention), broadcast numpy-style across its
// operands and reduced to the fewest dims a strided loop needs: dims of size 1 are dropped and neighbours are
// merged wherever every operand steps through them at one stride. So [2, 12] heads against [2, 12] heads is one
// dim of 24 (one batched GEMM call), and [2, 1] against [1, 3] stays two dims. Fixed-size arrays: planning a
// run allocates nothing.

#include <cstdint>
#include <span>

namespace kiln::ops {

struct BatchLayout {
  static constexpr int kMaxDims = 8;
  static constexpr int kMaxOperands = 6;
  int rank = 0;                                   ///< merged dims, outermost first
  int64_t dims[kMaxDims] = {};
  int64_t strides[kMaxOperands][kMaxDims] = {};   ///< elements per step of each dim; 0 where it broadcasts
  int64_t count = 1;                              ///< product of dims: the number of matrices in the output

  /// Element offset of `operand`'s matrix for flat batch index `i` (row-major over dims).
  int64_t offset(int operand, int64_t i) const {
    int64_t off = 0;
    for (int d = rank; d-- > 0;) {
      off += (i % dims[d]) * strides[operand][d];
      i /= dims[d];
    }
    return off;
  }
  /// True when `operand` steps through every merged dim (no broadcast) contiguously, `matrix` elements apart.
  bool contiguous(int operand, int64_t matrix) const {
    return rank <= 1 && (rank == 0 || strides[operand][0] == matrix);
  }
};

/// One operand of a batched op: its batch dims (the dims before its matrix) and the elements of one matrix.
struct BatchOperand {
  std::span<const int64_t> batch_dims;
  int64_t matrix_elems = 0;
};

/// Broadcasts the operands' batch dims (right-aligned; each dim equal or 1) into `out` and merges dims. Returns
/// false when they do not broadcast, there are more than kMaxDims dims or kMaxOperands operands, or the count
/// overflows: the caller then lets the reference kernel report the problem.
bool broadcast_batch(std::span<const BatchOperand> operands, BatchLayout& out);

}  // namespace kiln::ops
