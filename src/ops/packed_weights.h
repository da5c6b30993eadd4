#pragma once
// Packed GEMM weights through the prepare context's packing service (PrepareContext::packed): one call per
// packed operand, so that an engine records what prepare packs and a loaded engine's bytes are used in place.

#include <functional>
#include <string>

#include "kernels/gemm/gemm.h"
#include "kernels/gemv/gemv.h"
#include "ops/op.h"

namespace kiln::ops {

/// The `rows` x `cols` operand `side` in the active GEMM kernel's layout, keyed by `what` (unique among the
/// node's packed constants, e.g. "conv A g0") with the kernel's name and the sizes. `source` gives the logical
/// matrix; it is called only when the bytes must be packed here (not when a loaded engine holds them), so
/// work that only packing needs (a Winograd transform) belongs inside it.
kernels::PackedGemmOperand pack_gemm_weights(PrepareContext& ctx, std::string what, kernels::GemmSide side,
                                             int64_t rows, int64_t cols,
                                             const std::function<kernels::MatrixRef()>& source);

/// W [M, K] row-major packed for kernels::gemv_f32 (kernels::gemv_pack's panels), keyed by `what` like the above:
/// 64-byte aligned (a panel's row is one cache line) and saved in an engine.
PackedBytes pack_gemv_weights(PrepareContext& ctx, std::string what, const float* w, int64_t M, int64_t K);
/// W [N, K] row-major packed for a kernels::GemvSide (kernels::gemv_side_pack's 32-row tiles), keyed alike.
PackedBytes pack_gemv_side_weights(PrepareContext& ctx, std::string what, const float* w, int64_t N, int64_t K);

}  // namespace kiln::ops
