#pragma once
// Value propagation during inference. PyTorch exports compute Reshape/Expand/Slice targets at run time with
// Shape -> Gather -> Unsqueeze -> Concat chains; to keep `batch` a symbol through them, inference tracks the
// content of small integer tensors element by element (SymbolicInt: number, symbol or unknown) and folds
// ops whose inputs are all known and small.

#include <cstdint>
#include <optional>
#include <vector>

#include "ops/op.h"

namespace kiln::ops {

/// Largest element count of an input or output for which inference computes content itself: shape
/// arithmetic is small, data is not.
inline constexpr int64_t kMaxFoldElements = 1024;

/// The largest rank inference builds from a list's length alone (a Reshape target known only as [n]).
inline constexpr int64_t kMaxRank = 1024;

/// For a 1-D list input whose values are unknown: a shape of that many unknown dims when its length is known
/// (and at most kMaxRank), else unknown rank.
Shape unknown_dims_for_list(const Shape& list_shape);

SymbolicInt sym_number(int64_t v);
SymbolicInt sym_unknown();
/// The element a dim stands for: its size, its symbol, or unknown.
SymbolicInt sym_from_dim(const Dim& d);
/// The dim an element gives as a size: a number >= 0, a symbol, else unknown (negative numbers included).
Dim dim_from_sym(const SymbolicInt& e);

/// The content of input i element by element when it is an integer tensor of rank <= 1 with at most
/// kMaxFoldElements elements, known exactly (value) or partly (partial); nullopt otherwise.
std::optional<std::vector<SymbolicInt>> input_elements(const InferContext& ctx, size_t i);

/// Sets output i (int64 or int32 `dtype`, `dims` of rank <= 1 matching the count) from elements: an exact
/// value when every element is a number, else partial content. Also sets dtype and shape.
void set_output_elements(InferContext& ctx, size_t i, DType dtype, const std::vector<int64_t>& dims,
                         const std::vector<SymbolicInt>& elements);

/// The exact content of input i as int64 numbers when known (integer types only), else nullopt.
std::optional<std::vector<int64_t>> input_ints(const InferContext& ctx, size_t i);

/// Element count of a shape when every dim is known.
std::optional<int64_t> known_numel(const Shape& s);

/// The product of dims as a dim: a number when all are known, the one symbol when every other dim is 1,
/// else unknown. Overflow fails via checked arithmetic.
Dim dim_product(const std::vector<Dim>& dims);

/// When every listed input is known (value set) and small, and every output inferred so far is concrete and
/// small or left for the kernel to size, runs `compute` now and records the outputs' contents (and exact
/// shapes). Kernel errors are left for run time, where they name the data; the content then stays unknown.
void fold_if_known(InferContext& ctx, ComputeFn compute);

/// Fails naming `what` when `dtype` is known and is not `want`. An undefined type (not inferred yet, e.g. a
/// graph input declared without one) passes: inference never fails for lack of information.
void require_type(const NodeContext& ctx, DType dtype, DType want, const char* what);
/// True when both types are known and differ.
bool types_differ(DType a, DType b);

/// Reads an integer list input (int32 or int64, rank <= 1) at run time; fails naming `what` otherwise.
std::vector<int64_t> read_int_list(const NodeContext& ctx, const Tensor& t, const char* what);
/// Fails naming `what` unless `dtype` is int32 or int64 (or undefined, as for require_type).
void require_index_type(const NodeContext& ctx, DType dtype, const char* what);

}  // namespace kiln::ops
