#pragma once
// The prepare functions of the data-movement ops, referenced by each op's registration in its own file:
// copy_prepared.cpp (Transpose, Slice, Expand, Tile), concat_split_prepared.cpp (Concat, Split),
// gather_pad_prepared.cpp (Gather, Pad), where_cast_prepared.cpp (Where, Cast).

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

}  // namespace kiln::ops
