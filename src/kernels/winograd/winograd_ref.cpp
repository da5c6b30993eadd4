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
