// A plain, correct implementation of gemm.h so the prepared kernels can be built and tested before the
// register-blocked micro-kernels land. TEMPORARY: replaced by the packed, per-ISA kernels of gemm_list.h.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/gemm/gemm.h"

namespace kiln::kernels {

namespace {

float at(const MatrixRef& m, int64_t r, int64_t c) { return m.trans ? m.data[c * m.ld + r] : m.data[r * m.ld + c]; }

}  // namespace

PackedGemmOperand pack_gemm_operand(GemmSide side, MatrixRef m, int64_t rows, int64_t cols) {
  PackedGemmOperand p;
  p.side_ = side;
  p.rows_ = rows;
  p.cols_ = cols;
  p.kernel_ = 0;
  p.bytes_ = static_cast<size_t>(std::max<int64_t>(rows * cols, 1)) * sizeof(float);
  p.data_ = std::shared_ptr<float>(static_cast<float*>(std::malloc(p.bytes_)), std::free);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) p.data_.get()[r * cols + c] = at(m, r, c);
  return p;
}

void gemm_f32(const GemmArgs& g, ThreadPool* pool) {
  std::vector<float> source;
  if (g.b_source) {
    source.resize(static_cast<size_t>(g.K * g.N));
    g.b_source->fill(g.b_source->ctx, 0, g.K, 0, g.N, source.data(), g.N);
  }
  parallel_for(pool, static_cast<size_t>(g.batch), [&](size_t bi) {
    const int64_t b = static_cast<int64_t>(bi);
    MatrixRef a = g.packed_a ? MatrixRef{g.packed_a->data(), g.K, false} : g.a;
    MatrixRef bm = g.packed_b ? MatrixRef{g.packed_b->data(), g.N, false} : g.b;
    if (g.b_source) bm = MatrixRef{source.data(), g.N, false};
    if (!g.packed_a) a.data += b * g.stride_a;
    if (!g.packed_b && !g.b_source) bm.data += b * g.stride_b;
    float* c = g.c + b * g.stride_c;
    const float* res = g.epilogue.residual ? g.epilogue.residual + b * g.stride_residual : nullptr;
    for (int64_t i = 0; i < g.M; ++i) {
      float* row = c + i * g.ldc;
      for (int64_t j = 0; j < g.N; ++j) {
        float acc = 0.0f;
        for (int64_t k = 0; k < g.K; ++k) acc += at(a, i, k) * at(bm, k, j);
        float v = g.epilogue.alpha * acc;
        if (g.epilogue.bias)
          v += g.epilogue.bias_axis == GemmEpilogue::BiasAxis::kPerRow ? g.epilogue.bias[i] : g.epilogue.bias[j];
        if (res) v += g.epilogue.beta * res[i * g.epilogue.ldr + j];
        row[j] = v;
      }
      apply_activation_f32(g.epilogue.activation, row, row, g.N);
    }
  });
}

const char* gemm_kernel_name() { return "gemm_f32_portable"; }

}  // namespace kiln::kernels
