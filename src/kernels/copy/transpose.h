#pragma once
// Transpose tiles of 4-byte elements for the copy engine (strided_copy.cpp): 8 x 8 blocks transposed in
// registers (eight row loads, eight column stores), so each source and destination cache line is touched
// by whole 32-byte pieces instead of one element at a time. Kernels are listed in transpose_list.h.

#include <cstdint>

#include "kernels/isa.h"

namespace kiln::kernels {

/// dst[a * dst_a + b] = src[a + b * src_b] for a in [a0, a1), b in [0, b_len) (offsets in elements).
using Transpose4Fn = void (*)(uint32_t* dst, int64_t dst_a, const uint32_t* src, int64_t src_b, int64_t a0,
                              int64_t a1, int64_t b_len);

#define KILN_TRANSPOSE_KERNELS(suffix, tier) \
  void transpose_4byte_##suffix(uint32_t*, int64_t, const uint32_t*, int64_t, int64_t, int64_t, int64_t);
#include "kernels/copy/transpose_list.h"
#undef KILN_TRANSPOSE_KERNELS

/// The best 4-byte transpose kernel at or below `tier` that this CPU runs, or nullptr.
Transpose4Fn transpose_4byte_kernel(IsaTier tier);

}  // namespace kiln::kernels
