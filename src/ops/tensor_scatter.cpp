// TensorScatter (opset 24): writes `update` into a copy of `past_cache` along the sequence axis, for each
// batch entry b starting at write_indices[b] (0 when absent); "circular" mode wraps positions modulo the
// cache length, "linear" mode requires them to fit. The functional form of an in-place KV-cache update.

#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

bool circular_mode(const NodeContext& ctx) {
  const std::string mode = ctx.attr_string("mode", "linear");
  if (mode != "linear" && mode != "circular") ctx.fail("mode must be 'linear' or 'circular', not '{}'", mode);
  return mode == "circular";
}

/// The sequence axis, checked: not the batch axis.
size_t sequence_axis(const NodeContext& ctx, size_t rank) {
  const int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", -2), static_cast<int64_t>(rank));
  if (axis == 0) ctx.fail("axis must not be 0, the batch axis");
  return static_cast<size_t>(axis);
}

void infer_tensor_scatter(InferContext& ctx) {
  circular_mode(ctx);
  if (ctx.input_type(1) != ctx.input_type(0))
    ctx.fail("update is {} but past_cache is {}", dtype_name(ctx.input_type(1)), dtype_name(ctx.input_type(0)));
  if (ctx.has_input(2) && ctx.input_type(2) != DType::kInt64)
    ctx.fail("write_indices must be int64, not {}", dtype_name(ctx.input_type(2)));
  const Shape &cache = ctx.input_shape(0), &update = ctx.input_shape(1);
  if (cache.rank_known) {
    const size_t axis = sequence_axis(ctx, cache.rank());
    if (update.rank_known) {
      if (update.rank() != cache.rank()) ctx.fail("update {} and past_cache {} differ in rank", update.str(), cache.str());
      for (size_t i = 0; i < cache.rank(); ++i) {
        const Dim &c = cache.dims[i], &u = update.dims[i];
        if (!c.is_known() || !u.is_known()) continue;
        if (i == axis ? u.value() > c.value() : u.value() != c.value())
          ctx.fail("update {} does not fit past_cache {} (dims must agree except along axis {}, where it may be shorter)",
                   update.str(), cache.str(), axis);
      }
    }
  }
  ctx.set_output(0, ctx.input_type(0), cache);
}

void compute_tensor_scatter(KernelContext& ctx) {
  const Tensor &cache = ctx.input(0), &update = ctx.input(1);
  Tensor& y = ctx.output(0);
  const bool circular = circular_mode(ctx);
  if (cache.rank() < 2) ctx.bad_input("past_cache must have a batch and a sequence axis, but it is {}", dims_str(cache.dims()));
  const size_t axis = sequence_axis(ctx, cache.rank());
  bool fits = update.rank() == cache.rank();
  for (size_t i = 0; fits && i < cache.rank(); ++i)
    fits = i == axis ? update.dim(i) <= cache.dim(i) : update.dim(i) == cache.dim(i);
  if (!fits) ctx.bad_input("update {} does not fit past_cache {}", dims_str(update.dims()), dims_str(cache.dims()));
  const int64_t batch = cache.dim(0), max_len = cache.dim(axis), len = update.dim(axis);
  std::vector<int64_t> starts(static_cast<size_t>(batch), 0);
  if (ctx.has_input(2)) {
    const Tensor& w = ctx.input(2);
    if (w.dtype() != DType::kInt64 || w.dims() != std::vector<int64_t>{batch})
      ctx.bad_input("write_indices must be int64 [{}], but it is {} {}", batch, dtype_name(w.dtype()), dims_str(w.dims()));
    starts = w.to_int64_vector();
  }
  copy_all(cache, y);
  // [batch, rest of prefix, seq, row]: each (prefix, position) moves one contiguous row.
  const int64_t prefix = product(cache.dims(), 1, axis), row = product(cache.dims(), axis + 1, cache.rank());
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t start = starts[static_cast<size_t>(b)];
    if (!circular && (start < 0 || start > max_len - len))
      ctx.bad_input("write index {} of batch {} with {} new positions does not fit the cache of {} (linear mode)",
                    start, b, len, max_len);
    for (int64_t p = 0; p < prefix; ++p)
      for (int64_t s = 0; s < len; ++s) {
        int64_t at = circular ? (start % max_len + s) % max_len : start + s;  // max_len > 0 since len > 0
        if (at < 0) at += max_len;
        const int64_t outer = b * prefix + p;
        copy_elements(update, (outer * len + s) * row, y, (outer * max_len + at) * row, row);
      }
  }
}

}  // namespace

KILN_REGISTER_OP(tensor_scatter, {"", "TensorScatter", {24}, 0, infer_tensor_scatter, compute_tensor_scatter});

}  // namespace kiln::ops
