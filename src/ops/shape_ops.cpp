// Ops that make tensors from shapes or attributes: Shape, Size, Constant, ConstantOfShape, Range, EyeLike.
// Their inference records the content whenever it is known, since later shape arithmetic reads it.

#include <cmath>
#include <limits>

#include "base/checked.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// ---- Shape ----

// The [start, end) window of dims Shape-15 returns: negative values count from the end, then both clamp
// to [0, rank].
std::pair<int64_t, int64_t> shape_window(const NodeContext& ctx, int64_t rank) {
  int64_t start = 0, end = rank;
  if (ctx.opset() >= 15) {
    start = ctx.attr_int("start", 0);
    end = ctx.attr_int("end", rank);
  }
  auto fix = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  start = fix(start);
  end = fix(end);
  return {start, std::max(start, end)};
}

void compute_shape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto [start, end] = shape_window(ctx, static_cast<int64_t>(x.rank()));
  Tensor& y = ctx.output(0);
  KILN_ASSERT(y.numel() == end - start);
  for (int64_t k = start; k < end; ++k) y.data<int64_t>()[k - start] = x.dim(static_cast<size_t>(k));
}

void infer_shape(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (!in.rank_known) {
    ctx.set_output(0, DType::kInt64, Shape({Dim()}));
    return;
  }
  auto [start, end] = shape_window(ctx, static_cast<int64_t>(in.rank()));
  std::vector<SymbolicInt> elems;
  for (int64_t k = start; k < end; ++k) elems.push_back(sym_from_dim(in.dims[static_cast<size_t>(k)]));
  set_output_elements(ctx, 0, DType::kInt64, {end - start}, elems);
}

// ---- Size ----

void compute_size(KernelContext& ctx) { ctx.output(0).data<int64_t>()[0] = ctx.input(0).numel(); }

void infer_size(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (!in.rank_known) {
    ctx.set_output(0, DType::kInt64, Shape());
    return;
  }
  set_output_elements(ctx, 0, DType::kInt64, {}, {sym_from_dim(dim_product(in.dims))});
}

// ---- Constant ----

