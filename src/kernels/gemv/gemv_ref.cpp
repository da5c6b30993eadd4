// The plain matrix-vector product: the oracle the tiered kernels are tested against.

#include "kernels/gemv/gemv.h"

#include <algorithm>
#include <cmath>

namespace kiln::kernels {

void gemv_f32_ref(const GemvArgs& g, int64_t m_begin, int64_t m_end) {
  for (int64_t m = m_begin; m < m_end; ++m) {
    float acc = 0.0f;
    const int64_t row = (m / kGemvPanel * g.K) * kGemvPanel + m % kGemvPanel;  // W[m][0]; no W when K == 0
    for (int64_t k = 0; k < g.K; ++k) acc += g.wp[row + k * kGemvPanel] * g.x[k];
    if (g.bias) acc += g.bias[m];
    if (g.residual) acc += g.residual[m];
    g.y[m] = acc;
  }
  apply_activation_f32_ref(g.act, g.y + m_begin, g.y + m_begin, m_end - m_begin);
}

void gemv_side_f32_ref(const GemvArgs& g, int64_t m_begin, int64_t m_end, const GemvSide& side) {
  gemv_f32_ref(g, m_begin, m_end);
  const int64_t n_end = std::min(side.N, side.unit_end * kGemvSideUnit);
  for (int64_t n = side.unit_begin * kGemvSideUnit; n < n_end; ++n) {
    const int64_t col = (n / kGemvSideCols * side.K) * kGemvSideCols + n % kGemvSideCols;  // W[n][0]
    for (int64_t r = 0; r < kGemvSideRows; ++r) {
      float acc = 0.0f;
      for (int64_t k = 0; k < side.K; ++k) acc = std::fma(side.x[r][k], side.wp[col + k * kGemvSideCols], acc);
      side.y[r][n] = side.bias ? acc + side.bias[n] : acc;
    }
  }
}

void gemv_batch_f32_ref(const GemvArgs& g, int64_t m_begin, int64_t m_end, int64_t batch, int64_t ldx, int64_t ldy) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t m = m_begin; m < m_end; ++m) {
      float acc = 0.0f;
      const int64_t row = (m / kGemvPanel * g.K) * kGemvPanel + m % kGemvPanel;  // W[m][0]
      for (int64_t k = 0; k < g.K; ++k) acc = std::fma(g.wp[row + k * kGemvPanel], g.x[b * ldx + k], acc);
      g.y[b * ldy + m] = g.bias ? acc + g.bias[m] : acc;
    }
}

}  // namespace kiln::kernels
