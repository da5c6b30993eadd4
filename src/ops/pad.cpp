// Pad: grows (or, with negative pads, crops) each axis, filling with a constant or by reflecting, repeating
// the edge, or wrapping around. Before opset 11 the pads and value are attributes; from 11 they are inputs,
// and from 18 an axes input says which axes the pads are for.

#include <limits>

#include "base/checked.h"
#include "ops/axis_attr.h"
#include "ops/movement_prepared.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

PadMode pad_mode(const NodeContext& ctx) {
  std::string m = ctx.attr_string("mode", "constant");
  if (m == "constant") return PadMode::kConstant;
  if (m == "reflect") return PadMode::kReflect;
  if (m == "edge") return PadMode::kEdge;
  if (m == "wrap") return PadMode::kWrap;
  ctx.fail("mode '{}' is not one of constant, reflect, edge, wrap", m);
}

// Where the pads come from: the attribute (Pad-1 `paddings`, Pad-2 `pads`) or input 1 (Pad-11 and later).
const char* pads_attr(const NodeContext& ctx) {
  return ctx.opset() < 2 ? "paddings" : ctx.opset() < 11 ? "pads" : nullptr;
}

// Fails unless pads (given for every axis) hold a begin and an end per axis of `of`.
void check_pads_length(const NodeContext& ctx, size_t length, const RankOf& of) {
  if (const char* attr = pads_attr(ctx)) check_axis_attr(ctx, attr, length, AxisSpan::kAxesTwice, of);
  else check_axis_input(ctx, "pads", length, AxisSpan::kAxesTwice, of);
}

// Expands the pads of `axes` to [begin_0..begin_{r-1}, end_0..end_{r-1}] over every axis.
std::vector<int64_t> full_pads(const NodeContext& ctx, const std::vector<int64_t>& pads,
                               const std::optional<std::vector<int64_t>>& axes, int64_t rank) {
  if (!axes) {
    check_pads_length(ctx, pads.size(), {static_cast<size_t>(rank), "the input"});
    return pads;
  }
  if (pads.size() != 2 * axes->size())
    ctx.bad_input("pads has {} entries but {} axes need {}", pads.size(), axes->size(), 2 * axes->size());
  std::vector<int64_t> full(static_cast<size_t>(2 * rank), 0);
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t k = 0; k < axes->size(); ++k) {
    const auto a = static_cast<size_t>(normalize_axis(ctx, (*axes)[k], rank));
    if (seen[a]) ctx.fail("axis {} is listed twice in axes", a);
    seen[a] = true;
    full[a] = pads[k];
    full[a + static_cast<size_t>(rank)] = pads[k + axes->size()];
  }
  return full;
}

int64_t padded_dim(const NodeContext& ctx, int64_t dim, int64_t begin, int64_t end, size_t axis) {
  int64_t out = checked_add(checked_add(dim, begin, "padded dim"), end, "padded dim");
  if (out < 0) ctx.bad_input("pads {} and {} on axis {} of size {} leave a negative size", begin, end, axis, dim);
  return out;
}

// Source position for padded position c (outside [0, dim)), or -1 for the constant fill.
int64_t source_of(int64_t c, int64_t dim, PadMode mode) {
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return c < 0 ? 0 : dim - 1;
    case PadMode::kWrap: return ((c % dim) + dim) % dim;
    case PadMode::kReflect: {
      if (dim == 1) return 0;
      const int64_t period = 2 * (dim - 1);  // reflecting repeatedly is periodic: 0 1 2 1 0 1 2 ...
      const int64_t m = ((c % period) + period) % period;
      return m < dim ? m : period - m;
    }
  }
  return -1;
}

// The fill value as a scalar of `dtype`: Pad-11's input, Pad-2's float attribute, or zero.
Tensor constant_fill(const KernelContext& ctx, DType dtype) {
  if (ctx.opset() >= 11) {
    if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
      const Tensor& v = ctx.input(2);
      if (v.dtype() != dtype) ctx.fail("constant_value is {} but data is {}", dtype_name(v.dtype()), dtype_name(dtype));
      return v;
    }
    return Tensor(dtype, {});
  }
  Tensor v(dtype, {});
  const float f = ctx.attr_float("value", 0.0f);
  if (dtype != DType::kString) {
    visit_numeric_or_bool(dtype, [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        v.data<T>()[0] = f != 0;
      } else if constexpr (std::is_integral_v<T>) {
        const double lo = static_cast<double>(std::numeric_limits<T>::lowest()),
                     hi = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
        if (!(f >= lo && f < hi))
          ctx.fail("value {} does not fit the data type {}", f, dtype_name(dtype));
        v.data<T>()[0] = static_cast<T>(f);
      } else {
        v.data<T>()[0] = static_cast<T>(f);
      }
    }, "Pad");
  }
  return v;
}

