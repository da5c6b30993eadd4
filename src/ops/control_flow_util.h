#pragma once
// Helpers the control-flow ops (If, Loop, Scan) share: the types a body graph declares for its outputs,
// merging two possible types into one that covers both, checking a body's result against what it declared,
// and cutting / stacking tensors along an axis (scan inputs and outputs).

#include <cstdint>
#include <vector>

#include "ops/op.h"

namespace kiln::ops::control_flow {

/// What a graph declares for one of its inputs or outputs; dtype undefined and unknown rank when nothing.
/// For a container (sequence or optional), dtype and shape describe the tensors inside it.
struct Declared {
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
  TensorKind kind = TensorKind::kTensor;
  TensorKind holds = TensorKind::kTensor;
  bool declared = false;  ///< the graph declares a type kiln runs

  /// As a ValueInfo (kind, element type, shape).
  ValueInfo info() const;
};

/// The declared type of `g`'s output i (tensor, sequence or optional).
Declared declared_output(const ir::Graph& g, size_t i);

/// The shape that covers both: equal dims stay, others become unknown; different ranks give unknown rank.
Shape merge_shapes(const Shape& a, const Shape& b);

/// One dtype for two sources that must agree (undefined matches anything). Fails naming `what` on a conflict.
DType merge_dtypes(const NodeContext& ctx, DType a, DType b, const std::string& what);

/// Fails when `t` contradicts the type `g` declares for its output i (kind, dtype, rank or a numeric dim; for a
/// container, its kind and element type).
void check_against_declared(const NodeContext& ctx, const Tensor& t, const ir::Graph& g, size_t i,
                            const std::string& what);

/// The sub-tensor of `t` at `index` along `axis` (rank one less), copied.
Tensor slice_along(const Tensor& t, int64_t axis, int64_t index);

/// Stacks `parts` (all of dtype and dims `elem_dims`) along a new axis `axis`: part k goes to position k,
/// or to position n-1-k when `reverse` (Scan's prepending outputs). Writes into `out`, which must already have
/// the stacked dims.
void stack_into(const std::vector<Tensor>& parts, int64_t axis, bool reverse, Tensor& out);

/// Dims of `elem_dims` with `n` inserted at `axis`.
std::vector<int64_t> insert_dim(const std::vector<int64_t>& elem_dims, int64_t axis, int64_t n);

/// Scan-8 (batched, with sequence_lens): inference and kernel, in scan8.cpp; Scan dispatches there below
/// opset 9.
void infer_scan8(InferContext& ctx);
void compute_scan8(KernelContext& ctx);

}  // namespace kiln::ops::control_flow
