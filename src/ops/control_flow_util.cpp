#include "ops/control_flow_util.h"


#include "base/checked.h"
#include "ops/shape_util.h"
#include "ops/tensor_copy.h"

namespace kiln::ops::control_flow {

Declared declared_output(const ir::Graph& g, size_t i) {
  if (i >= g.outputs.size()) return {};
  const ir::Value& v = g.value(g.outputs[i]);
  if (!v.type.has_type) return {};
  const ir::FlatType t = ir::flatten_type(v.type);
  if (!t.runnable) return {};
  return {t.dtype, t.shape, t.kind, t.holds, true};
}

ValueInfo Declared::info() const {
  ValueInfo v(dtype, shape);
  v.kind = kind;
  v.holds = holds;
  return v;
}

Shape merge_shapes(const Shape& a, const Shape& b) {
  if (!a.rank_known || !b.rank_known || a.rank() != b.rank()) return Shape::unknown_rank();
  std::vector<Dim> dims(a.rank());
  for (size_t i = 0; i < a.rank(); ++i) dims[i] = a.dims[i] == b.dims[i] ? a.dims[i] : Dim();
  return Shape(std::move(dims));
}

DType merge_dtypes(const NodeContext& ctx, DType a, DType b, const std::string& what) {
  if (a == DType::kUndefined) return b;
  if (b == DType::kUndefined || a == b) return a;
  ctx.fail("{} is {} in one place and {} in another: they must agree", what, dtype_name(a), dtype_name(b));
}

void check_against_declared(const NodeContext& ctx, const Tensor& t, const ir::Graph& g, size_t i,
                            const std::string& what) {
  const Declared d = declared_output(g, i);
  if (d.declared && d.kind != t.kind())
    ctx.fail("{} is a {}, but the graph '{}' declares a {}", what, tensor_kind_name(t.kind()), g.name,
             tensor_kind_name(d.kind));
  if (d.dtype != DType::kUndefined && t.is_optional() && !t.has_element() && t.dtype() == DType::kUndefined)
    return;  // an empty optional made without a type says nothing to contradict
  if (d.dtype != DType::kUndefined && d.dtype != t.dtype())
    ctx.fail("{} is {}, but the graph '{}' declares {}", what, dtype_name(t.dtype()), g.name, dtype_name(d.dtype));
  if (!d.shape.rank_known || !t.is_tensor()) return;
  bool ok = d.shape.rank() == t.rank();
  for (size_t k = 0; ok && k < t.rank(); ++k)
    if (d.shape.dims[k].is_known() && d.shape.dims[k].value() != t.dim(k)) ok = false;
  if (!ok)
    ctx.fail("{} has shape {}, but the graph '{}' declares {}", what, Shape::from(t.dims()).str(), g.name,
             d.shape.str());
}

Tensor slice_along(const Tensor& t, int64_t axis, int64_t index) {
  const std::vector<int64_t>& dims = t.dims();
  const size_t ax = static_cast<size_t>(axis);
  KILN_ASSERT(ax < dims.size() && index >= 0 && index < dims[ax]);
  std::vector<int64_t> out_dims = dims;
  out_dims.erase(out_dims.begin() + axis);
  Tensor out(t.dtype(), out_dims);
  const int64_t outer = product(dims, 0, ax), len = dims[ax], inner = product(dims, ax + 1, dims.size());
  for (int64_t o = 0; o < outer; ++o) copy_elements(t, (o * len + index) * inner, out, o * inner, inner);
  return out;
}

std::vector<int64_t> insert_dim(const std::vector<int64_t>& elem_dims, int64_t axis, int64_t n) {
  std::vector<int64_t> d = elem_dims;
  d.insert(d.begin() + axis, n);
  return d;
}

void stack_into(const std::vector<Tensor>& parts, int64_t axis, bool reverse, Tensor& out) {
  const int64_t n = static_cast<int64_t>(parts.size());
  if (n == 0) return;
  const std::vector<int64_t>& elem = parts[0].dims();
  KILN_ASSERT(out.dims() == insert_dim(elem, axis, n));
  const size_t ax = static_cast<size_t>(axis);
  const int64_t outer = product(elem, 0, ax), inner = product(elem, ax, elem.size());
  for (int64_t k = 0; k < n; ++k) {
    const int64_t pos = reverse ? n - 1 - k : k;
    for (int64_t o = 0; o < outer; ++o)
      copy_elements(parts[static_cast<size_t>(k)], o * inner, out, (o * n + pos) * inner, inner);
  }
}

}  // namespace kiln::ops::control_flow
