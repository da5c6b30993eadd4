// MaxUnpool: scatters pooled values back to the positions MaxPool's Indices name; everything else is zero.

#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/window.h"

namespace kiln::ops {
namespace {

WindowAttrs unpool_attrs(const NodeContext& ctx, const Shape& x) {
  const RankOf of = rank_of("X", x);
  std::vector<int64_t> k = kernel_shape_attr(ctx, of);
  if (k.empty()) ctx.fail("required attribute 'kernel_shape' is missing");
  return read_window_attrs(ctx, of, std::move(k), false);
}

// Default output spatial size: (in - 1) * stride + kernel - pads (MaxPool's shape rule inverted).
std::vector<Dim> default_unpool_dims(const NodeContext& ctx, const Shape& x) {
  const size_t spatial = x.rank() - 2;
  const WindowAttrs a = unpool_attrs(ctx, x);
  const std::vector<int64_t>& k = a.kernel;
  std::vector<Dim> dims{x.dims[0], x.dims[1]};
  for (size_t i = 0; i < spatial; ++i) {
    const Dim& d = x.dims[2 + i];
    if (!d.is_known()) {
      dims.emplace_back();
      continue;
    }
    const int64_t out = checked_add(checked_mul(d.value() - 1, a.strides[i]), k[i]) - a.pads[i] - a.pads[spatial + i];
    if (out < 0) ctx.bad_input("input {} gives a negative output size along spatial dim {}", x.str(), i);
    dims.emplace_back(out);
  }
  return dims;
}

// At load: the window attributes against X's rank, and a known output_shape against it.
void validate_max_unpool(const InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  if (!x.rank_known) return;
  if (x.rank() < 3) ctx.fail("input must have rank >= 3 (N, C, spatial...), got {}", x.str());
  unpool_attrs(ctx, x);
  if (const Tensor* shape = ctx.input_value(2))
    check_axis_input(ctx, "output_shape", static_cast<size_t>(shape->numel()), AxisSpan::kAxes, rank_of("X", x));
}

void infer_max_unpool(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.unsupported("MaxUnpool takes float types, got {}", dtype_name(t));
  if (ctx.input_type(1) != DType::kInt64) ctx.fail("indices must be int64, got {}", dtype_name(ctx.input_type(1)));
  const Shape& x = ctx.input_shape(0);
  if (x.rank_known && x.rank() < 3) ctx.fail("input must have rank >= 3 (N, C, spatial...), got {}", x.str());
  if (ctx.has_input(2)) {
    if (const Tensor* shape = ctx.input_value(2)) {
      std::vector<int64_t> dims = shape->to_int64_vector();
      if (x.rank_known) check_axis_input(ctx, "output_shape", dims.size(), AxisSpan::kAxes, rank_of("X", x));
      for (int64_t d : dims)
        if (d < 0) ctx.bad_input("output_shape {} has a negative dim", dims_str(dims));
      ctx.set_output(0, t, Shape::from(dims));
    } else {
      ctx.set_output(0, t, x.rank_known ? Shape(std::vector<Dim>(x.rank())) : Shape::unknown_rank());
    }
    return;
  }
  ctx.set_output(0, t, x.rank_known ? Shape(default_unpool_dims(ctx, x)) : Shape::unknown_rank());
}

void compute_max_unpool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& idx = ctx.input(1);
  if (idx.dims() != x.dims())
    ctx.bad_input("indices {} must have the shape of the input {}", dims_str(idx.dims()), dims_str(x.dims()));
  if (x.rank() < 3) ctx.bad_input("input must have rank >= 3 (N, C, spatial...), got {}", dims_str(x.dims()));
  Tensor& y = ctx.output(0);
  if (y.rank() != x.rank() || y.dim(0) != x.dim(0) || y.dim(1) != x.dim(1))
    ctx.bad_input("output_shape {} must keep the input's rank, batch and channels ({})", dims_str(y.dims()),
                  dims_str(x.dims()));
  // Indices are flat positions in the tensor MaxPool read (the default unpooled shape); with an explicit
  // output_shape each one is re-laid into the larger spatial dims, as the ONNX reference does.
  const std::vector<int64_t> pooled = Shape(default_unpool_dims(ctx, Shape::from(x.dims()))).values();
  const size_t spatial = x.rank() - 2;
  const int64_t pooled_plane = product(pooled, 2, pooled.size()), out_plane = product(y.dims(), 2, y.rank());
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t* ip = idx.data<int64_t>();
  visit_float(x.dtype(), [&]<typename T>() {
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    for (int64_t i = 0; i < y.numel(); ++i) ys[i] = T(0.0f);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t v = ip[i];
      if (v < 0 || pooled_plane == 0 || v / pooled_plane >= planes)
        ctx.bad_input("index {} at position {} is outside the unpooled tensor {}", v, i, dims_str(pooled));
      int64_t rest = v % pooled_plane, pos = 0, scale = 1;
      for (size_t d = spatial; d-- > 0;) {
        const int64_t coord = rest % pooled[2 + d];
        rest /= pooled[2 + d];
        if (coord >= y.dim(2 + d))
          ctx.bad_input("index {} lands outside output_shape {}", v, dims_str(y.dims()));
        pos += coord * scale;
        scale *= y.dim(2 + d);
      }
      ys[(v / pooled_plane) * out_plane + pos] = xs[i];
    }
  }, "MaxUnpool");
}

}  // namespace

KILN_REGISTER_OP(max_unpool, {"", "MaxUnpool", {9, 11, 22}, 0, infer_max_unpool, compute_max_unpool}
                              .with_validate(validate_max_unpool));

}  // namespace kiln::ops
