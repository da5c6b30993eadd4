// Col2Im (opset 18): the inverse of im2col. input [N, C * prod(block_shape), L] holds, for each of the L
// sliding-block positions, the block's C * prod(block) values; they are summed back into an image
// [N, C, image_shape...]. Where blocks overlap their values add up.

#include <type_traits>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/axis_attr.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"

namespace kiln::ops {
namespace {

struct Col2ImGeometry {
  std::vector<int64_t> image, block, strides, dilations, pad_begin, blocks;  // per spatial dim
  int64_t channels = 0, block_size = 1, block_count = 1;
};

/// The output's rank as the per-spatial-dim lists must fit it: N, C and one dim per image_shape value.
RankOf output_rank(const std::vector<Dim>& image) {
  const std::string dims = Shape(image).str();  // "[3,3]"
  return {image.size() + 2, fmt::format("the output [N,C,{} (N, C, then image_shape)", dims.substr(1))};
}

/// strides, dilations and pads, each checked against the output's rank before use.
void read_lists(const NodeContext& ctx, const RankOf& of, Col2ImGeometry& g, std::vector<int64_t>& pads) {
  const size_t n = of.rank - 2;
  g.strides = ctx.attr_ints("strides", std::vector<int64_t>(n, 1));
  check_axis_attr(ctx, "strides", g.strides.size(), AxisSpan::kSpatial, of);
  g.dilations = ctx.attr_ints("dilations", std::vector<int64_t>(n, 1));
  check_axis_attr(ctx, "dilations", g.dilations.size(), AxisSpan::kSpatial, of);
  pads = ctx.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  check_axis_attr(ctx, "pads", pads.size(), AxisSpan::kSpatialTwice, of);
}

/// Checks the attributes against the spatial rank and derives the block grid; `in_dims` is the input shape.
Col2ImGeometry col2im_geometry(const NodeContext& ctx, const std::vector<int64_t>& in_dims,
                               std::vector<int64_t> image, std::vector<int64_t> block) {
  Col2ImGeometry g;
  const size_t n = image.size();
  if (n == 0) ctx.bad_input("image_shape is empty; it needs one value per spatial dim");
  const RankOf of = output_rank(Shape::from(image).dims);
  check_axis_input(ctx, "block_shape", block.size(), AxisSpan::kSpatial, of);
  std::vector<int64_t> pads;
  read_lists(ctx, of, g, pads);
  for (size_t i = 0; i < n; ++i) {
    if (image[i] < 0 || block[i] <= 0) ctx.bad_input("image_shape {} and block_shape {} need sizes > 0", dims_str(image), dims_str(block));
    if (g.strides[i] <= 0 || g.dilations[i] <= 0 || pads[i] < 0 || pads[n + i] < 0)
      ctx.fail("strides and dilations must be positive and pads not negative");
    // Blocks along this dim: (image + pads - dilated block) / stride + 1, computed with checked arithmetic.
    const int64_t span = checked_add(checked_mul(g.dilations[i], block[i] - 1), 1);
    const int64_t room = checked_add(checked_add(image[i], pads[i]), pads[n + i]) - span;
    if (room < 0) ctx.bad_input("block {} (dilated {}) does not fit padded image dim {} of {}", block[i], span, i, image[i]);
    g.blocks.push_back(room / g.strides[i] + 1);
    g.block_size = checked_mul(g.block_size, block[i]);
    g.block_count = checked_mul(g.block_count, g.blocks.back());
  }
  g.pad_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(n));
  if (in_dims.size() != 3) ctx.bad_input("input must be [N, C * prod(block_shape), L], but it is {}", dims_str(in_dims));
  if (in_dims[1] % g.block_size != 0)
    ctx.bad_input("input dim 1 ({}) is not a multiple of the block size {}", in_dims[1], g.block_size);
  if (in_dims[2] != g.block_count)
    ctx.bad_input("input dim 2 ({}) must equal the number of sliding blocks {} ({})", in_dims[2], g.block_count,
                  dims_str(g.blocks));
  g.channels = in_dims[1] / g.block_size;
  g.image = std::move(image);
  g.block = std::move(block);
  return g;
}

void infer_col2im(InferContext& ctx) {
  for (size_t i : {1, 2})
    if (ctx.input_type(i) != DType::kInt64) ctx.fail("input {} must be int64, not {}", i, dtype_name(ctx.input_type(i)));
  const Shape& in = ctx.input_shape(0);
  if (in.rank_known && in.rank() != 3) ctx.fail("input must be 3-D [N, C * prod(block_shape), L], but it is {}", in.str());
  const std::optional<std::vector<int64_t>> image = input_ints(ctx, 1), block = input_ints(ctx, 2);
  const DType t = ctx.input_type(0);
  if (image && block && in.is_concrete()) {
    const Col2ImGeometry g = col2im_geometry(ctx, in.values(), *image, *block);
    std::vector<int64_t> out{in.dims[0].value(), g.channels};
    out.insert(out.end(), g.image.begin(), g.image.end());
    ctx.set_output(0, t, Shape::from(out));
    return;
  }
  // Without the values only the batch dim and the rank (from image_shape's length) are known.
  const Shape& img = ctx.input_shape(1);
  if (!img.rank_known || img.rank() != 1 || !img.dims[0].is_known() || img.dims[0].value() > kMaxRank) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  std::vector<Dim> out{in.rank_known ? in.dims[0] : Dim(), Dim()};
  for (int64_t i = 0; i < img.dims[0].value(); ++i)
    out.push_back(image ? Dim((*image)[static_cast<size_t>(i)]) : Dim());
  Col2ImGeometry g;
  std::vector<int64_t> pads;
  read_lists(ctx, output_rank({out.begin() + 2, out.end()}), g, pads);
  ctx.set_output(0, t, Shape(out));
}

// At load: the lists against image_shape's length, known from its shape or its value (an initializer).
void validate_col2im(const InferContext& ctx) {
  const Shape& img = ctx.input_shape(1);
  if (!img.rank_known || img.rank() != 1 || !img.dims[0].is_known() || img.dims[0].value() > kMaxRank) return;
  std::vector<Dim> image(static_cast<size_t>(img.dims[0].value()));
  if (const std::optional<std::vector<int64_t>> v = input_ints(ctx, 1)) image = Shape::from(*v).dims;
  if (image.empty()) ctx.fail("image_shape is empty; it needs one value per spatial dim");
  const RankOf of = output_rank(image);
  Col2ImGeometry g;
  std::vector<int64_t> pads;
  read_lists(ctx, of, g, pads);
  const Shape& block = ctx.input_shape(2);
  if (block.rank_known && block.rank() == 1 && block.dims[0].is_known())
    check_axis_input(ctx, "block_shape", static_cast<size_t>(block.dims[0].value()), AxisSpan::kSpatial, of);
}

template <typename T> void run_col2im(const Col2ImGeometry& g, int64_t batch, const T* in, T* out) {
  // Integers sum in uint64 (wrapping, never undefined), floats in double.
  using Acc = std::conditional_t<is_float_like_v<T>, double, uint64_t>;
  const size_t n = g.image.size();
  const int64_t image_size = product(g.image, 0, n);
  std::vector<Acc> acc(static_cast<size_t>(image_size));
  std::vector<int64_t> koff(n), bpos(n);
  for (int64_t p = 0; p < batch * g.channels; ++p) {
    std::fill(acc.begin(), acc.end(), Acc{});
    const T* col = in + p * g.block_size * g.block_count;
    for (int64_t k = 0; k < g.block_size; ++k) {
      for (size_t d = n, rest = static_cast<size_t>(k); d-- > 0;) {  // k as a position inside the block
        koff[d] = static_cast<int64_t>(rest) % g.block[d];
        rest /= static_cast<size_t>(g.block[d]);
      }
      std::fill(bpos.begin(), bpos.end(), 0);
      for (int64_t l = 0; l < g.block_count; ++l) {
        int64_t at = 0;
        bool inside = true;
        for (size_t d = 0; d < n && inside; ++d) {
          const int64_t x = bpos[d] * g.strides[d] - g.pad_begin[d] + koff[d] * g.dilations[d];
          inside = x >= 0 && x < g.image[d];
          at = at * g.image[d] + x;
        }
        if (inside) {
          const T v = col[k * g.block_count + l];
          if constexpr (is_float_like_v<T>) acc[static_cast<size_t>(at)] += to_double(v);
          else acc[static_cast<size_t>(at)] += static_cast<Acc>(v);
        }
        for (size_t d = n; d-- > 0;) {  // next block position, last dim fastest
          if (++bpos[d] < g.blocks[d]) break;
          bpos[d] = 0;
        }
      }
    }
    T* o = out + p * image_size;
    for (int64_t i = 0; i < image_size; ++i) {
      if constexpr (is_float_like_v<T>) o[i] = from_double<T>(acc[static_cast<size_t>(i)]);
      else o[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
    }
  }
}

void compute_col2im(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Col2ImGeometry g = col2im_geometry(ctx, x.dims(), read_int_list(ctx, ctx.input(1), "image_shape"),
                                           read_int_list(ctx, ctx.input(2), "block_shape"));
  visit_numeric(x.dtype(), [&]<typename T>() {
    run_col2im<T>(g, x.dim(0), x.data<T>(), ctx.output(0).data<T>());
  }, "Col2Im");
}

}  // namespace

KILN_REGISTER_OP(col2im, {"", "Col2Im", {18}, 0, infer_col2im, compute_col2im}.with_validate(validate_col2im));

}  // namespace kiln::ops
