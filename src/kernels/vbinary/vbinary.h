#pragma once
// Vectorised two-operand float32 arithmetic over a block of rows, the shape every broadcasting fast path
// reduces to:
//   out[r * out_row + i] = a[r * a_row + i * a_col] op b[r * b_row + i * b_col]   (r < rows, i < n)
// with a_col and b_col each 1 (the operand advances along the row) or 0 (one value per row). So:
//   same shapes               rows = 1, both columns 1
//   one side a scalar         rows = 1, that side's column 0
//   per-channel [N,C,H,W] ⊙ [C,1,1]   rows = C (per n), b_row = 1, b_col = 0, n = H·W
//   row broadcast [M,N] ⊙ [N]         rows = M, b_row = 0, b_col = 1
// Results are exact IEEE operations (Add, Sub, Mul, Div are correctly rounded, as the reference's float math);
// Max and Min follow the reference's rules: NaN wins, and between equal values (±0) the first operand.

#include <cstdint>
#include <span>

#include "kernels/isa.h"

namespace kiln::kernels {

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kMax, kMin };
inline constexpr int kBinaryOpCount = static_cast<int>(BinaryOp::kMin) + 1;
const char* binary_op_name(BinaryOp op);

struct BinaryBlock {
  const float* a = nullptr;
  const float* b = nullptr;
  float* out = nullptr;
  int64_t rows = 1;
  int64_t n = 0;
  int64_t a_row = 0, b_row = 0, out_row = 0;  ///< element strides between rows
  bool a_col = true, b_col = true;            ///< operand advances along the row (else fixed per row)
};

/// One tier's kernel. `out` may alias an operand that advances (a_col or b_col) with the same layout.
using VBinaryFn = void (*)(BinaryOp op, const BinaryBlock& block);

#define KILN_VBINARY(name, tier) void name(BinaryOp op, const BinaryBlock& block);
#include "kernels/vbinary/vbinary_list.h"
#undef KILN_VBINARY

struct VBinaryKernel {
  const char* name;
  IsaTier tier;
  VBinaryFn fn;
};
std::span<const VBinaryKernel> vbinary_kernels();
/// The best kernel at or below `tier`, or nullptr (kRef).
VBinaryFn vbinary_kernel_for(IsaTier tier);

/// The scalar reference (tests): the same block, one element at a time.
void vbinary_f32_ref(BinaryOp op, const BinaryBlock& block);
/// One element as the reference computes it.
float binary_ref_value(BinaryOp op, float a, float b);

}  // namespace kiln::kernels
