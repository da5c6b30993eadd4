// The plain Winograd F(2x2, 3x3) transforms (the oracle of the tiered ones) and the weight transform.

#include <algorithm>
#include <vector>

#include "kernels/winograd/winograd.h"

namespace kiln::kernels {

namespace {

// Lavin & Gray's F(2, 3) matrices: y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A computes the correlation of d with g.
constexpr float kBt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
constexpr float kG[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
constexpr float kAt[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

}  // namespace

void winograd_f2k3_weights(const float* w, int64_t M, int64_t C, float* u) {
  // Per output channel m, the 9 taps of all C filters laid out tap-major, so every step below is a loop over c
  // that reads and writes contiguous memory (the compiler vectorises it): the filter-by-filter form wrote 16
  // scattered planes and took half of ResNet-18's session creation.
  std::vector<float> taps(static_cast<size_t>(9 * C)), gg(static_cast<size_t>(12 * C));
  for (int64_t m = 0; m < M; ++m) {
    const float* wm = w + m * C * 9;
    for (int64_t c = 0; c < C; ++c)
      for (int k = 0; k < 9; ++k) taps[static_cast<size_t>(k * C + c)] = wm[c * 9 + k];
    // gg[a][j] = sum_i G[a][i] g[i][j]   (G g, 4 x 3)
    for (int a = 0; a < 4; ++a)
      for (int j = 0; j < 3; ++j) {
        float* out = gg.data() + (a * 3 + j) * C;
        const float* g0 = taps.data() + (0 * 3 + j) * C;
        const float* g1 = taps.data() + (1 * 3 + j) * C;
        const float* g2 = taps.data() + (2 * 3 + j) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = kG[a][0] * g0[c] + kG[a][1] * g1[c] + kG[a][2] * g2[c];
      }
    // u[a][b] = sum_j gg[a][j] G[b][j]   ((G g) Gᵀ, 4 x 4), stored as 16 planes of [M, C]
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b) {
        float* out = u + ((a * 4 + b) * M + m) * C;
        const float* r0 = gg.data() + (a * 3 + 0) * C;
        const float* r1 = gg.data() + (a * 3 + 1) * C;
        const float* r2 = gg.data() + (a * 3 + 2) * C;
        for (int64_t c = 0; c < C; ++c) out[c] = r0[c] * kG[b][0] + r1[c] * kG[b][1] + r2[c] * kG[b][2];
      }
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
