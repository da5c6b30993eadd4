// Prepared DepthToSpace and SpaceToDepth: each is one 6-D strided view of the input (the reference's reshape,
// transpose, reshape) copied by the data-movement engine, computed per run into fixed arrays: no allocation.
// DepthToSpace of 4-byte elements instead interleaves whole rows (interleave_rows below). Anything else (not 4-D,
// strings, sizes the reference refuses) runs the reference, which reports the error.

#include <array>
#include <cstring>

#include "kernels/copy/strided_copy.h"
#include "kernels/plane_split.h"

#include "ops/movement_prepared.h"
#include "ops/prepared_util.h"

namespace kiln::ops {
namespace {

using Dims6 = std::array<int64_t, 6>;

// DepthToSpace's output row h * b + i of channel c is b input rows (channels ch(c, i, j), row h) interleaved: column
// w * b + j is element w of row j. The strided view's innermost run is only b elements, one from each of b planes
// (super_resolution's pixel shuffle, b = 3 on 9 x 224 x 224: 0.73 ms), so rows are written whole instead, each
// source row read once in order. B > 0: the block size as a constant (the compiler unrolls the j loop); 0: any.
template <int B>
void interleave_rows(const uint32_t* const* src, int64_t b, int64_t w, uint32_t* dst) {
  const int64_t bb = B > 0 ? B : b;
  for (int64_t x = 0; x < w; ++x)
    for (int64_t j = 0; j < bb; ++j) dst[x * bb + j] = src[j][x];
}

using InterleaveFn = void (*)(const uint32_t* const*, int64_t, int64_t, uint32_t*);
InterleaveFn interleave_for(int64_t b) {
  switch (b) {
    case 2: return interleave_rows<2>;
    case 3: return interleave_rows<3>;
    case 4: return interleave_rows<4>;
    default: return interleave_rows<0>;
  }
}
// Block sizes up to this take the row path (its source rows in a fixed array); larger ones the strided view.
constexpr int64_t kMaxInterleave = 16;

// y = DepthToSpace(x) for 4-byte elements, rows split over the pool by planes and bands (kernels/plane_split.h).
void depth_to_space_rows(const uint32_t* x, uint32_t* y, int64_t n, int64_t c, int64_t h, int64_t w, int64_t b,
                         bool crd, kernels::ThreadPool* pool) {
  const int64_t cb = c / (b * b), plane = h * w, ow = w * b;
  const InterleaveFn run = interleave_for(b);
  kernels::for_plane_rows(pool, n * cb, h * b, ow, [&](int64_t p0, int64_t p1, int64_t r0, int64_t r1) {
    const uint32_t* src[kMaxInterleave];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t in = p / cb, oc = p % cb;
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t hh = r / b, i = r % b;
        for (int64_t j = 0; j < b; ++j) {
          const int64_t ch = crd ? (oc * b + i) * b + j : (i * b + j) * cb + oc;
          src[j] = x + (in * c + ch) * plane + hh * w;
        }
        run(src, b, w, y + (p * h * b + r) * ow);
      }
    }
  });
}

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
      if (dtype_size(x.dtype()) == 4 && b <= kMaxInterleave)
        return depth_to_space_rows(static_cast<const uint32_t*>(x.raw_data()), static_cast<uint32_t*>(y.raw_data()),
                                   n, c, h, w, b, crd_, ctx.threads());
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
           (depth_to_space_ && block_ <= kMaxInterleave ? " rows interleaved (4-byte elements)" : " strided_copy");
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
