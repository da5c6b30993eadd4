#pragma once
// Winograd F(2x2, 3x3) for 3x3, stride-1, undilated convolutions on NCHW: each 2x2 block of outputs ("tile")
// comes from a 4x4 input patch d and the 3x3 filter g as Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, so the channel sums become
// 16 independent GEMMs ([M x C] · [C x tiles], one per point of the 4x4 transformed tile) with 16 multiplies per
// tile per channel pair instead of 36: 2.25x fewer flops than direct convolution. The weight transform runs once
// (prepare); the input and output transforms here are vectorised across tiles (kernels of winograd_list.h) and
// work on *segments*: up to one GEMM panel width (nr = 2 vectors: 16 tiles with AVX2, 32 with AVX-512) of
// horizontally adjacent tiles of one tile row, written straight into the packed-B panel layout of the GEMM
// micro-kernel, so the 16 products run on the micro-kernel's tiles with no packing step (winograd_points_gemm).
//
// Accuracy (float32, measured against float64 on random data, tests/kernels/winograd_test.cpp): the transforms
// use only additions and halvings with a 4x4 tile, so the error stays within a small multiple of direct
// convolution's (see ops/conv_winograd.cpp for the bound the tactic is chosen under).

#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/gemm/gemm.h"
#include "kernels/isa.h"

namespace kiln::kernels {

inline constexpr int kWinogradPoints = 16;    ///< points of a transformed F(2x2, 3x3) tile (4x4)
inline constexpr int kWinogradF4Points = 36;  ///< points of a transformed F(4x4, 3x3) tile (6x6)

/// One image's sizes. Tiles cover the output in tile x tile blocks (2: F(2x2, 3x3), 4: F(4x4, 3x3); the last row
/// or column of tiles may be partly outside).
struct WinogradShape {
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t pad_top = 0, pad_left = 0;  ///< input row of output row 0 is -pad_top (reads outside the input are 0)
  int64_t tile = 2;
  int64_t tiles_h() const { return (out_h + tile - 1) / tile; }
  int64_t tiles_w() const { return (out_w + tile - 1) / tile; }
};

/// `count` consecutive tiles of one image in row-major tile order, from tile `first` (= row * tiles_w + column; a
/// segment may run over several tile rows), and where their transformed values live: point t of channel c of the
/// segment's tile i at data[t * ldt + c * ldc + lane0 + i]. The tiered kernels write whole vectors of their tier,
/// so lanes after a row's last tile get finite values of no meaning, never at or past ldc: a caller filling one
/// panel (ldc = its width) from several segments passes them in increasing lane0 and the later ones overwrite.
/// The reference writes exactly the segment's lanes. Reads of m (output) may run one vector past the lanes.
struct WinogradSegment {
  int64_t first = 0, count = 0, lane0 = 0;
  int64_t ldc = 0, ldt = 0;
};

/// u[t][m][c] = (G g Gᵀ)[t] for the filters g = w[m][c] (w is [M][C][3][3]); u is 16 x M x C floats.
void winograd_f2k3_weights(const float* w, int64_t M, int64_t C, float* u);

/// F(4x4, 3x3) with the interpolation points 0, 1, -1, 1/2, -2 (and infinity): u[t][m][c] = (G g Gᵀ)[t], t < 36,
/// computed in double and rounded once. These points measured 1.5x less error than Lavin's 0, ±1, ±2 (see
/// ops/conv_winograd.cpp).
void winograd_f4k3_weights(const float* w, int64_t M, int64_t C, float* u);

/// Floats of scratch the input transforms need (any tier, either tile size).
inline constexpr size_t kWinogradInputScratchFloats = 2 * 6 * 4 * 48;

/// Input transform of `channels` input planes (plane c at x + c * in_h * in_w) for one segment into v.
using WinogradInputFn = void (*)(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg,
                                 float* v, float* scratch);

/// Output transform of `channels` output channels from m into y (plane k at y + k * out_h * out_w), only the
/// segment's tiles: y = act(Aᵀ m A + bias[k] + residual), bias and residual (planes like y) may be null.
using WinogradOutputFn = void (*)(const WinogradShape& s, const float* m, int64_t channels,
                                  const WinogradSegment& seg, const float* bias, const float* residual, float* y,
                                  const ActivationParams& act);

/// The plain scalar transforms (the oracle).
void winograd_f2k3_input_ref(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg,
                             float* v, float* scratch);
void winograd_f2k3_output_ref(const WinogradShape& s, const float* m, int64_t channels, const WinogradSegment& seg,
                              const float* bias, const float* residual, float* y, const ActivationParams& act);

/// The same for F(4x4, 3x3) (shape.tile = 4; points t < 36 at data[t * ldt + ...]).
void winograd_f4k3_input_ref(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg,
                             float* v, float* scratch);
void winograd_f4k3_output_ref(const WinogradShape& s, const float* m, int64_t channels, const WinogradSegment& seg,
                              const float* bias, const float* residual, float* y, const ActivationParams& act);

/// The transforms for `tier` (kRef: the reference) and tile size (2 or 4), or null when none is compiled for it.
WinogradInputFn winograd_input_kernel(IsaTier tier, int tile = 2);
WinogradOutputFn winograd_output_kernel(IsaTier tier, int tile = 2);
/// The active tier's name for plan dumps ("winograd_f2k3_avx2", "winograd_f4k3_avx2").
const char* winograd_kernel_name(int tile = 2);

/// The tier whose transforms match the panels of the GEMM kernel `u` was packed for (its panel width nr is the
/// tier's 2 vectors), and that width.
IsaTier winograd_tier_for(const PackedGemmOperand& u);
int64_t winograd_panel_width(const PackedGemmOperand& u);
/// Rows of one row panel of u (the GEMM kernel's mr): a row range of winograd_points_gemm starts at a multiple of it.
int64_t winograd_row_panel(const PackedGemmOperand& u);

/// The point products of `segments` segments: for each point t, m_t = u[t] · v_t, where u[t] is M x C packed as
/// the GEMM's A (all packed for one kernel) and v_t holds segment p's C x nr panel at v + t * ldv + p * C * nr
/// (the input transform's layout with ldc = nr, ldt = ldv); m_t's M x nr block of segment p goes to
/// m + t * ldm + p * M * nr, row-major with ld nr. counts[p] columns of each are valid. Only rows [m0, m1) of each
/// m_t (m0 a multiple of winograd_row_panel(u[0]); the rows computed do not depend on the range). One thread.
void winograd_points_gemm(const PackedGemmOperand* u, int points, int64_t M, int64_t C, const float* v, int64_t ldv,
                          int64_t segments, const int64_t* counts, float* m, int64_t ldm, int64_t m0, int64_t m1);

/// The distance in floats between two points' blocks of `floats` floats (a multiple of 16) in the transforms'
/// buffers: `floats`, plus one 64-byte line when that makes the distance an odd number of lines, so a transform's
/// 16 or 36 strided accesses to one tile fall in different sets of L1 (at 4 KiB apart, as with 64 channels of
/// 16 tiles, they all share one set and miss L1: 8 ways for 36 lines).
inline int64_t winograd_point_stride(int64_t floats) { return floats / 16 % 2 == 0 ? floats + 16 : floats; }

}  // namespace kiln::kernels
