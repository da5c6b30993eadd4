#pragma once
// Helpers the sequence and optional ops share: checking that an input is the container an op needs, reading
// a position input, and handing a tensor out as an output whether or not the runtime allocated it.

#include <cstdint>

#include "ops/op.h"

namespace kiln::ops::sequence {

/// Input i's info, which must be a sequence (or not known yet: a tensor info of undefined type).
const ValueInfo& sequence_info(const InferContext& ctx, size_t i);
/// Input i at run time, which must be a sequence.
const Tensor& sequence_input(const KernelContext& ctx, size_t i);

/// The element type two sources agree on (undefined matches anything); fails naming `what` otherwise.
DType agree(const NodeContext& ctx, DType a, DType b, const char* what);
/// The shape that covers both `a` and `b` (equal dims stay, others become unknown).
Shape cover(const Shape& a, const Shape& b);

/// Reads a position input (a one-element int32 or int64 tensor) and resolves it against a sequence of
/// `length` tensors: negative positions count from the back. Valid positions are [-length, length - 1], or
/// [-length, length] when `one_past_end` (an insert at the back). Fails naming the position otherwise.
int64_t position(const KernelContext& ctx, const Tensor& pos, int64_t length, bool one_past_end);

/// `t` itself when it owns its memory, else a copy: a container must not keep views into the run's arena.
Tensor owned(const Tensor& t);

/// Makes `t` output i: copied into the output when the runtime allocated it (its shape was known), else set.
void emit(KernelContext& ctx, size_t i, const Tensor& t);

}  // namespace kiln::ops::sequence
