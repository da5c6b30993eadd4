// Dispatch and scalar reference of the vbinary family (baseline-compiled).
#include "kernels/vbinary/vbinary.h"

#include <cmath>

namespace kiln::kernels {

namespace {
constexpr VBinaryKernel kVBinaryKernels[] = {
#define KILN_VBINARY(name, tier) {#name, tier, name},
#include "kernels/vbinary/vbinary_list.h"
#undef KILN_VBINARY
};
}  // namespace

std::span<const VBinaryKernel> vbinary_kernels() { return kVBinaryKernels; }

VBinaryFn vbinary_kernel_for(IsaTier tier) {
  for (const VBinaryKernel& k : kVBinaryKernels)
    if (static_cast<int>(k.tier) <= static_cast<int>(tier)) return k.fn;
  return nullptr;
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "add";
    case BinaryOp::kSub: return "sub";
    case BinaryOp::kMul: return "mul";
    case BinaryOp::kDiv: return "div";
    case BinaryOp::kMax: return "max";
    case BinaryOp::kMin: return "min";
  }
  return "?";
}

float binary_ref_value(BinaryOp op, float x, float y) {
  switch (op) {
    case BinaryOp::kAdd: return x + y;
    case BinaryOp::kSub: return x - y;
    case BinaryOp::kMul: return x * y;
    case BinaryOp::kDiv: return x / y;
    case BinaryOp::kMax:
      if (std::isnan(x)) return x;
      if (std::isnan(y)) return y;
      return x < y ? y : x;
    case BinaryOp::kMin:
      if (std::isnan(x)) return x;
      if (std::isnan(y)) return y;
      return y < x ? y : x;
  }
  return x;
}

void vbinary_f32_ref(BinaryOp op, const BinaryBlock& k) {
  for (int64_t r = 0; r < k.rows; ++r)
    for (int64_t i = 0; i < k.n; ++i)
      k.out[r * k.out_row + i] =
          binary_ref_value(op, k.a[r * k.a_row + (k.a_col ? i : 0)], k.b[r * k.b_row + (k.b_col ? i : 0)]);
}

}  // namespace kiln::kernels
