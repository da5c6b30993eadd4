#pragma once
// The Winograd tactic of the prepared Conv (kernels/winograd): for 3x3, stride-1, undilated, ungrouped 2-D
// convolutions, F(2x2, 3x3) with 2.25x fewer multiplies than the implicit GEMM, or F(4x4, 3x3) with 4x fewer.

#include <cstddef>
#include <vector>

#include "kernels/activation.h"
#include "kernels/gemm/gemm.h"
#include "kernels/thread_pool.h"
#include "kernels/winograd/winograd.h"
#include "ops/conv_implicit_gemm.h"
#include "ops/op.h"

namespace kiln::ops {

/// The tile size the tactic uses for a layer of M x C 3x3 filters on images of height x width (-1: not known at
/// prepare): 4 (F(4x4, 3x3)) where its error is measured within bounds and it is faster, else 2.
int winograd_tile(int64_t M, int64_t C, int64_t height, int64_t width);
/// Whether F(4x4, 3x3)'s error is within bounds for M x C filters (its error grows with the channels): the limit
/// that stays when `kiln build` times the tiles instead of following winograd_tile's speed rule.
bool winograd_f4_accurate(int64_t M, int64_t C);

class WinogradConv {
 public:
  /// Transforms and packs w [M][C][3][3] for tile 2 (F(2x2, 3x3): 16 GEMM A operands of M x C) or tile 4
  /// 36 of them), through ctx's packing service (a loaded engine's bytes when it holds them: no transform then).
  WinogradConv(PrepareContext& ctx, const float* w, int64_t M, int64_t C, int tile);
  int tile() const { return tile_; }
  /// False when no transform kernels match the GEMM kernel the weights were packed for (then do not use it).
  bool usable() const { return input_ && output_; }
  /// y = act(conv(x) + bias + residual) for the sizes d (3x3, stride 1, dilation 1, group 1; any padding); y's
  /// images y_image floats apart (M x output positions: packed; more inside an in-place Concat at batch > 1).
  void run(const ConvDims& d, const float* x, const float* bias, const float* residual, float* y, int64_t y_image,
           const kernels::ActivationParams& act, kernels::ThreadPool* pool) const;
  size_t bytes() const;

 private:
  int64_t M_, C_;
  int tile_;
  std::vector<kernels::PackedGemmOperand> u_;  // one per transformed point
  int64_t nr_ = 0;                             // the GEMM kernel's panel width: tiles per segment
  kernels::WinogradInputFn input_ = nullptr;
  kernels::WinogradOutputFn output_ = nullptr;
};

}  // namespace kiln::ops
