#pragma once
// The prepare function of Resize and Upsample (resize_prepared.cpp), referenced by their registrations in
// resize.cpp.

#include <memory>

#include "ops/op.h"

namespace kiln::ops {

std::unique_ptr<PreparedKernel> prepare_resize(PrepareContext& ctx);

}  // namespace kiln::ops
