// ScatterND, ScatterElements and the older Scatter (opset 9-10): a copy of data with updates written (or
// combined by add/mul/max/min) at positions given by an index tensor. Indices are checked before writing.

#include <algorithm>
#include <type_traits>

#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction reduction_of(const NodeContext& ctx) {
  std::string r = ctx.attr_string("reduction", "none");
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  ctx.fail("reduction '{}' is not one of none, add, mul, max, min", r);
}

// dst = reduce(dst, src). Half floats compute in float; bool add/mul are or/and.
template <typename T> void combine(T& dst, const T& src, Reduction r) {
  if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
    float a = dst, b = src;
    switch (r) {
      case Reduction::kNone: dst = src; break;
      case Reduction::kAdd: dst = T(a + b); break;
      case Reduction::kMul: dst = T(a * b); break;
      case Reduction::kMax: dst = b > a ? src : dst; break;
      case Reduction::kMin: dst = b < a ? src : dst; break;
    }
  } else if constexpr (std::is_same_v<T, bool>) {
    switch (r) {
      case Reduction::kNone: dst = src; break;
      case Reduction::kAdd: case Reduction::kMax: dst = dst || src; break;
      case Reduction::kMul: case Reduction::kMin: dst = dst && src; break;
    }
  } else if constexpr (std::is_integral_v<T>) {
    // Integers wrap like the hardware does: compute in uint64_t, where overflow is defined.
    const auto a = static_cast<uint64_t>(dst), b = static_cast<uint64_t>(src);
    switch (r) {
      case Reduction::kNone: dst = src; break;
      case Reduction::kAdd: dst = static_cast<T>(a + b); break;
      case Reduction::kMul: dst = static_cast<T>(a * b); break;
      case Reduction::kMax: dst = std::max(dst, src); break;
      case Reduction::kMin: dst = std::min(dst, src); break;
    }
  } else {
    switch (r) {
      case Reduction::kNone: dst = src; break;
      case Reduction::kAdd: dst = dst + src; break;
      case Reduction::kMul: dst = dst * src; break;
      case Reduction::kMax: dst = std::max(dst, src); break;
      case Reduction::kMin: dst = std::min(dst, src); break;
    }
  }
}

// Applies updates[u] to out[targets[u]] for every u, in order (so later duplicates win with "none").
void apply_updates(const NodeContext& ctx, Tensor& out, const Tensor& updates, const std::vector<int64_t>& targets,
                   int64_t block, Reduction r) {
  if (updates.dtype() != out.dtype())
    ctx.fail("updates are {} but data is {}", dtype_name(updates.dtype()), dtype_name(out.dtype()));
  if (r == Reduction::kNone) {
    visit_storage(out.dtype(), [&]<typename S>() {
      const S* u = storage_data<S>(updates);
      S* o = storage_data<S>(out);
      for (size_t t = 0; t < targets.size(); ++t)
        std::copy(u + static_cast<int64_t>(t) * block, u + static_cast<int64_t>(t + 1) * block, o + targets[t]);
    });
    return;
  }
  visit_numeric_or_bool(out.dtype(), [&]<typename T>() {
    const T* u = updates.data<T>();
    T* o = out.data<T>();
    for (size_t t = 0; t < targets.size(); ++t)
      for (int64_t e = 0; e < block; ++e) combine(o[targets[t] + e], u[static_cast<int64_t>(t) * block + e], r);
  }, "Scatter with a reduction");
}

void infer_like_data(InferContext& ctx) {
  require_index_type(ctx, ctx.input_type(1), "indices");
  if (types_differ(ctx.input_type(2), ctx.input_type(0)))
    ctx.fail("updates are {} but data is {}", dtype_name(ctx.input_type(2)), dtype_name(ctx.input_type(0)));
  reduction_of(ctx);
  ctx.set_output(0, ctx.input_type(0), ctx.input_shape(0));
}

// ---- ScatterND ----

