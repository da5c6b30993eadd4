// Index-driven ops that fit no larger family: Trilu, OneHot, Compress, ReverseSequence, CenterCropPad.

#include <cmath>

#include "base/checked.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// ---- Trilu ----

int64_t trilu_k(const KernelContext& ctx) {
  if (!ctx.has_input(1)) return 0;
  const Tensor& k = ctx.input(1);
  if (k.dtype() != DType::kInt64 || k.numel() != 1) ctx.bad_input("k must be a single int64, got {} {}",
                                                                   dtype_name(k.dtype()), dims_str(k.dims()));
  return k.data<int64_t>()[0];
}

void compute_trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (x.rank() < 2) ctx.bad_input("input must have rank >= 2, but it is {}", dims_str(x.dims()));
  const int64_t k = trilu_k(ctx);
  const bool upper = ctx.attr_int("upper", 1) != 0;
  const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const int64_t mats = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  visit_storage(x.dtype(), [&]<typename S>() {
    const S* in = storage_data<S>(x);
    S* out = storage_data<S>(y);
    for (int64_t m = 0; m < mats; ++m)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t at = (m * rows + i) * cols + j;
          const bool keep = upper ? j - i >= k : j - i <= k;  // j - i is small: no overflow against k
          out[at] = keep ? in[at] : S{};
        }
  });
}

void infer_trilu(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (in.rank_known && in.rank() < 2) ctx.fail("input must have rank >= 2, but it is {}", in.str());
  if (ctx.has_input(1)) require_type(ctx, ctx.input_type(1), DType::kInt64, "k");
  ctx.set_output(0, ctx.input_type(0), in);
  fold_if_known(ctx, compute_trilu);
}

// ---- OneHot ----

int64_t one_hot_depth(const NodeContext& ctx, const Tensor& depth) {
  if (depth.numel() != 1 || depth.rank() > 1)
    ctx.bad_input("depth must hold exactly one value, but it is {}", dims_str(depth.dims()));
  const double d = depth.double_at(0);
  if (!(d >= 0 && d < 9.2e18)) ctx.bad_input("depth {} must be a non-negative count", d);
  return static_cast<int64_t>(d);
}

void compute_one_hot(KernelContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const Tensor& values = ctx.input(2);
  const int64_t depth = one_hot_depth(ctx, ctx.input(1));
  if (values.numel() != 2) ctx.bad_input("values must hold [off_value, on_value], but it has {} elements", values.numel());
  Tensor& y = ctx.output(0);
  const int64_t out_rank = static_cast<int64_t>(indices.rank()) + 1;
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), out_rank));
  const int64_t inner = product(indices.dims(), axis, indices.rank());
  // The spec: an index outside [-depth, depth-1] gives a row of off_value (it is not an error).
  std::vector<int64_t> hot(static_cast<size_t>(indices.numel()), -1);
  for (int64_t p = 0; p < indices.numel(); ++p) {
    const double v = indices.double_at(p);
    if (!(v > -static_cast<double>(depth) - 1 && v < static_cast<double>(depth))) continue;
    int64_t i = static_cast<int64_t>(v);  // truncates like a cast to int64
    if (i < 0) i += depth;
    if (i >= 0 && i < depth) hot[static_cast<size_t>(p)] = i;
  }
  visit_storage(y.dtype(), [&]<typename S>() {
    const S off = storage_data<S>(values)[0], on = storage_data<S>(values)[1];
    S* out = storage_data<S>(y);
    std::fill(out, out + y.numel(), off);
    for (size_t p = 0; p < hot.size(); ++p) {
      if (hot[p] < 0) continue;
      const int64_t outer_i = static_cast<int64_t>(p) / inner, inner_i = static_cast<int64_t>(p) % inner;
      out[(outer_i * depth + hot[p]) * inner + inner_i] = on;
    }
  });
}

