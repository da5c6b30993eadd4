#pragma once
// The row kernels of blocked attention (ai.kiln.ScaledDotProductAttention's fast path, src/ops/
// attention_prepared.cpp): a block of scores S = scale·Q·Kᵀ comes from kernels::gemm_f32, then each row takes
// its mask and its online-softmax step (max, exp, sum) here, and P·V goes back to gemm_f32. One kernel set per
// ISA tier, listed once in attention_list.h.
//
// exp accuracy (exp_sum): the arguments are s - max <= 0. Measured against the double-precision exp rounded
// to float over every 61st float of [-87.3, 0] (18 million): at most 1 ulp (tests/kernels/attention_test.cpp
// asserts <= 2). Below -87.3 the result is 0 instead of a value under 1.2e-38 (an absolute error far below any
// row sum, which is >= 1).

#include <cstdint>
#include <span>

#include "kernels/isa.h"

namespace kiln::kernels {

struct AttentionRowKernels {
  const char* name;
  IsaTier tier;
  /// s[j] += mask[j * mask_step] for j < n (mask_step 0 or 1; a null mask adds nothing); returns the largest
  /// s[j] afterwards (-inf for n == 0).
  float (*add_mask_max)(float* s, const float* mask, int64_t mask_step, int64_t n);
  /// s[j] = exp(s[j] - shift) for j < n (shift >= every s[j]); returns the sum of the new s[j].
  float (*exp_sum)(float* s, float shift, int64_t n);
  /// x[j] *= f for j < n.
  void (*scale)(float* x, float f, int64_t n);
};

#define KILN_ATTENTION_ROWS(name, tier) extern const AttentionRowKernels name;
#include "kernels/attention/attention_list.h"
#undef KILN_ATTENTION_ROWS

/// Every kernel set of the list, best tier first.
std::span<const AttentionRowKernels* const> attention_row_kernels();
/// The best set at or below `tier`, or nullptr (kRef: attention runs its reference).
const AttentionRowKernels* attention_row_kernels_for(IsaTier tier);

}  // namespace kiln::kernels