void compute_scatter_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices_t = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  require_index_type(ctx, indices_t.dtype(), "indices");
  const size_t q = indices_t.rank(), r = data.rank();
  if (q == 0) ctx.bad_input("indices must have rank >= 1");
  const int64_t m = indices_t.dim(q - 1);
  if (m < 1 || m > static_cast<int64_t>(r))
    ctx.bad_input("indices' last dim is {} but must be in [1, {}] (the rank of data)", m, r);
  // updates must be indices.shape[:-1] + data.shape[m:].
  std::vector<int64_t> want(indices_t.dims().begin(), indices_t.dims().end() - 1);
  want.insert(want.end(), data.dims().begin() + m, data.dims().end());
  if (updates.dims() != want)
    ctx.bad_input("updates have shape {} but indices {} and data {} need {}", dims_str(updates.dims()),
                  dims_str(indices_t.dims()), dims_str(data.dims()), dims_str(want));
  const auto mm = static_cast<size_t>(m);
  const int64_t block = product(data.dims(), mm, r);
  const std::vector<int64_t> strides = strides_of(data.dims());
  std::vector<int64_t> idx = indices_t.to_int64_vector();
  std::vector<int64_t> targets(idx.size() / mm);
  for (size_t t = 0; t < targets.size(); ++t) {
    int64_t off = 0;
    for (size_t j = 0; j < mm; ++j) {
      int64_t v = idx[t * mm + j];
      const int64_t bound = data.dim(j);
      if (v < -bound || v >= bound)
        ctx.bad_input("indices[{}] = {} is out of range for data dim {} of size {} (allowed {}..{})", t * mm + j, v, j,
                      bound, -bound, bound - 1);
      off += (v < 0 ? v + bound : v) * strides[j];
    }
    targets[t] = off;
  }
  Tensor& y = ctx.output(0);
  copy_all(data, y);
  apply_updates(ctx, y, updates, targets, block, reduction_of(ctx));
}

void infer_scatter_nd(InferContext& ctx) {
  infer_like_data(ctx);
  fold_if_known(ctx, compute_scatter_nd);
}

// ---- ScatterElements / Scatter ----

void compute_scatter_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices_t = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  require_index_type(ctx, indices_t.dtype(), "indices");
  const size_t rank = data.rank();
  if (rank == 0 || indices_t.rank() != rank)
    ctx.bad_input("data ({}) and indices ({}) must have the same rank >= 1", dims_str(data.dims()),
                  dims_str(indices_t.dims()));
  if (updates.dims() != indices_t.dims())
    ctx.bad_input("updates have shape {} but indices have {}; they must match", dims_str(updates.dims()),
                  dims_str(indices_t.dims()));
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(rank)));
  for (size_t k = 0; k < rank; ++k)
    if (k != axis && indices_t.dim(k) > data.dim(k))
      ctx.bad_input("indices dim {} is {} but data has only {} there", k, indices_t.dim(k), data.dim(k));
  const std::vector<int64_t> strides = strides_of(data.dims());
  std::vector<int64_t> idx = indices_t.to_int64_vector();
  const int64_t bound = data.dim(axis);
  std::vector<int64_t> targets(idx.size());
  std::vector<int64_t> pos(rank, 0);
  int64_t base = 0;  // offset of pos in data without the axis term
  for (size_t i = 0; i < idx.size(); ++i) {
    int64_t v = idx[i];
    if (v < -bound || v >= bound)
      ctx.bad_input("indices[{}] = {} is out of range for axis {} of size {} (allowed {}..{})", i, v, axis, bound,
                    -bound, bound - 1);
    targets[i] = base + (v < 0 ? v + bound : v) * strides[axis];
    for (size_t k = rank; k-- > 0;) {
      if (++pos[k] < indices_t.dim(k)) {
        if (k != axis) base += strides[k];
        break;
      }
      if (k != axis) base -= (pos[k] - 1) * strides[k];
      pos[k] = 0;
    }
  }
  Tensor& y = ctx.output(0);
  copy_all(data, y);
  apply_updates(ctx, y, updates, targets, 1, reduction_of(ctx));
}

void infer_scatter_elements(InferContext& ctx) {
  infer_like_data(ctx);
  const Shape& data = ctx.input_shape(0);
  const Shape& indices = ctx.input_shape(1);
  if (data.rank_known && indices.rank_known && data.rank() != indices.rank())
    ctx.fail("data {} and indices {} must have the same rank", data.str(), indices.str());
  if (data.rank_known && data.rank() > 0)
    normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(data.rank()));
  fold_if_known(ctx, compute_scatter_elements);
}

}  // namespace

KILN_REGISTER_OP(scatter_nd, {"", "ScatterND", {11, 13, 16, 18}, 0, infer_scatter_nd, compute_scatter_nd});
KILN_REGISTER_OP(scatter_elements,
                 {"", "ScatterElements", {11, 13, 16, 18}, 0, infer_scatter_elements, compute_scatter_elements});
// Scatter is ScatterElements under its first name; ONNX deprecated it at opset 11.
KILN_REGISTER_OP(scatter, {"", "Scatter", {9}, 11, infer_scatter_elements, compute_scatter_elements});

}  // namespace kiln::ops