void infer_one_hot(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const DType t = ctx.input_type(2);
  if (!in.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const int64_t out_rank = static_cast<int64_t>(in.rank()) + 1;
  const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", -1), out_rank));
  Dim depth;
  if (const Tensor* d = ctx.input_value(1)) depth = Dim(one_hot_depth(ctx, *d));
  std::vector<Dim> out = in.dims;
  out.insert(out.begin() + static_cast<ptrdiff_t>(axis), depth);
  known_numel(Shape(out));
  ctx.set_output(0, t, Shape(std::move(out)));
  fold_if_known(ctx, compute_one_hot);
}

// ---- Compress ----

void compute_compress(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  if (cond.dtype() != DType::kBool || cond.rank() != 1)
    ctx.bad_input("condition must be a 1-D bool tensor, but it is {} {}", dtype_name(cond.dtype()), dims_str(cond.dims()));
  int64_t outer = 1, items = x.numel(), inner = 1;
  std::optional<size_t> axis;
  if (ctx.has_attr("axis")) {
    axis = static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis"), static_cast<int64_t>(x.rank())));
    outer = product(x.dims(), 0, *axis);
    items = x.dim(*axis);
    inner = product(x.dims(), *axis + 1, x.rank());
  }
  // A shorter condition drops the rest (as numpy does); a longer one may only add false entries.
  const bool* c = cond.data<bool>();
  std::vector<int64_t> picked;
  for (int64_t k = 0; k < cond.numel(); ++k) {
    if (!c[k]) continue;
    if (k >= items) ctx.bad_input("condition[{}] is true but the selected axis has only {} entries", k, items);
    picked.push_back(k);
  }
  const auto n = static_cast<int64_t>(picked.size());
  std::vector<int64_t> dims = {n};
  if (axis) {
    dims = x.dims();
    dims[*axis] = n;
  }
  Tensor& y = ctx.allocate_output(0, x.dtype(), dims);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      copy_elements(x, (o * items + picked[static_cast<size_t>(j)]) * inner, y, (o * n + j) * inner, inner);
}

void infer_compress(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  require_type(ctx, ctx.input_type(1), DType::kBool, "condition");
  Dim n;  // the selected count, known only from the condition's value
  if (const Tensor* c = ctx.input_value(1)) {
    int64_t count = 0;
    for (int64_t k = 0; k < c->numel(); ++k) count += c->data<bool>()[k] ? 1 : 0;
    n = Dim(count);
  }
  if (!ctx.has_attr("axis")) {
    ctx.set_output(0, ctx.input_type(0), Shape({n}));
  } else if (!in.rank_known) {
    ctx.set_output(0, ctx.input_type(0), Shape::unknown_rank());
  } else {
    Shape out = in;
    out.dims[static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis"), static_cast<int64_t>(in.rank())))] = n;
    ctx.set_output(0, ctx.input_type(0), out);
  }
  fold_if_known(ctx, compute_compress);
}

// ---- ReverseSequence ----

std::pair<size_t, size_t> time_batch_axes(const NodeContext& ctx) {
  const int64_t t = ctx.attr_int("time_axis", 0), b = ctx.attr_int("batch_axis", 1);
  if (!((t == 0 && b == 1) || (t == 1 && b == 0)))
    ctx.fail("time_axis ({}) and batch_axis ({}) must be 0 and 1 in some order", t, b);
  return {static_cast<size_t>(t), static_cast<size_t>(b)};
}

void compute_reverse_sequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& lens_t = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (x.rank() < 2) ctx.bad_input("input must have rank >= 2, but it is {}", dims_str(x.dims()));
  const auto axes = time_batch_axes(ctx);
  const size_t ta = axes.first, ba = axes.second;
  const int64_t steps = x.dim(ta), batch = x.dim(ba), inner = product(x.dims(), 2, x.rank());
  std::vector<int64_t> lens = read_int_list(ctx, lens_t, "sequence_lens");
  if (static_cast<int64_t>(lens.size()) != batch)
    ctx.bad_input("sequence_lens has {} entries but the batch axis has {}", lens.size(), batch);
  for (size_t b = 0; b < lens.size(); ++b)
    if (lens[b] < 0 || lens[b] > steps)
      ctx.bad_input("sequence_lens[{}] = {} is out of range [0, {}] (the time axis)", b, lens[b], steps);
  copy_all(x, y);
  auto offset = [&](int64_t t, int64_t b) { return (ta == 0 ? t * batch + b : b * steps + t) * inner; };
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < lens[static_cast<size_t>(b)]; ++t)
      copy_elements(x, offset(lens[static_cast<size_t>(b)] - 1 - t, b), y, offset(t, b), inner);
}

