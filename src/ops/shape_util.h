#pragma once
// Shape helpers every op family uses: axis normalisation, multidirectional broadcasting (with symbols),
// strides. One place, so each rule is written once.

#include <cstdint>
#include <span>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

/// Maps a possibly negative axis into [0, rank); fails naming the node when out of range.
int64_t normalize_axis(const NodeContext& ctx, int64_t axis, int64_t rank);

/// ONNX multidirectional (numpy) broadcasting of any number of shapes. Symbols survive when they agree or
/// meet a 1; a symbol against a number > 1 takes the number. Fails naming the node on a mismatch.
Shape broadcast_shapes(const NodeContext& ctx, std::span<const Shape> shapes);
/// Concrete broadcasting of dims.
std::vector<int64_t> broadcast_dims(const NodeContext& ctx, std::span<const std::vector<int64_t>> dims);

/// Row-major strides of dims (in elements).
std::vector<int64_t> strides_of(const std::vector<int64_t>& dims);

/// Strides for reading a tensor of `dims` as if broadcast to `out_dims` (0 stride on broadcast axes).
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& dims, const std::vector<int64_t>& out_dims);

/// Inference for ops whose single output has input 0's type and shape (Relu, Sigmoid, Dropout, ...).
void infer_same_as_input(InferContext& ctx);

/// Symbolic dim arithmetic for inference: a result is a number only when every part is one (a symbol times
/// a number is no longer that symbol), except that adding a known 0 keeps the other dim as it is.
/// dim_at(s, i) is dim i of s, or unknown when the rank is unknown or too small.
Dim dim_at(const Shape& s, size_t i);
Dim dim_mul(const Dim& a, int64_t b);  ///< checked
Dim dim_div(const Dim& a, int64_t b);  ///< unknown unless b > 0
Dim dim_add(const Dim& a, const Dim& b);

/// Inference-time check of one dim against what another input implies: when both are numbers and differ,
/// fails (bad_input) with "<input> dim <axis> is <got>, but it must be <expected> = <want>".
void expect_dim(const NodeContext& ctx, const Dim& got, const Dim& want, const char* input, int axis,
                const char* expected);

/// Product of dims[begin, end).
int64_t product(const std::vector<int64_t>& dims, size_t begin, size_t end);

}  // namespace kiln::ops
