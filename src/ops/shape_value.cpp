#include "ops/shape_value.h"

#include "base/checked.h"
#include "ir/dispatch.h"

namespace kiln::ops {

Shape unknown_dims_for_list(const Shape& s) {
  if (s.rank_known && s.rank() == 1 && s.dims[0].is_known() && s.dims[0].value() <= kMaxRank)
    return Shape(std::vector<Dim>(static_cast<size_t>(s.dims[0].value())));
  return Shape::unknown_rank();
}

SymbolicInt sym_number(int64_t v) {
  SymbolicInt e;
  e.number = v;
  return e;
}

SymbolicInt sym_unknown() { return {}; }

SymbolicInt sym_from_dim(const Dim& d) {
  if (d.is_known()) return sym_number(d.value());
  SymbolicInt e;
  if (d.is_symbol()) e.symbol = d.symbol_name();
  return e;
}

Dim dim_from_sym(const SymbolicInt& e) {
  if (e.number) return *e.number >= 0 ? Dim(*e.number) : Dim();
  if (!e.symbol.empty()) return Dim::symbol(e.symbol);
  return Dim();
}

std::optional<std::vector<SymbolicInt>> input_elements(const InferContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return std::nullopt;
  const ValueInfo& info = ctx.input(i);
  if (info.value) {
    const Tensor& t = *info.value;
    if (!dtype_is_integer(t.dtype()) || t.rank() > 1 || t.numel() > kMaxFoldElements) return std::nullopt;
    std::vector<SymbolicInt> out;
    out.reserve(static_cast<size_t>(t.numel()));
    for (int64_t k = 0; k < t.numel(); ++k) out.push_back(sym_number(t.int_at(k)));
    return out;
  }
  if (!info.partial.empty() && info.partial.size() <= static_cast<size_t>(kMaxFoldElements)) return info.partial;
  return std::nullopt;
}

void set_output_elements(InferContext& ctx, size_t i, DType dtype, const std::vector<int64_t>& dims,
                         const std::vector<SymbolicInt>& elements) {
  bool all_numbers = true, any_known = false;
  for (const SymbolicInt& e : elements) {
    all_numbers = all_numbers && e.number.has_value();
    any_known = any_known || e.number.has_value() || !e.symbol.empty();
  }
  if (all_numbers && dtype_is_integer(dtype)) {
    Tensor t(dtype, dims);
    KILN_ASSERT(t.numel() == static_cast<int64_t>(elements.size()));
    visit_integer(dtype, [&]<typename T>() {
      T* p = t.data<T>();
      for (size_t k = 0; k < elements.size(); ++k) p[k] = static_cast<T>(*elements[k].number);
    });
    ctx.set_output_value(i, std::move(t));
    return;
  }
  ctx.set_output(i, dtype, Shape::from(dims));
  if (any_known && dims.size() <= 1) ctx.set_output_partial(i, elements);
}

std::optional<std::vector<int64_t>> input_ints(const InferContext& ctx, size_t i) {
  const Tensor* t = ctx.input_value(i);
  if (!t || !dtype_is_integer(t->dtype())) return std::nullopt;
  return t->to_int64_vector();
}

std::optional<int64_t> known_numel(const Shape& s) {
  if (!s.is_concrete()) return std::nullopt;
  int64_t n = 1;
  for (const Dim& d : s.dims) n = checked_mul(n, d.value(), "element count");
  return n;
}

Dim dim_product(const std::vector<Dim>& dims) {
  int64_t known = 1;
  const Dim* other = nullptr;
  size_t others = 0;
  for (const Dim& d : dims) {
    if (d.is_known()) {
      if (d.value() == 0) return Dim(0);  // zero times anything
      known = checked_mul(known, d.value(), "dim product");
    } else {
      other = &d;
      ++others;
    }
  }
  if (others == 0) return Dim(known);
  if (others == 1 && known == 1 && other->is_symbol()) return *other;
  return Dim();
}

void fold_if_known(InferContext& ctx, ComputeFn compute) {
  std::vector<const Tensor*> inputs(ctx.num_inputs(), nullptr);
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const Tensor* v = ctx.input(i).value;
    if (!v || v->numel() > kMaxFoldElements) return;
    inputs[i] = v;
  }
  std::vector<Tensor> outputs(ctx.num_outputs());
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    const ValueInfo& out = ctx.output(i);
    if (out.dtype == DType::kUndefined || out.value) return;  // nothing inferred, or already known
    if (!out.shape.is_concrete()) continue;                   // a data-dependent size: the kernel allocates
    std::optional<int64_t> n = known_numel(out.shape);
    if (!n || *n > kMaxFoldElements) return;
    outputs[i] = Tensor(out.dtype, out.shape.values());
  }
  try {
    KernelContext kctx(ctx.node(), ctx.node_index(), ctx.opset(), inputs, outputs, nullptr);
    compute(kctx);
  } catch (const Error&) {
    return;  // the kernel reports the problem at run time
  }
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].defined() && outputs[i].numel() <= kMaxFoldElements) ctx.set_output_value(i, outputs[i]);
}

void require_type(const NodeContext& ctx, DType dtype, DType want, const char* what) {
  if (dtype != DType::kUndefined && dtype != want)
    ctx.fail("{} must be {}, but it is {}", what, dtype_name(want), dtype_name(dtype));
}

bool types_differ(DType a, DType b) { return a != DType::kUndefined && b != DType::kUndefined && a != b; }

void require_index_type(const NodeContext& ctx, DType dtype, const char* what) {
  if (dtype != DType::kInt64 && dtype != DType::kInt32 && dtype != DType::kUndefined)
    ctx.fail("{} must be int32 or int64, but it is {}", what, dtype_name(dtype));
}

std::vector<int64_t> read_int_list(const NodeContext& ctx, const Tensor& t, const char* what) {
  require_index_type(ctx, t.dtype(), what);
  if (t.rank() > 1) ctx.bad_input("{} must be a 1-D list, but it has shape {}", what, dims_str(t.dims()));
  return t.to_int64_vector();
}

}  // namespace kiln::ops
