#pragma once
// The prepare functions of the data-movement ops, referenced by each op's registration in its own file:
// copy_prepared.cpp (Transpose, Slice, Expand, Tile), concat_split_prepared.cpp (Concat, Split),
// gather_pad_prepared.cpp (Gather, Pad), where_cast_prepared.cpp (Where, Cast), space_depth_prepared.cpp
// (DepthToSpace, SpaceToDepth).

#include <memory>

#include "ops/op.h"

namespace kiln::ops {

std::unique_ptr<PreparedKernel> prepare_transpose(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_slice(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_expand(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_tile(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_concat(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_split(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_gather(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_pad(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_where(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_cast(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_depth_to_space(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_space_to_depth(PrepareContext& ctx);

/// Copies the strided view of x (`dims` in y's order, `src_strides` in elements, starting `src_offset` elements
/// in) into the contiguous y with the data-movement engine, without allocating; false when the engine declines
/// (rank, sizes), and the caller then runs the reference.
bool copy_view(KernelContext& ctx, const Tensor& x, Tensor& y, const int64_t* dims, const int64_t* src_strides,
               size_t rank, int64_t src_offset);
/// True when x and y are plain tensors of one dtype that moves as bytes (not strings, not containers).
bool plain_bytes(const Tensor& x, const Tensor& y);

}  // namespace kiln::ops