std::vector<int64_t> kernel_pads(const KernelContext& ctx, int64_t rank) {
  if (ctx.opset() < 2) return full_pads(ctx, ctx.attr_ints("paddings"), std::nullopt, rank);
  if (ctx.opset() < 11) return full_pads(ctx, ctx.attr_ints("pads"), std::nullopt, rank);
  std::optional<std::vector<int64_t>> axes;
  if (ctx.opset() >= 18 && ctx.has_input(3)) axes = read_int_list(ctx, ctx.input(3), "axes");
  return full_pads(ctx, read_int_list(ctx, ctx.input(1), "pads"), axes, rank);
}

void compute_pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const auto rank = static_cast<int64_t>(x.rank());
  const PadMode mode = pad_mode(ctx);
  const std::vector<int64_t> pads = kernel_pads(ctx, rank);
  for (size_t k = 0; k < x.rank(); ++k) {
    const int64_t dim = x.dim(k), out = padded_dim(ctx, dim, pads[k], pads[k + x.rank()], k);
    if (out != y.dim(k)) ctx.bad_input("output dim {} is {} but the pads give {}", k, y.dim(k), out);
    if (dim == 0 && out > 0 && mode != PadMode::kConstant)
      ctx.bad_input("cannot pad axis {} in {} mode: it is empty, so there is nothing to repeat", k,
                    ctx.attr_string("mode", "constant"));
  }
  if (y.numel() == 0) return;  // (a huge dim beside a 0 must not size the tables)
  const std::vector<int64_t> strides = strides_of(x.dims());
  std::vector<std::vector<int64_t>> tables(x.rank());
  for (size_t k = 0; k < x.rank(); ++k) {
    const int64_t dim = x.dim(k), begin = pads[k], out = y.dim(k);
    tables[k].resize(static_cast<size_t>(out));
    for (int64_t o = 0; o < out; ++o) {
      int64_t c;
      if (__builtin_sub_overflow(o, begin, &c)) c = -1;
      const int64_t src = (c >= 0 && c < dim) ? c : source_of(c, dim, mode);
      tables[k][static_cast<size_t>(o)] = src < 0 ? -1 : src * strides[k];
    }
  }
  const Tensor fill = constant_fill(ctx, x.dtype());
  gather_by_axis_tables(x, y, tables, &fill);
}

void infer_pad(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const DType t = ctx.input_type(0);
  pad_mode(ctx);
  if (!in.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const auto rank = static_cast<int64_t>(in.rank());
  std::optional<std::vector<int64_t>> pads, axes;
  bool axes_unknown = false;
  if (ctx.opset() < 2) {
    pads = full_pads(ctx, ctx.attr_ints("paddings"), std::nullopt, rank);
  } else if (ctx.opset() < 11) {
    pads = full_pads(ctx, ctx.attr_ints("pads"), std::nullopt, rank);
  } else {
    require_index_type(ctx, ctx.input_type(1), "pads");
    if (ctx.has_input(2) && types_differ(ctx.input_type(2), t))
      ctx.fail("constant_value is {} but data is {}", dtype_name(ctx.input_type(2)), dtype_name(t));
    if (ctx.opset() >= 18 && ctx.has_input(3)) {
      require_index_type(ctx, ctx.input_type(3), "axes");
      axes = input_ints(ctx, 3);
      axes_unknown = !axes;
    }
    std::optional<std::vector<int64_t>> given = input_ints(ctx, 1);
    if (given && !axes_unknown) pads = full_pads(ctx, *given, axes, rank);
  }
  std::vector<Dim> out = in.dims;
  if (pads) {
    for (size_t k = 0; k < in.rank(); ++k) {
      const int64_t begin = (*pads)[k], end = (*pads)[k + in.rank()];
      const Dim& d = in.dims[k];
      if (d.is_known()) out[k] = Dim(padded_dim(ctx, d.value(), begin, end, k));
      else if (begin != 0 || end != 0) out[k] = Dim();
    }
    known_numel(Shape(out));
  } else if (axes) {
    for (int64_t a : *axes) out[static_cast<size_t>(normalize_axis(ctx, a, rank))] = Dim();
  } else {
    out.assign(in.rank(), Dim());
  }
  ctx.set_output(0, t, Shape(std::move(out)));
  fold_if_known(ctx, compute_pad);
}

// At load: pads' length against the input's rank, when both are known and no axes input narrows the pads.
void validate_pad(const InferContext& ctx) {
  pad_mode(ctx);
  const Shape& in = ctx.input_shape(0);
  if (!in.rank_known) return;
  const RankOf of = rank_of("the input", in);
  if (const char* attr = pads_attr(ctx)) {
    check_pads_length(ctx, ctx.attr_ints(attr).size(), of);
    return;
  }
  const Shape& pads = ctx.input_shape(1);
  const bool axes_given = ctx.opset() >= 18 && ctx.has_input(3);
  if (!axes_given && pads.rank_known && pads.rank() == 1 && pads.dims[0].is_known())
    check_pads_length(ctx, static_cast<size_t>(pads.dims[0].value()), of);
}

}  // namespace

KILN_REGISTER_OP(pad, {.domain = "", .name = "Pad", .versions = {1, 2, 11, 13, 18, 19, 21}, .infer = infer_pad,
                       .compute = compute_pad, .prepare = prepare_pad}
                          .with_validate(validate_pad));

}  // namespace kiln::ops
