#pragma once
// A 1x1 stride-1 convolution on small planes run transposed: Y^T [positions, M] = X^T [positions, C] · W^T, then
// Y^T copied into NCHW. The plain GEMM takes the positions as its N, in 16-column panels: a 7x7 plane (49
// positions) fills 49 of 64 columns; as M, in 6-row tiles, 49 of 54. Measured on Zen 2 AVX2, one thread
// (benchmarks/gemm_bench.cpp "mobile_t"): 7-16% faster on MobileNet's 7x7 layers, the copy included.

#include <cstdint>
#include <memory>

#include "kernels/activation.h"
#include "kernels/gemm/gemm.h"

namespace kiln::ops {

class PointwiseTransposed {
 public:
  /// Positions (the plane's size) for which the transposed form is chosen: fewer than 128, not a multiple of 16.
  static bool worth_it(int64_t positions) { return positions > 0 && positions < 128 && positions % 16 != 0; }

  /// w: [M, C] (one group), packed here as the GEMM's B operand (C x M).
  PointwiseTransposed(const float* w, int64_t M, int64_t C);

  /// y [batch, M, positions] = act(conv(x) + bias) for x [batch, C, positions] (no residual).
  void run(const float* x, const float* bias, float* y, int64_t batch, int64_t positions,
           const kernels::ActivationParams& act, kernels::ThreadPool* pool) const;

  size_t bytes() const { return packed_.bytes(); }

 private:
  int64_t M_, C_;
  kernels::PackedGemmOperand packed_;
};

}  // namespace kiln::ops