Tensor constant_tensor(const NodeContext& ctx) {
  static constexpr const char* kForms[] = {"value",      "value_float",  "value_floats",  "value_int",
                                           "value_ints", "value_string", "value_strings", "sparse_value"};
  std::vector<std::string> present;
  for (const char* f : kForms)
    if (ctx.has_attr(f)) present.emplace_back(f);
  if (present.size() != 1)
    ctx.fail("needs exactly one of value, value_float(s), value_int(s), value_string(s), sparse_value; got {}",
             present.empty() ? std::string("none") : fmt::format("{}", fmt::join(present, ", ")));
  const std::string& f = present[0];
  if (f == "sparse_value")
    ctx.unsupported("sparse_value is not supported: kiln holds dense tensors only; store the constant as a dense "
                    "'value' tensor instead");
  if (f == "value") {
    const Tensor& t = ctx.attr_tensor("value");
    if (!t.defined()) ctx.fail("attribute 'value' holds no tensor data");
    return t;
  }
  if (f == "value_float") return Tensor::scalar<float>(ctx.attr_float("value_float", 0));
  if (f == "value_int") return Tensor::scalar<int64_t>(ctx.attr_int("value_int"));
  if (f == "value_string") return Tensor::scalar<std::string>(ctx.attr_string("value_string"));
  if (f == "value_floats") {
    std::vector<float> v = ctx.attr_floats("value_floats");
    return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (f == "value_ints") {
    std::vector<int64_t> v = ctx.attr_ints("value_ints");
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  std::vector<std::string> v = ctx.attr_strings("value_strings");
  return Tensor::from_vector<std::string>({static_cast<int64_t>(v.size())}, v);
}

void compute_constant(KernelContext& ctx) { copy_all(constant_tensor(ctx), ctx.output(0)); }

// The content is always known; the tensor shares the attribute's memory.
void infer_constant(InferContext& ctx) { ctx.set_output_value(0, constant_tensor(ctx)); }

// ---- ConstantOfShape ----

Tensor fill_value(const NodeContext& ctx) {
  if (!ctx.has_attr("value")) return Tensor::scalar<float>(0.0f);
  const Tensor& v = ctx.attr_tensor("value");
  if (!v.defined() || v.numel() != 1) ctx.fail("attribute 'value' must hold exactly one element");
  if (v.dtype() == DType::kString) ctx.fail("attribute 'value' must be numeric or bool, not string");
  return v;
}

void compute_constant_of_shape(KernelContext& ctx) {
  Tensor v = fill_value(ctx);
  Tensor& y = ctx.output(0);
  visit_storage(y.dtype(), [&]<typename S>() {
    std::fill(storage_data<S>(y), storage_data<S>(y) + y.numel(), storage_data<S>(v)[0]);
  });
}

void infer_constant_of_shape(InferContext& ctx) {
  require_type(ctx, ctx.input_type(0), DType::kInt64, "the shape input");
  const DType t = fill_value(ctx).dtype();
  if (std::optional<std::vector<SymbolicInt>> elems = input_elements(ctx, 0)) {
    std::vector<Dim> dims;
    for (size_t k = 0; k < elems->size(); ++k) {
      const SymbolicInt& e = (*elems)[k];
      if (e.number && *e.number < 0) ctx.bad_input("shape[{}] is {}; dims must not be negative", k, *e.number);
      dims.push_back(dim_from_sym(e));
    }
    known_numel(Shape(dims));  // checked arithmetic: an element count that overflows fails here, clearly
    ctx.set_output(0, t, Shape(std::move(dims)));
  } else {
    ctx.set_output(0, t, unknown_dims_for_list(ctx.input_shape(0)));
  }
  fold_if_known(ctx, compute_constant_of_shape);
}

// ---- Range ----

// Element count max(ceil((limit - start) / delta), 0), computed without overflow.
template <typename T> int64_t range_count(const NodeContext& ctx, T start, T limit, T delta) {
  if constexpr (std::is_integral_v<T>) {
    if (delta == 0) ctx.bad_input("delta must not be 0");
    // |limit - start| and |delta| fit in uint64_t even when they overflow int64_t.
    const auto s = static_cast<int64_t>(start), l = static_cast<int64_t>(limit), d = static_cast<int64_t>(delta);
    if (d > 0 ? l <= s : l >= s) return 0;
    const uint64_t span = d > 0 ? static_cast<uint64_t>(l) - static_cast<uint64_t>(s)
                                : static_cast<uint64_t>(s) - static_cast<uint64_t>(l);
    const uint64_t step = d > 0 ? static_cast<uint64_t>(d) : uint64_t{0} - static_cast<uint64_t>(d);
    const uint64_t n = (span - 1) / step + 1;
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(ErrorCode::kLimitExceeded, "Range from {} to {} by {} would hold too many elements", s, l, d);
    return static_cast<int64_t>(n);
  } else {
    const double s = static_cast<double>(start), l = static_cast<double>(limit), d = static_cast<double>(delta);
    if (d == 0) ctx.bad_input("delta must not be 0");
    const double n = std::ceil((l - s) / d);
    if (std::isnan(n)) ctx.bad_input("start {}, limit {} and delta {} give no element count", s, l, d);
    if (n <= 0) return 0;
    if (n >= 9.2e18) fail(ErrorCode::kLimitExceeded, "Range from {} to {} by {} would hold too many elements", s, l, d);
    return static_cast<int64_t>(n);
  }
}

void check_range_inputs(const NodeContext& ctx, DType a, DType b, DType c) {
  if (a == DType::kUndefined || b == DType::kUndefined || c == DType::kUndefined) return;  // not inferred yet
  if (a != b || a != c)
    ctx.fail("start, limit and delta must share a type; got {}, {}, {}", dtype_name(a), dtype_name(b), dtype_name(c));
  // ONNX lists float, double, int16, int32 and int64 (newer opsets add half floats); any number works here.
  if (!dtype_is_float(a) && !dtype_is_integer(a)) ctx.fail("Range takes numbers, not {}", dtype_name(a));
}

void compute_range(KernelContext& ctx) {
  const Tensor &s = ctx.input(0), &l = ctx.input(1), &d = ctx.input(2);
  check_range_inputs(ctx, s.dtype(), l.dtype(), d.dtype());
  if (s.numel() != 1 || l.numel() != 1 || d.numel() != 1) ctx.bad_input("start, limit and delta must be scalars");
  visit_numeric(s.dtype(), [&]<typename T>() {
    const T start = s.data<T>()[0], delta = d.data<T>()[0];
    const int64_t n = range_count<T>(ctx, start, l.data<T>()[0], delta);
    Tensor& y = ctx.output(0);
    KILN_ASSERT(y.numel() == n);
    T* out = y.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      // Integers: the true value lies between start and limit, so uint64_t wrap-around arithmetic gives it.
      if constexpr (std::is_integral_v<T>)
        out[i] = static_cast<T>(static_cast<uint64_t>(start) + static_cast<uint64_t>(i) * static_cast<uint64_t>(delta));
      else out[i] = static_cast<T>(static_cast<double>(start) + static_cast<double>(i) * static_cast<double>(delta));
    }
  }, "Range");
}

void infer_range(InferContext& ctx) {
  check_range_inputs(ctx, ctx.input_type(0), ctx.input_type(1), ctx.input_type(2));
  const Tensor *s = ctx.input_value(0), *l = ctx.input_value(1), *d = ctx.input_value(2);
  Dim n;
  if (s && l && d && s->numel() == 1 && l->numel() == 1 && d->numel() == 1) {
    n = visit_numeric(s->dtype(), [&]<typename T>() {
      return range_count<T>(ctx, s->data<T>()[0], l->data<T>()[0], d->data<T>()[0]);
    }, "Range");
  }
  ctx.set_output(0, ctx.input_type(0), Shape({n}));
  fold_if_known(ctx, compute_range);
}

// ---- EyeLike ----

DType eye_type(const NodeContext& ctx, DType input) {
  if (!ctx.has_attr("dtype")) return input;
  int64_t v = ctx.attr_int("dtype");
  if (!dtype_is_known(static_cast<int32_t>(v))) ctx.fail("dtype {} is not an ONNX element type", v);
  auto t = static_cast<DType>(v);
  if (t == DType::kString || !dtype_is_supported(t) || dtype_is_narrow(t))
    ctx.unsupported("EyeLike cannot make {} tensors", dtype_name(t));
  return t;
}

void compute_eye_like(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const int64_t k = ctx.attr_int("k", 0), rows = y.dim(0), cols = y.dim(1);
  visit_numeric_or_bool(y.dtype(), [&]<typename T>() {
    T* out = y.data<T>();
    std::fill(out, out + y.numel(), T());
    if (k >= cols || k <= -rows) return;  // the diagonal misses the matrix (and i + k cannot overflow below)
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t j = i + k;
      if (j >= 0 && j < cols) out[i * cols + j] = T(1);
    }
  }, "EyeLike");
}

