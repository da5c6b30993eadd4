#pragma once
// Fast paths (OpSchema::prepare) of MatMul, Gemm and ai.kiln.FusedMatMul on kernels::gemm_f32, float32 only:
// a constant operand (the weights) packed once per session, numpy batch broadcasting as one strided batched
// GEMM call where the layout allows (attention heads), Gemm's alpha/beta/C and FusedMatMul's bias, residual
// and activation in the GEMM's epilogue. Each returns nullptr for other dtypes (the reference runs them); at
// run time a shape the prepared kernel does not cover goes to the op's reference compute, which also reports
// every malformed input.

#include <memory>

#include "ops/op.h"

namespace kiln::ops {

std::unique_ptr<PreparedKernel> prepare_matmul(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_gemm(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_fused_matmul(PrepareContext& ctx);

}  // namespace kiln::ops
