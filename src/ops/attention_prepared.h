#pragma once
// The fast path (OpSchema::prepare) of ai.kiln.ScaledDotProductAttention, float32: blocked attention with an
// online softmax on kernels::gemm_f32 and the row kernels of kernels/attention. nullptr at the reference tier.

#include <memory>

#include "ops/op.h"

namespace kiln::ops {

std::unique_ptr<PreparedKernel> prepare_scaled_dot_product_attention(PrepareContext& ctx);

}  // namespace kiln::ops
