// Gather, GatherElements, GatherND: read elements or slices at positions given by an index tensor.
// Every index is checked against its bound before any read; negative indices count from the end.

#include "ops/movement_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// Reads all indices as int64 and maps negatives into [0, bound); fails naming the first bad one.
std::vector<int64_t> checked_indices(const NodeContext& ctx, const Tensor& indices, int64_t bound,
                                     const char* what) {
  require_index_type(ctx, indices.dtype(), "indices");
  std::vector<int64_t> v = indices.to_int64_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] < -bound || v[i] >= bound)
      ctx.bad_input("indices[{}] = {} is out of range for {} of size {} (allowed {}..{})", i, v[i], what, bound,
                    -bound, bound - 1);
    if (v[i] < 0) v[i] += bound;
  }
  return v;
}

// Copies `count` elements from in[src] to out[dst]; typed so that single elements cost a plain assignment.
template <typename S> void move_block(const S* in, int64_t src, S* out, int64_t dst, int64_t count) {
  if (count == 1) out[dst] = in[src];
  else std::copy(in + src, in + src + count, out + dst);
}

// ---- Gather ----

void compute_gather(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices_t = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (data.rank() == 0) ctx.fail("data must have rank >= 1");
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(data.rank())));
  const int64_t dim = data.dim(axis);
  std::vector<int64_t> idx = checked_indices(ctx, indices_t, dim, fmt::format("axis {}", axis).c_str());
  const int64_t outer = product(data.dims(), 0, axis), inner = product(data.dims(), axis + 1, data.rank());
  const auto n = static_cast<int64_t>(idx.size());
  KILN_ASSERT(y.numel() == outer * n * inner);
  if (y.numel() == 0) return;
  visit_storage(data.dtype(), [&]<typename S>() {
    const S* in = storage_data<S>(data);
    S* out = storage_data<S>(y);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < n; ++j)
        move_block(in, (o * dim + idx[static_cast<size_t>(j)]) * inner, out, (o * n + j) * inner, inner);
  });
}

void infer_gather(InferContext& ctx) {
  const Shape& data = ctx.input_shape(0);
  const Shape& indices = ctx.input_shape(1);
  require_index_type(ctx, ctx.input_type(1), "indices");
  const DType t = ctx.input_type(0);
  if (!data.rank_known || !indices.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  if (data.rank() == 0) ctx.fail("data must have rank >= 1");
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(data.rank())));
  std::vector<Dim> out(data.dims.begin(), data.dims.begin() + static_cast<ptrdiff_t>(axis));
  out.insert(out.end(), indices.dims.begin(), indices.dims.end());
  out.insert(out.end(), data.dims.begin() + static_cast<ptrdiff_t>(axis) + 1, data.dims.end());
  ctx.set_output(0, t, Shape(out));

  // Shape arithmetic: picking entries of a 1-D shape value (Shape(x)[0]) keeps their symbols.
  std::optional<std::vector<SymbolicInt>> elems = input_elements(ctx, 0);
  std::optional<std::vector<int64_t>> picks = input_ints(ctx, 1);
  if (elems && picks && data.rank() == 1 && indices.rank() <= 1 && !ctx.input_value(0)) {
    const auto bound = static_cast<int64_t>(elems->size());
    std::vector<SymbolicInt> picked;
    for (size_t i = 0; i < picks->size(); ++i) {
      int64_t p = (*picks)[i];
      if (p < -bound || p >= bound)
        ctx.bad_input("indices[{}] = {} is out of range for axis 0 of size {} (allowed {}..{})", i, p, bound, -bound,
                      bound - 1);
      picked.push_back((*elems)[static_cast<size_t>(p < 0 ? p + bound : p)]);
    }
    std::vector<int64_t> dims;
    if (indices.rank() == 1) dims.push_back(static_cast<int64_t>(picked.size()));
    set_output_elements(ctx, 0, t, dims, picked);
    return;
  }
  fold_if_known(ctx, compute_gather);
}

// ---- GatherElements ----

void compute_gather_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices_t = ctx.input(1);
  Tensor& y = ctx.output(0);
  const size_t rank = data.rank();
  if (rank == 0 || indices_t.rank() != rank)
    ctx.bad_input("data ({}) and indices ({}) must have the same rank >= 1", dims_str(data.dims()),
                  dims_str(indices_t.dims()));
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(rank)));
  for (size_t k = 0; k < rank; ++k)
    if (k != axis && indices_t.dim(k) > data.dim(k))
      ctx.bad_input("indices dim {} is {} but data has only {} there", k, indices_t.dim(k), data.dim(k));
  std::vector<int64_t> idx = checked_indices(ctx, indices_t, data.dim(axis), fmt::format("axis {}", axis).c_str());
  if (y.numel() == 0) return;
  const std::vector<int64_t> strides = strides_of(data.dims());
  visit_storage(data.dtype(), [&]<typename S>() {
    const S* in = storage_data<S>(data);
    S* out = storage_data<S>(y);
    std::vector<int64_t> pos(rank, 0);
    int64_t base = 0;  // offset of pos in data, without the axis term
    for (size_t i = 0; i < idx.size(); ++i) {
      out[i] = in[base + idx[i] * strides[axis]];
      for (size_t k = rank; k-- > 0;) {
        if (++pos[k] < indices_t.dim(k)) {
          if (k != axis) base += strides[k];
          break;
        }
        if (k != axis) base -= (pos[k] - 1) * strides[k];
        pos[k] = 0;
      }
    }
  });
}

