// The plain Winograd F(4x4, 3x3) transforms (the oracle of the tiered ones) and its weight transform.

#include <algorithm>
#include <vector>

#include "kernels/winograd/winograd.h"
#include "kernels/winograd/winograd_f4_matrices.h"

namespace kiln::kernels {

void winograd_f4k3_weights(const float* w, int64_t M, int64_t C, float* u) {
  // As winograd_f2k3_weights: per output channel, the C filters tap-major, so every step is a loop over c on
  // contiguous memory (in double, rounded once at the end).
  std::vector<double> taps(static_cast<size_t>(9 * C)), gg(static_cast<size_t>(18 * C));
  for (int64_t m = 0; m < M; ++m) {
    const float* wm = w + m * C * 9;
    for (int64_t c = 0; c < C; ++c)
      for (int k = 0; k < 9; ++k) taps[static_cast<size_t>(k * C + c)] = wm[c * 9 + k];
    // gg[a][j] = sum_i G[a][i] g[i][j]   (G g, 6 x 3)
    for (int a = 0; a < 6; ++a)
      for (int j = 0; j < 3; ++j) {
        double* out = gg.data() + (a * 3 + j) * C;
        const double* g0 = taps.data() + (0 * 3 + j) * C;
        const double* g1 = taps.data() + (1 * 3 + j) * C;
        const double* g2 = taps.data() + (2 * 3 + j) * C;
        for (int64_t c = 0; c < C; ++c)
          out[c] = winograd_f4::kG[a][0] * g0[c] + winograd_f4::kG[a][1] * g1[c] + winograd_f4::kG[a][2] * g2[c];
      }
    // u[a][b] = sum_j gg[a][j] G[b][j]   ((G g) Gᵀ, 6 x 6), stored as 36 planes of [M, C]
    for (int a = 0; a < 6; ++a)
      for (int b = 0; b < 6; ++b) {
        float* out = u + ((a * 6 + b) * M + m) * C;
        const double* r0 = gg.data() + (a * 3 + 0) * C;
        const double* r1 = gg.data() + (a * 3 + 1) * C;
        const double* r2 = gg.data() + (a * 3 + 2) * C;
        for (int64_t c = 0; c < C; ++c)
          out[c] = static_cast<float>(r0[c] * winograd_f4::kG[b][0] + r1[c] * winograd_f4::kG[b][1] +
                                      r2[c] * winograd_f4::kG[b][2]);
      }
  }
}

void winograd_f4k3_input_ref(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg,
                             float* v, float* /*scratch*/) {
  const int64_t tw = s.tiles_w();
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = x + c * s.in_h * s.in_w;
    for (int64_t i = 0; i < seg.count; ++i) {
      const int64_t row = (seg.first + i) / tw, col = (seg.first + i) % tw;
      float d[6][6], t[6][6];
      for (int r = 0; r < 6; ++r)
        for (int q = 0; q < 6; ++q) {
          const int64_t ih = 4 * row + r - s.pad_top, iw = 4 * col + q - s.pad_left;
          d[r][q] = ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w ? plane[ih * s.in_w + iw] : 0.0f;
        }
      for (int a = 0; a < 6; ++a)  // Bᵀ d, in the order the tiered kernels sum
        for (int q = 0; q < 6; ++q) {
          float acc = 0;
          for (int r = 0; r < 6; ++r) acc += winograd_f4::kBt[a][r] * d[r][q];
          t[a][q] = acc;
        }
      for (int a = 0; a < 6; ++a)
        for (int b = 0; b < 6; ++b) {
          float acc = 0;
          for (int q = 0; q < 6; ++q) acc += winograd_f4::kBt[b][q] * t[a][q];
          v[(a * 6 + b) * seg.ldt + c * seg.ldc + seg.lane0 + i] = acc;
        }
    }
  }
}

void winograd_f4k3_output_ref(const WinogradShape& s, const float* m, int64_t channels, const WinogradSegment& seg,
                              const float* bias, const float* residual, float* y, const ActivationParams& act) {
  const int64_t plane = s.out_h * s.out_w, tw = s.tiles_w();
  for (int64_t k = 0; k < channels; ++k)
    for (int64_t i = 0; i < seg.count; ++i) {
      const int64_t row = (seg.first + i) / tw, col = (seg.first + i) % tw;
      float p[6][6], t[4][6];
      for (int a = 0; a < 36; ++a) p[a / 6][a % 6] = m[a * seg.ldt + k * seg.ldc + seg.lane0 + i];
      for (int r = 0; r < 4; ++r)
        for (int q = 0; q < 6; ++q) {
          float acc = 0;
          for (int a = 0; a < 6; ++a) acc += winograd_f4::kAt[r][a] * p[a][q];
          t[r][q] = acc;
        }
      for (int r = 0; r < 4; ++r)
        for (int q = 0; q < 4; ++q) {
          const int64_t oh = 4 * row + r, ow = 4 * col + q;
          if (oh >= s.out_h || ow >= s.out_w) continue;
          float acc = 0;
          for (int b = 0; b < 6; ++b) acc += winograd_f4::kAt[q][b] * t[r][b];
          if (bias) acc += bias[k];
          const int64_t at = k * plane + oh * s.out_w + ow;
          if (residual) acc += residual[at];
          apply_activation_f32_ref(act, &acc, &y[at], 1);
        }
    }
}

}  // namespace kiln::kernels