void infer_reverse_sequence(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (in.rank_known && in.rank() < 2) ctx.fail("input must have rank >= 2, but it is {}", in.str());
  require_index_type(ctx, ctx.input_type(1), "sequence_lens");
  time_batch_axes(ctx);
  ctx.set_output(0, ctx.input_type(0), in);
  fold_if_known(ctx, compute_reverse_sequence);
}

// ---- CenterCropPad ----

// The axes the shape input is for: the attribute (normalized), or every axis.
std::vector<int64_t> crop_axes(const NodeContext& ctx, int64_t rank) {
  std::vector<int64_t> axes;
  if (!ctx.has_attr("axes")) {
    for (int64_t k = 0; k < rank; ++k) axes.push_back(k);
    return axes;
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : ctx.attr_ints("axes")) {
    a = normalize_axis(ctx, a, rank);
    if (seen[static_cast<size_t>(a)]) ctx.fail("axis {} is listed twice in axes", a);
    seen[static_cast<size_t>(a)] = true;
    axes.push_back(a);
  }
  return axes;
}

void compute_center_crop_pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const std::vector<int64_t> axes = crop_axes(ctx, static_cast<int64_t>(x.rank()));
  const std::vector<int64_t> target = read_int_list(ctx, ctx.input(1), "shape");
  if (target.size() != axes.size())
    ctx.bad_input("shape has {} entries but {} axes are cropped or padded", target.size(), axes.size());
  const std::vector<int64_t> strides = strides_of(x.dims());
  std::vector<int64_t> shift(x.rank(), 0);  // source position = output position + shift
  for (size_t k = 0; k < axes.size(); ++k) {
    const auto a = static_cast<size_t>(axes[k]);
    if (target[k] != y.dim(a)) ctx.bad_input("output dim {} is {} but shape asks for {}", a, y.dim(a), target[k]);
    // Centered: crop (dim - target) / 2 from the start, or pad (target - dim) / 2 before it (floor).
    shift[a] = target[k] <= x.dim(a) ? (x.dim(a) - target[k]) / 2 : -((target[k] - x.dim(a)) / 2);
  }
  if (y.numel() == 0) return;
  std::vector<std::vector<int64_t>> tables(x.rank());
  for (size_t a = 0; a < x.rank(); ++a) {
    tables[a].resize(static_cast<size_t>(y.dim(a)));
    for (int64_t o = 0; o < y.dim(a); ++o) {
      const int64_t c = o + shift[a];
      tables[a][static_cast<size_t>(o)] = (c >= 0 && c < x.dim(a)) ? c * strides[a] : -1;
    }
  }
  gather_by_axis_tables(x, y, tables);
}

void infer_center_crop_pad(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  require_index_type(ctx, ctx.input_type(1), "shape");
  if (!in.rank_known) {
    ctx.set_output(0, ctx.input_type(0), Shape::unknown_rank());
    return;
  }
  const std::vector<int64_t> axes = crop_axes(ctx, static_cast<int64_t>(in.rank()));
  std::optional<std::vector<int64_t>> target = input_ints(ctx, 1);
  if (target && target->size() != axes.size())
    ctx.bad_input("shape has {} entries but {} axes are cropped or padded", target->size(), axes.size());
  std::vector<Dim> out = in.dims;
  for (size_t k = 0; k < axes.size(); ++k) {
    Dim d;
    if (target) {
      if ((*target)[k] < 0) ctx.bad_input("shape[{}] is {}; sizes must not be negative", k, (*target)[k]);
      d = Dim((*target)[k]);
    }
    out[static_cast<size_t>(axes[k])] = d;
  }
  known_numel(Shape(out));
  ctx.set_output(0, ctx.input_type(0), Shape(std::move(out)));
  fold_if_known(ctx, compute_center_crop_pad);
}

}  // namespace

KILN_REGISTER_OP(trilu, {"", "Trilu", {14}, 0, infer_trilu, compute_trilu});
KILN_REGISTER_OP(one_hot, {"", "OneHot", {9, 11}, 0, infer_one_hot, compute_one_hot});
KILN_REGISTER_OP(compress, {"", "Compress", {9, 11}, 0, infer_compress, compute_compress});
KILN_REGISTER_OP(reverse_sequence,
                 {"", "ReverseSequence", {10}, 0, infer_reverse_sequence, compute_reverse_sequence});
KILN_REGISTER_OP(center_crop_pad, {"", "CenterCropPad", {18}, 0, infer_center_crop_pad, compute_center_crop_pad});

}  // namespace kiln::ops