void infer_gather_elements(InferContext& ctx) {
  require_index_type(ctx, ctx.input_type(1), "indices");
  const Shape& data = ctx.input_shape(0);
  const Shape& indices = ctx.input_shape(1);
  if (data.rank_known && indices.rank_known && data.rank() != indices.rank())
    ctx.fail("data {} and indices {} must have the same rank", data.str(), indices.str());
  if (data.rank_known && data.rank() == 0) ctx.fail("data must have rank >= 1");
  if (data.rank_known) normalize_axis(ctx, ctx.attr_int("axis", 0), static_cast<int64_t>(data.rank()));
  ctx.set_output(0, ctx.input_type(0), indices);
  fold_if_known(ctx, compute_gather_elements);
}

// ---- GatherND ----

struct GatherNdDims {
  int64_t batch = 0, m = 0;
};

// Checks ranks and returns batch_dims and the index tuple length (-1 when unknown).
GatherNdDims gather_nd_dims(const NodeContext& ctx, size_t data_rank, size_t indices_rank, const Dim& last) {
  GatherNdDims g;
  g.batch = ctx.attr_int("batch_dims", 0);
  if (indices_rank == 0) ctx.fail("indices must have rank >= 1");
  if (g.batch < 0 || g.batch >= static_cast<int64_t>(std::min(data_rank, indices_rank)))
    ctx.fail("batch_dims {} must be in [0, min(rank(data), rank(indices))) = [0, {})", g.batch,
             std::min(data_rank, indices_rank));
  g.m = last.value();
  if (last.is_known() && (g.m < 1 || g.m > static_cast<int64_t>(data_rank) - g.batch))
    ctx.fail("indices' last dim is {} but must be in [1, {}] (data rank {} minus batch_dims {})", g.m,
             static_cast<int64_t>(data_rank) - g.batch, data_rank, g.batch);
  return g;
}

void compute_gather_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices_t = ctx.input(1);
  Tensor& y = ctx.output(0);
  require_index_type(ctx, indices_t.dtype(), "indices");
  const size_t q = indices_t.rank();
  GatherNdDims g = gather_nd_dims(ctx, data.rank(), q, q ? Dim(indices_t.dim(q - 1)) : Dim());
  const auto b = static_cast<size_t>(g.batch), m = static_cast<size_t>(g.m);
  for (size_t k = 0; k < b; ++k)
    if (data.dim(k) != indices_t.dim(k))
      ctx.bad_input("batch dim {} differs: data has {}, indices has {}", k, data.dim(k), indices_t.dim(k));
  const int64_t batches = product(data.dims(), 0, b);
  const int64_t batch_size = product(data.dims(), b, data.rank());
  const int64_t slice = product(data.dims(), b + m, data.rank());
  const int64_t tuples = product(indices_t.dims(), b, q - 1);
  const std::vector<int64_t> strides = strides_of(data.dims());
  std::vector<int64_t> idx = indices_t.to_int64_vector();
  KILN_ASSERT(y.numel() == batches * tuples * slice);
  // Resolve every tuple to a data offset first, so that a bad index fails before anything is written.
  std::vector<int64_t> offsets(static_cast<size_t>(batches * tuples));
  for (int64_t t = 0; t < batches * tuples; ++t) {
    int64_t off = (t / std::max<int64_t>(tuples, 1)) * batch_size;
    for (size_t j = 0; j < m; ++j) {
      const size_t pos = static_cast<size_t>(t) * m + j;
      int64_t v = idx[pos];
      const int64_t bound = data.dim(b + j);
      if (v < -bound || v >= bound)
        ctx.bad_input("indices[{}] = {} is out of range for data dim {} of size {} (allowed {}..{})", pos, v, b + j,
                      bound, -bound, bound - 1);
      off += (v < 0 ? v + bound : v) * strides[b + j];
    }
    offsets[static_cast<size_t>(t)] = off;
  }
  if (y.numel() == 0) return;
  visit_storage(data.dtype(), [&]<typename S>() {
    const S* in = storage_data<S>(data);
    S* out = storage_data<S>(y);
    for (size_t t = 0; t < offsets.size(); ++t) move_block(in, offsets[t], out, static_cast<int64_t>(t) * slice, slice);
  });
}

void infer_gather_nd(InferContext& ctx) {
  require_index_type(ctx, ctx.input_type(1), "indices");
  const Shape& data = ctx.input_shape(0);
  const Shape& indices = ctx.input_shape(1);
  const DType t = ctx.input_type(0);
  if (!data.rank_known || !indices.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const size_t q = indices.rank();
  GatherNdDims g = gather_nd_dims(ctx, data.rank(), q, q ? indices.dims[q - 1] : Dim());
  if (g.m < 0) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  std::vector<Dim> out(indices.dims.begin(), indices.dims.end() - 1);
  for (size_t k = 0; k < static_cast<size_t>(g.batch); ++k)
    if (!out[k].is_known() && data.dims[k].is_known()) out[k] = data.dims[k];
  out.insert(out.end(), data.dims.begin() + g.batch + g.m, data.dims.end());
  ctx.set_output(0, t, Shape(std::move(out)));
  fold_if_known(ctx, compute_gather_nd);
}

}  // namespace

KILN_REGISTER_OP(gather, {.domain = "", .name = "Gather", .versions = {1, 11, 13}, .infer = infer_gather,
                          .compute = compute_gather, .prepare = prepare_gather});
KILN_REGISTER_OP(gather_elements, {"", "GatherElements", {11, 13}, 0, infer_gather_elements, compute_gather_elements});
KILN_REGISTER_OP(gather_nd, {"", "GatherND", {11, 12, 13}, 0, infer_gather_nd, compute_gather_nd});

}  // namespace kiln::ops
