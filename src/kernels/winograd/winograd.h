#pragma once
// Winograd F(2x2, 3x3) for 3x3, stride-1, undilated convolutions on NCHW: each 2x2 block of outputs ("tile")
// comes from a 4x4 input patch d and the 3x3 filter g as Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, so the channel sums become
// 16 independent GEMMs ([M x C] · [C x tiles], one per point of the 4x4 transformed tile) with 16 multiplies per
// tile per channel pair instead of 36: 2.25x fewer flops than direct convolution. The weight transform runs once
// (prepare); the input and output transforms here are vectorised across tiles (kernels of winograd_list.h), and
// the GEMMs are gemm_f32's.
//
// Accuracy (float32, measured against float64 on random data, tests/kernels/winograd_test.cpp): the transforms
// use only additions and halvings with a 4x4 tile, so the error stays within a small multiple of direct
// convolution's (see conv_winograd.cpp for the bound the tactic is chosen under).

#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/isa.h"

namespace kiln::kernels {

inline constexpr int kWinogradPoints = 16;  ///< points of a transformed 4x4 tile

/// One image's sizes. Tiles cover the output in 2x2 blocks (the last row or column of tiles may be half outside).
struct WinogradShape {
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t pad_top = 0, pad_left = 0;  ///< input row of output row 0 is -pad_top (reads outside the input are 0)
  int64_t tiles_h() const { return (out_h + 1) / 2; }
  int64_t tiles_w() const { return (out_w + 1) / 2; }
};

/// u[t][m][c] = (G g Gᵀ)[t] for the filters g = w[m][c] (w is [M][C][3][3]); u is 16 x M x C floats.
void winograd_f2k3_weights(const float* w, int64_t M, int64_t C, float* u);

/// Where transformed tiles of tile rows [tile_row0, tile_row0 + rows) live: point t of channel c of band tile i
/// (i = tile row within the band * tiles_w + tile column) at data[t * ldt + c * ldc + i]. ldc must leave room
/// for a whole vector past the band's tiles (ldc >= rows * tiles_w + 16).
struct WinogradBand {
  int64_t tile_row0 = 0, rows = 0;
  int64_t ldc = 0, ldt = 0;
};

/// Input transform of `channels` input planes (plane c at x + c * in_h * in_w) into v. `scratch` holds
/// winograd_input_scratch_floats(shape, rows) floats.
using WinogradInputFn = void (*)(const WinogradShape& s, const float* x, int64_t channels, const WinogradBand& band,
                                 float* v, float* scratch);
size_t winograd_input_scratch_floats(const WinogradShape& s, int64_t rows);

/// Output transform of `channels` output channels from m into y (plane k at y + k * out_h * out_w):
/// y = act(Aᵀ m A + bias[k] + residual), bias and residual (planes like y) may be null.
using WinogradOutputFn = void (*)(const WinogradShape& s, const float* m, int64_t channels, const WinogradBand& band,
                                  const float* bias, const float* residual, float* y, const ActivationParams& act);

/// The plain scalar transforms (the oracle).
void winograd_f2k3_input_ref(const WinogradShape& s, const float* x, int64_t channels, const WinogradBand& band,
                             float* v, float* scratch);
void winograd_f2k3_output_ref(const WinogradShape& s, const float* m, int64_t channels, const WinogradBand& band,
                              const float* bias, const float* residual, float* y, const ActivationParams& act);

/// The transforms for `tier` (kRef: the reference), or null when none is compiled for it.
WinogradInputFn winograd_input_kernel(IsaTier tier);
WinogradOutputFn winograd_output_kernel(IsaTier tier);
/// The active tier's name for plan dumps ("winograd_f2k3_avx2").
const char* winograd_kernel_name();

}  // namespace kiln::kernels
