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

size_t winograd_input_scratch_floats(const WinogradShape& s, int64_t rows) {
  // The tiered kernels' zero-padded band: 2 * rows + 2 input rows of 2 * (tiles_w rounded up to 16) + 2 columns,
  // and 32 columns of slack for whole-vector reads.
  const int64_t width = 2 * ((s.tiles_w() + 15) / 16 * 16) + 2 + 32;
  return static_cast<size_t>((2 * rows + 2) * width);
}

void winograd_f2k3_input_ref(const WinogradShape& s, const float* x, int64_t channels, const WinogradBand& band,
                             float* v, float* scratch) {
  const int64_t tw = s.tiles_w();
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = x + c * s.in_h * s.in_w;
    for (int64_t i = 0; i < band.rows; ++i)
      for (int64_t j = 0; j < tw; ++j) {
        float d[4][4];
        for (int r = 0; r < 4; ++r)
          for (int q = 0; q < 4; ++q) {
            const int64_t ih = 2 * (band.tile_row0 + i) + r - s.pad_top, iw = 2 * j + q - s.pad_left;
            d[r][q] = ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w ? plane[ih * s.in_w + iw] : 0.0f;
          }
        for (int a = 0; a < 4; ++a)
          for (int b = 0; b < 4; ++b) {
            float acc = 0;
            for (int r = 0; r < 4; ++r)
              for (int q = 0; q < 4; ++q) acc += kBt[a][r] * kBt[b][q] * d[r][q];
            v[(a * 4 + b) * band.ldt + c * band.ldc + i * tw + j] = acc;
          }
      }
  }
}

void winograd_f2k3_output_ref(const WinogradShape& s, const float* m, int64_t channels, const WinogradBand& band,
                              const float* bias, const float* residual, float* y, const ActivationParams& act) {
  const int64_t tw = s.tiles_w(), plane = s.out_h * s.out_w;
  for (int64_t k = 0; k < channels; ++k) {
    for (int64_t i = 0; i < band.rows; ++i)
      for (int64_t j = 0; j < tw; ++j)
        for (int p = 0; p < 2; ++p)
          for (int q = 0; q < 2; ++q) {
            const int64_t oh = 2 * (band.tile_row0 + i) + p, ow = 2 * j + q;
            if (oh >= s.out_h || ow >= s.out_w) continue;
            float acc = 0;
            for (int a = 0; a < 4; ++a)
              for (int b = 0; b < 4; ++b) acc += kAt[p][a] * kAt[q][b] * m[(a * 4 + b) * band.ldt + k * band.ldc + i * tw + j];
            if (bias) acc += bias[k];
            const int64_t at = k * plane + oh * s.out_w + ow;
            if (residual) acc += residual[at];
            y[at] = acc;
          }
    const int64_t row0 = 2 * band.tile_row0, row1 = std::min(s.out_h, 2 * (band.tile_row0 + band.rows));
    float* out = y + k * plane + row0 * s.out_w;
    apply_activation_f32_ref(act, out, out, (row1 - row0) * s.out_w);
  }
}

}  // namespace kiln::kernels
