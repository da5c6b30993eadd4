#include "ops/packed_weights.h"

namespace kiln::ops {

kernels::PackedGemmOperand pack_gemm_weights(PrepareContext& ctx, std::string what, kernels::GemmSide side,
                                             int64_t rows, int64_t cols,
                                             const std::function<kernels::MatrixRef()>& source) {
  const size_t bytes = kernels::gemm_packed_bytes(side, rows, cols);
  PackedKey key{std::move(what), kernels::gemm_kernel_name(), {side == kernels::GemmSide::kA ? 0 : 1, rows, cols}};
  PackedBytes b = ctx.packed(key, bytes, [&](void* dst, size_t) {
    kernels::pack_gemm_operand_into(side, source(), rows, cols, static_cast<float*>(dst));
  });
  return kernels::gemm_operand_view(side, rows, cols, static_cast<const float*>(b.data), b.size, std::move(b.owner));
}

PackedBytes pack_gemv_weights(PrepareContext& ctx, std::string what, const float* w, int64_t M, int64_t K) {
  const size_t bytes = kernels::gemv_packed_floats(M, K) * sizeof(float);
  return ctx.packed({std::move(what), "gemv", {M, K}}, bytes,
                    [&](void* dst, size_t) { kernels::gemv_pack(w, M, K, static_cast<float*>(dst)); });
}

PackedBytes pack_gemv_side_weights(PrepareContext& ctx, std::string what, const float* w, int64_t N, int64_t K) {
  const size_t bytes = kernels::gemv_side_packed_floats(N, K) * sizeof(float);
  return ctx.packed({std::move(what), "gemv side", {N, K}}, bytes,
                    [&](void* dst, size_t) { kernels::gemv_side_pack(w, N, K, static_cast<float*>(dst)); });
}

}  // namespace kiln::ops
