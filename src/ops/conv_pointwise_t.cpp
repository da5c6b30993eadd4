#include "ops/conv_pointwise_t.h"

#include "kernels/copy/strided_copy.h"
#include "kernels/thread_scratch.h"

namespace kiln::ops {

PointwiseTransposed::PointwiseTransposed(const float* w, int64_t M, int64_t C)
    : M_(M), C_(C), packed_(kernels::pack_gemm_operand(kernels::GemmSide::kB, {w, C, true}, C, M)) {}

void PointwiseTransposed::run(const float* x, const float* bias, float* y, int64_t batch, int64_t positions,
                              const kernels::ActivationParams& act, kernels::ThreadPool* pool) const {
  // Y^T of one image, on the calling thread's scratch (neither the GEMM nor the copy uses that scratch).
  float* yt = kernels::thread_scratch_floats(static_cast<size_t>(positions * M_));
  for (int64_t n = 0; n < batch; ++n) {
    kernels::GemmArgs g;
    g.M = positions, g.N = M_, g.K = C_;
    g.a = {x + n * C_ * positions, positions, true};  // X^T: element (p, c) at x[c * positions + p]
    g.packed_b = &packed_;
    g.c = yt, g.ldc = M_;
    g.epilogue.bias = bias;
    g.epilogue.bias_axis = kernels::GemmEpilogue::BiasAxis::kPerColumn;
    g.epilogue.activation = act;
    kernels::gemm_f32(g, pool);
    // y[m][p] = yt[p][m]: the copy engine's transpose tiles.
    const int64_t dims[2] = {M_, positions}, dst_strides[2] = {positions, 1}, src_strides[2] = {1, M_};
    kernels::strided_copy({y + n * M_ * positions, dst_strides}, {yt, src_strides}, dims, 2, sizeof(float), pool);
  }
}

}  // namespace kiln::ops
