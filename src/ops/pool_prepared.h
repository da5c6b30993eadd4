#pragma once
// The prepare functions of the pooling ops (pool_prepared.cpp), referenced by their registrations in pool.cpp and
// global_pool.cpp.

#include <memory>

#include "ops/op.h"

namespace kiln::ops {

std::unique_ptr<PreparedKernel> prepare_max_pool(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_average_pool(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_global_max_pool(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_global_average_pool(PrepareContext& ctx);

}  // namespace kiln::ops
