// The plain Winograd F(2x2, 3x3) transforms (the oracle of the tiered ones) and the weight transform.

#include <algorithm>

#include "kernels/winograd/winograd.h"

namespace kiln::kernels {

namespace {

// Lavin & Gray's F(2, 3) matrices: y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A computes the correlation of d with g.
constexpr float kBt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
constexpr float kG[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
constexpr float kAt[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

}  // namespace

void winograd_f2k3_weights(const float* w, int64_t M, int64_t C, float* u) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (m * C + c) * 9;
      float gg[4][3];  // G g
      for (int a = 0; a < 4; ++a)
        for (int j = 0; j < 3; ++j) gg[a][j] = kG[a][0] * g[j] + kG[a][1] * g[3 + j] + kG[a][2] * g[6 + j];
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b)
          u[((a * 4 + b) * M + m) * C + c] = gg[a][0] * kG[b][0] + gg[a][1] * kG[b][1] + gg[a][2] * kG[b][2];
    }
}

void winograd_f2k3_input_ref(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg,
                             float* v, float* /*scratch*/) {
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = x + c * s.in_h * s.in_w;
    for (int64_t i = 0; i < seg.count; ++i) {
      const int64_t row = (seg.first + i) / s.tiles_w(), col = (seg.first + i) % s.tiles_w();
      float d[4][4];
      for (int r = 0; r < 4; ++r)
        for (int q = 0; q < 4; ++q) {
          const int64_t ih = 2 * row + r - s.pad_top, iw = 2 * col + q - s.pad_left;
          d[r][q] = ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w ? plane[ih * s.in_w + iw] : 0.0f;
        }
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) {
          float acc = 0;
          for (int r = 0; r < 4; ++r)
            for (int q = 0; q < 4; ++q) acc += kBt[a][r] * kBt[b][q] * d[r][q];
          v[(a * 4 + b) * seg.ldt + c * seg.ldc + seg.lane0 + i] = acc;
        }
    }
  }
}

void winograd_f2k3_output_ref(const WinogradShape& s, const float* m, int64_t channels, const WinogradSegment& seg,
                              const float* bias, const float* residual, float* y, const ActivationParams& act) {
  const int64_t plane = s.out_h * s.out_w;
  for (int64_t k = 0; k < channels; ++k)
    for (int64_t i = 0; i < seg.count; ++i)
      for (int p = 0; p < 2; ++p)
        for (int q = 0; q < 2; ++q) {
          const int64_t oh = 2 * ((seg.first + i) / s.tiles_w()) + p, ow = 2 * ((seg.first + i) % s.tiles_w()) + q;
          if (oh >= s.out_h || ow >= s.out_w) continue;
          float acc = 0;
          for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) acc += kAt[p][a] * kAt[q][b] * m[(a * 4 + b) * seg.ldt + k * seg.ldc + seg.lane0 + i];
          if (bias) acc += bias[k];
          const int64_t at = k * plane + oh * s.out_w + ow;
          if (residual) acc += residual[at];
          apply_activation_f32_ref(act, &acc, &y[at], 1);
        }
}

}  // namespace kiln::kernels
