// Prepared DepthToSpace and SpaceToDepth: each is one 6-D strided view of the input (the reference's reshape,
// transpose, reshape) copied by the data-movement engine, computed per run into fixed arrays: no allocation.
// Anything else (not 4-D, strings, sizes the reference refuses) runs the reference, which reports the error.

#include <array>

#include "kernels/copy/strided_copy.h"

#include "ops/movement_prepared.h"
#include "ops/prepared_util.h"

namespace kiln::ops {
namespace {

using Dims6 = std::array<int64_t, 6>;

class BlockMoveKernel final : public PreparedKernel {
 public:
  BlockMoveKernel(bool depth_to_space, bool crd, int64_t block, ComputeFn reference)
      : depth_to_space_(depth_to_space), crd_(crd), block_(block), reference_(reference) {}

  void run(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    if (!plain_bytes(x, y) || x.rank() != 4 || y.rank() != 4) return reference_(ctx);
    const int64_t b = block_, n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    // x as 6-D, and the permutation that gives y as 6-D (the ONNX definitions of the two ops).
    Dims6 x6, perm;
    if (depth_to_space_) {
      if (c % (b * b) != 0 || y.dim(1) != c / (b * b) || y.dim(2) != h * b || y.dim(3) != w * b)
        return reference_(ctx);
      const int64_t cb = c / (b * b);
      x6 = crd_ ? Dims6{n, cb, b, b, h, w} : Dims6{n, b, b, cb, h, w};
      perm = crd_ ? Dims6{0, 1, 4, 2, 5, 3} : Dims6{0, 3, 4, 1, 5, 2};
    } else {
      if (h % b != 0 || w % b != 0 || y.dim(1) != c * b * b || y.dim(2) != h / b || y.dim(3) != w / b)
        return reference_(ctx);
      x6 = {n, c, h / b, b, w / b, b};
      perm = crd_ ? Dims6{0, 1, 3, 5, 2, 4} : Dims6{0, 3, 5, 1, 2, 4};
    }
    int64_t x_strides[6], dims[6], src_strides[6];
    kernels::contiguous_strides(x6.data(), 6, x_strides);
    for (size_t k = 0; k < 6; ++k) {
      const auto p = static_cast<size_t>(perm[k]);
      dims[k] = x6[p];
      src_strides[k] = x_strides[p];
    }
    if (!copy_view(ctx, x, y, dims, src_strides, 6, 0)) reference_(ctx);
  }
  std::string describe() const override {
    return std::string(depth_to_space_ ? "depth_to_space" : "space_to_depth") + (crd_ ? " CRD" : " DCR") +
           " strided_copy";
  }

 private:
  bool depth_to_space_, crd_;
  int64_t block_;
  ComputeFn reference_;
};

// The attributes as the reference reads them (DepthToSpace's mode from opset 11; SpaceToDepth's whenever given);
// values the reference refuses get no fast kernel, so the reference reports them.
std::unique_ptr<PreparedKernel> prepare_block_move(PrepareContext& ctx, bool depth_to_space) {
  if (!movable_input(ctx)) return nullptr;
  const int64_t b = ctx.attr_int("blocksize", 0);
  const std::string mode =
      ctx.opset() >= 11 || !depth_to_space ? ctx.attr_string("mode", "DCR") : std::string("DCR");
  if (b < 1 || b > (int64_t{1} << 20) || (mode != "DCR" && mode != "CRD")) return nullptr;
  return std::make_unique<BlockMoveKernel>(depth_to_space, mode == "CRD", b, reference_compute(ctx));
}

}  // namespace

std::unique_ptr<PreparedKernel> prepare_depth_to_space(PrepareContext& ctx) { return prepare_block_move(ctx, true); }
std::unique_ptr<PreparedKernel> prepare_space_to_depth(PrepareContext& ctx) { return prepare_block_move(ctx, false); }

}  // namespace kiln::ops
