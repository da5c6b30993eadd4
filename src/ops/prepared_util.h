#pragma once
// Small pieces the prepared (fast) kernels of src/ops/*_prepared.cpp share.

#include <cstdint>

#include "kiln/tensor.h"
#include "ops/op.h"

namespace kiln::ops {

/// The reference kernel of the node's op: prepared kernels hand it the cases they do not cover, and it also
/// reports every invalid input with its own message.
ComputeFn reference_compute(const NodeContext& ctx);

/// Reads a 1-D (or scalar) int32/int64 tensor of at most `cap` elements into `out` without allocating;
/// returns the count, or -1 when the tensor is of another type or too long.
int64_t read_small_ints(const Tensor& t, int64_t* out, size_t cap);

/// True when input 0 is known at prepare time to be a tensor that data movement copies as bytes (not strings,
/// not a container); unknown types count as movable (the kernel checks again at run time).
bool movable_input(const PrepareContext& ctx, size_t i = 0);

}  // namespace kiln::ops
