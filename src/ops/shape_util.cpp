#include "ops/shape_util.h"

#include "base/checked.h"

namespace kiln::ops {

int64_t normalize_axis(const NodeContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) ctx.fail("axis {} is out of range for rank {}", axis, rank);
  return axis < 0 ? axis + rank : axis;
}

Shape broadcast_shapes(const NodeContext& ctx, std::span<const Shape> shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) {
    if (!s.rank_known) return Shape::unknown_rank();
    rank = std::max(rank, s.rank());
  }
  std::vector<Dim> out(rank, Dim(1));
  for (size_t k = 0; k < rank; ++k) {
    Dim acc(1);
    for (const Shape& s : shapes) {
      if (k + s.rank() < rank) continue;  // s has no dim here: acts as 1
      const Dim& d = s.dims[k + s.rank() - rank];
      if (d.is_known() && d.value() == 1) continue;
      if (acc.is_known() && acc.value() == 1) {
        acc = d;
      } else if (d.is_known() && acc.is_known()) {
        if (d.value() != acc.value())
          ctx.fail("cannot broadcast dim {} of size {} against size {} (shapes {})", k, d.value(), acc.value(),
                   [&] {
                     std::string all;
                     for (const Shape& x : shapes) all += x.str() + " ";
                     return all;
                   }());
      } else if (d.is_known()) {
        acc = d;  // a symbol against a number > 1 must be that number
      } else if (acc.is_known()) {
        // keep the number
      } else if (!(d == acc)) {
        acc = Dim();  // two different symbols or unknowns: unknown
      }
    }
    out[k] = acc;
  }
  return Shape(std::move(out));
}

std::vector<int64_t> broadcast_dims(const NodeContext& ctx, std::span<const std::vector<int64_t>> dims) {
  std::vector<Shape> shapes;
  shapes.reserve(dims.size());
  for (const auto& d : dims) shapes.push_back(Shape::from(d));
  return broadcast_shapes(ctx, shapes).values();
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& dims, const std::vector<int64_t>& out_dims) {
  std::vector<int64_t> own = strides_of(dims);
  std::vector<int64_t> s(out_dims.size(), 0);
  size_t off = out_dims.size() - dims.size();
  for (size_t i = 0; i < dims.size(); ++i) s[off + i] = dims[i] == 1 ? 0 : own[i];
  return s;
}

void infer_same_as_input(InferContext& ctx) {
  ctx.set_output(0, ctx.input_type(0), ctx.input_shape(0));
}

Dim dim_at(const Shape& s, size_t i) { return s.rank_known && i < s.rank() ? s.dims[i] : Dim(); }
Dim dim_mul(const Dim& a, int64_t b) { return a.is_known() ? Dim(checked_mul(a.value(), b)) : Dim(); }
Dim dim_div(const Dim& a, int64_t b) { return a.is_known() && b > 0 ? Dim(a.value() / b) : Dim(); }
Dim dim_add(const Dim& a, const Dim& b) {
  if (a.is_known() && b.is_known()) return checked_add(a.value(), b.value());
  if (a.is_known() && a.value() == 0) return b;
  return Dim();
}

void expect_dim(const NodeContext& ctx, const Dim& got, const Dim& want, const char* input, int axis,
                const char* expected) {
  if (got.is_known() && want.is_known() && got.value() != want.value())
    ctx.bad_input("{} dim {} is {}, but it must be {} = {}", input, axis, got.value(), expected, want.value());
}

int64_t product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < dims.size(); ++i) p = checked_mul(p, dims[i]);
  return p;
}

}  // namespace kiln::ops
