#pragma once
// The Winograd F(2x2, 3x3) tactic of the prepared Conv (kernels/winograd): for 3x3, stride-1, undilated,
// ungrouped 2-D convolutions, 2.25x fewer multiplies than the implicit GEMM.

#include <cstddef>
#include <vector>

#include "kernels/activation.h"
#include "kernels/gemm/gemm.h"
#include "kernels/thread_pool.h"
#include "kernels/winograd/winograd.h"
#include "ops/conv_implicit_gemm.h"

namespace kiln::ops {

class WinogradConv {
 public:
  /// Transforms and packs w [M][C][3][3] (16 GEMM A operands of M x C).
  WinogradConv(const float* w, int64_t M, int64_t C);
  /// False when no transform kernels match the GEMM kernel the weights were packed for (then do not use it).
  bool usable() const { return input_ && output_; }
  /// y = act(conv(x) + bias + residual) for the sizes d (3x3, stride 1, dilation 1, group 1; any padding).
  void run(const ConvDims& d, const float* x, const float* bias, const float* residual, float* y,
           const kernels::ActivationParams& act, kernels::ThreadPool* pool) const;
  size_t bytes() const;

 private:
  int64_t M_, C_;
  std::vector<kernels::PackedGemmOperand> u_;  // one per transformed point
  int64_t nr_ = 0;                             // the GEMM kernel's panel width: tiles per segment
  kernels::WinogradInputFn input_ = nullptr;
  kernels::WinogradOutputFn output_ = nullptr;
};

}  // namespace kiln::ops