void infer_eye_like(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  if (in.rank_known && in.rank() != 2) ctx.fail("input must be 2-D, but it is {}", in.str());
  ctx.set_output(0, eye_type(ctx, ctx.input_type(0)), in.rank_known ? in : Shape({Dim(), Dim()}));
  fold_if_known(ctx, compute_eye_like);
}

}  // namespace

// Shape, Size and EyeLike read only their input's dims (reads_only_input_shapes), so a planner may run them
// as soon as those dims are concrete.
KILN_REGISTER_OP(shape, {"", "Shape", {1, 13, 15, 19, 21}, 0, infer_shape, compute_shape, true});
KILN_REGISTER_OP(size, {"", "Size", {1, 13, 19, 21}, 0, infer_size, compute_size, true});
KILN_REGISTER_OP(constant, {"", "Constant", {1, 9, 11, 12, 13, 19, 21}, 0, infer_constant, compute_constant});
KILN_REGISTER_OP(constant_of_shape,
                 {"", "ConstantOfShape", {9, 20, 21}, 0, infer_constant_of_shape, compute_constant_of_shape});
KILN_REGISTER_OP(range, {"", "Range", {11}, 0, infer_range, compute_range});
KILN_REGISTER_OP(eye_like, {"", "EyeLike", {9, 22}, 0, infer_eye_like, compute_eye_like, true});

}  // namespace kiln::ops
