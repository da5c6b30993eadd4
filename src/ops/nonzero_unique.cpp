// NonZero and Unique: ops whose output size depends on the data, so their kernels allocate the outputs.

#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>

#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// ---- NonZero ----

template <typename T> bool is_nonzero(const T& v) {
  if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) return static_cast<float>(v) != 0.0f;
  else return v != T(0);
}

void compute_nonzero(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  // A scalar counts as a 1-element vector, as numpy and ONNX Runtime treat it.
  const std::vector<int64_t> dims = x.rank() == 0 ? std::vector<int64_t>{1} : x.dims();
  const size_t rank = dims.size();
  visit_numeric_or_bool(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    int64_t n = 0;
    for (int64_t i = 0; i < x.numel(); ++i) n += is_nonzero(in[i]) ? 1 : 0;
    Tensor& y = ctx.allocate_output(0, DType::kInt64, {static_cast<int64_t>(rank), n});
    int64_t* out = y.data<int64_t>();
    std::vector<int64_t> pos(rank, 0);
    int64_t j = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (is_nonzero(in[i])) {
        for (size_t d = 0; d < rank; ++d) out[static_cast<int64_t>(d) * n + j] = pos[d];
        ++j;
      }
      for (size_t d = rank; d-- > 0;) {
        if (++pos[d] < dims[d]) break;
        pos[d] = 0;
      }
    }
  }, "NonZero");
}

void infer_nonzero(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const Dim rank = in.rank_known ? Dim(std::max<int64_t>(1, static_cast<int64_t>(in.rank()))) : Dim();
  ctx.set_output(0, DType::kInt64, Shape({rank, Dim()}));
  fold_if_known(ctx, compute_nonzero);
}

// ---- Unique ----

// Three-way comparison with a total order: NaNs equal each other and sort after every number.
template <typename T> int compare_values(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool> || std::is_integral_v<T>) {
    return a < b ? -1 : (b < a ? 1 : 0);
  } else {
    double x, y;
    if constexpr (std::is_floating_point_v<T>) {
      x = a;
      y = b;
    } else {  // float16, bfloat16
      x = static_cast<float>(a);
      y = static_cast<float>(b);
    }
    const bool xn = std::isnan(x), yn = std::isnan(y);
    if (xn || yn) return xn == yn ? 0 : (xn ? 1 : -1);
    return x < y ? -1 : (y < x ? 1 : 0);
  }
}

void compute_unique(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool sorted = ctx.attr_int("sorted", 1) != 0;
  // Items are the slices along `axis` (or, without an axis, the single elements of the flattened input).
  int64_t outer = 1, items = x.numel(), inner = 1;
  std::optional<size_t> axis;
  if (ctx.has_attr("axis")) {
    if (x.rank() == 0) ctx.bad_input("axis is given but the input is a scalar");
    axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis"), static_cast<int64_t>(x.rank())));
    outer = product(x.dims(), 0, *axis);
    items = x.dim(*axis);
    inner = product(x.dims(), *axis + 1, x.rank());
  }
  if (items > 0 && x.numel() == 0) {
    // Every slice is empty, so all are equal: one group. Only the (checked) inverse_indices output is sized
    // by `items`, which may be huge beside a 0 dim.
    std::vector<int64_t> y_dims = x.dims();
    y_dims[*axis] = 1;
    ctx.allocate_output(0, x.dtype(), y_dims);
    if (ctx.num_outputs() > 1) ctx.allocate_output(1, DType::kInt64, {1});  // zero-filled: first occurrence 0
    if (ctx.num_outputs() > 2) ctx.allocate_output(2, DType::kInt64, {items});
    if (ctx.num_outputs() > 3) ctx.allocate_output(3, DType::kInt64, {1}).data<int64_t>()[0] = items;
    return;
  }
  std::vector<int64_t> order(static_cast<size_t>(items));
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> group_of(static_cast<size_t>(items));  // sorted-group index of each item
  std::vector<int64_t> first, counts;                          // per group, in sorted order
  visit_all(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    auto cmp = [&](int64_t a, int64_t b) {
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          int c = compare_values(in[(o * items + a) * inner + i], in[(o * items + b) * inner + i]);
          if (c != 0) return c;
        }
      return 0;
    };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
    for (size_t k = 0; k < order.size(); ++k) {
      if (k == 0 || cmp(order[k - 1], order[k]) != 0) {
        first.push_back(order[k]);  // stable sort: the group's first item is its first occurrence
        counts.push_back(0);
      }
      group_of[static_cast<size_t>(order[k])] = static_cast<int64_t>(first.size()) - 1;
      ++counts.back();
    }
  }, "Unique");
  // Output order of the groups: sorted, or by first occurrence.
  const size_t u = first.size();
  std::vector<size_t> out_groups(u);
  std::iota(out_groups.begin(), out_groups.end(), size_t{0});
  if (!sorted) std::sort(out_groups.begin(), out_groups.end(), [&](size_t a, size_t b) { return first[a] < first[b]; });
  std::vector<int64_t> rank_of_group(u);
  for (size_t r = 0; r < u; ++r) rank_of_group[out_groups[r]] = static_cast<int64_t>(r);

  std::vector<int64_t> y_dims = {static_cast<int64_t>(u)};
  if (axis) {
    y_dims = x.dims();
    y_dims[*axis] = static_cast<int64_t>(u);
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), y_dims);
  for (int64_t o = 0; o < outer; ++o)
    for (size_t r = 0; r < u; ++r)
      copy_elements(x, (o * items + first[out_groups[r]]) * inner, y, (o * static_cast<int64_t>(u) + static_cast<int64_t>(r)) * inner, inner);
  const auto un = static_cast<int64_t>(u);
  if (ctx.num_outputs() > 1) {
    int64_t* p = ctx.allocate_output(1, DType::kInt64, {un}).data<int64_t>();
    for (size_t r = 0; r < u; ++r) p[r] = first[out_groups[r]];
  }
  if (ctx.num_outputs() > 2) {
    int64_t* p = ctx.allocate_output(2, DType::kInt64, {items}).data<int64_t>();
    for (int64_t k = 0; k < items; ++k) p[k] = rank_of_group[static_cast<size_t>(group_of[static_cast<size_t>(k)])];
  }
  if (ctx.num_outputs() > 3) {
    int64_t* p = ctx.allocate_output(3, DType::kInt64, {un}).data<int64_t>();
    for (size_t r = 0; r < u; ++r) p[r] = counts[out_groups[r]];
  }
}

void infer_unique(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const DType t = ctx.input_type(0);
  Shape y({Dim()});
  Dim items;  // the length of inverse_indices
  if (ctx.has_attr("axis")) {
    if (in.rank_known) {
      if (in.rank() == 0) ctx.fail("axis is given but the input is a scalar");
      const auto a = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis"), static_cast<int64_t>(in.rank())));
      y = in;
      y.dims[a] = Dim();
      items = in.dims[a];
    } else {
      y = Shape::unknown_rank();
    }
  } else if (in.rank_known) {
    items = dim_product(in.dims);
  }
  ctx.set_output(0, t, y);
  ctx.set_output(1, DType::kInt64, Shape({Dim()}));
  ctx.set_output(2, DType::kInt64, Shape({items}));
  ctx.set_output(3, DType::kInt64, Shape({Dim()}));
  fold_if_known(ctx, compute_unique);
}

}  // namespace

KILN_REGISTER_OP(nonzero, {"", "NonZero", {9, 13}, 0, infer_nonzero, compute_nonzero});
KILN_REGISTER_OP(unique, {"", "Unique", {11}, 0, infer_unique, compute_unique});

}  // namespace kiln::ops
