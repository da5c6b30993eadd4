#pragma once
// Multiply-add estimates (OpSchema::macs) for the ops whose work grows faster than their inputs and outputs:
// what SessionOptions::max_run_macs counts before each such node runs, so that a model that asks for more work
// than a run may do (a hostile file, or a mistaken export) is stopped before the node starts, with the node named,
// rather than running for minutes: the tensor limits alone do not bound it (a ConvTranspose of a 48x44 image by
// a 96x62x3 filter has a 2 MB output and 38 million multiply-adds).
//
// Ops without an estimate are bounded by the tensor limits only; give one the same way (`.with_macs(fn)`) when
// the fuzzer finds it slow (RoiAlign was: sampling_ratio 67 made 100 M samples of a 2 MB output).
//
// Each estimate reads only dims and attributes, never elements, and is saturating: absent or malformed inputs
// give 0 (the kernel then refuses them with its own message), products past int64 give INT64_MAX.

#include <cstdint>

#include "ops/op.h"

namespace kiln::ops::macs {

/// A convolution whose filter is input W ([M, C/group, k...]: Conv, FusedConv, ConvInteger, DeformConv; W = 3 for
/// QLinearConv): every output element sums over one filter, output elements x (W's elements / M).
template <size_t W> int64_t conv(const KernelContext& ctx);
/// ConvTranspose (W [C, M/group, k...]): every input element is spread over one filter slice, X's elements x
/// (W's elements / C).
int64_t conv_transpose(const KernelContext& ctx);
/// A matrix product with A as input 0 (MatMul, FusedMatMul, MatMulInteger, QLinearMatMul): output elements x K.
int64_t matmul(const KernelContext& ctx);
/// Gemm: output elements x K (A's dim 0 when transA, else dim 1).
int64_t gemm(const KernelContext& ctx);
/// MaxPool, AveragePool, LpPool: output elements x the window's size.
int64_t pool(const KernelContext& ctx);
/// RNN, GRU, LSTM: every step of every sequence multiplies by W and R: (X's elements / input size) x (W's + R's
/// elements).
int64_t recurrent(const KernelContext& ctx);
/// RoiAlign: every output element averages a sampling_ratio x sampling_ratio grid of bilinear samples (4 taps
/// each); with sampling_ratio 0 the grid adapts to each ROI's size (data), bounded here by the whole image's.
int64_t roi_align(const KernelContext& ctx);
/// Attention over Q [..., S, D] and K [..., T, D] (ScaledDotProductAttention, also with seq_first; Attention):
/// Q's elements x T, twice (the scores, then the weighted sum of V).
int64_t attention(const KernelContext& ctx);

}  // namespace kiln::ops::macs
