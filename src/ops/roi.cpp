// Region-of-interest pooling: MaxRoiPool (Caffe's ROI pooling: max over integer bins) and RoiAlign (bilinear
// samples averaged or maxed per bin, ONNX Runtime's sampling rules, which the ONNX reference follows).

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/axis_attr.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

void check_image(const NodeContext& ctx, const Shape& x) {
  if (x.rank_known && x.rank() != 4) ctx.fail("input must be 4-D (N, C, H, W), got {}", x.str());
}

// ---- MaxRoiPool ----

// pooled_shape: a positive height and width, one per spatial dim of the 4-D input.
std::vector<int64_t> pooled_shape(const NodeContext& ctx) {
  std::vector<int64_t> pooled = ctx.attr_ints("pooled_shape", {});
  check_axis_attr(ctx, "pooled_shape", pooled.size(), AxisSpan::kSpatial, {4, "X (N, C, H, W)"});
  if (pooled[0] <= 0 || pooled[1] <= 0) ctx.fail("pooled_shape must be two positive ints, got {}", dims_str(pooled));
  return pooled;
}

void validate_max_roi_pool(const InferContext& ctx) {
  check_image(ctx, ctx.input_shape(0));
  pooled_shape(ctx);
}

void infer_max_roi_pool(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.unsupported("MaxRoiPool takes float types, got {}", dtype_name(t));
  const Shape& x = ctx.input_shape(0);
  const Shape& rois = ctx.input_shape(1);
  check_image(ctx, x);
  if (rois.rank_known && (rois.rank() != 2 || (rois.dims[1].is_known() && rois.dims[1].value() != 5)))
    ctx.fail("rois must be [num_rois, 5] (batch, x1, y1, x2, y2), got {}", rois.str());
  const std::vector<int64_t> pooled = pooled_shape(ctx);
  Dim n = rois.rank_known ? rois.dims[0] : Dim();
  Dim c = x.rank_known ? x.dims[1] : Dim();
  ctx.set_output(0, t, Shape({n, c, Dim(pooled[0]), Dim(pooled[1])}));
}

void compute_max_roi_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  if (x.rank() != 4) ctx.bad_input("input must be 4-D (N, C, H, W), got {}", dims_str(x.dims()));
  if (rois.rank() != 2 || rois.dim(1) != 5 || rois.dtype() != x.dtype())
    ctx.bad_input("rois must be [num_rois, 5] of the input's type, got {} {}", dtype_name(rois.dtype()),
                  dims_str(rois.dims()));
  const std::vector<int64_t> pooled = pooled_shape(ctx);
  const double scale = ctx.attr_float("spatial_scale", 1.0f);
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), PH = pooled[0], PW = pooled[1];
  Tensor& y = ctx.output(0);
  expect_output_dims(ctx, y, {rois.dim(0), C, PH, PW});
  visit_float(x.dtype(), [&]<typename T>() {
    const T* xs = x.data<T>();
    const T* rs = rois.data<T>();
    T* ys = y.data<T>();
    for (int64_t r = 0; r < rois.dim(0); ++r) {
      const T* roi = rs + r * 5;
      const double b = static_cast<double>(roi[0]);
      if (!(b >= 0 && b < static_cast<double>(N))) ctx.bad_input("roi {} names batch {} of {}", r, b, N);
      const int64_t batch = static_cast<int64_t>(b);
      auto coord = [&](int i) {
        const double v = std::round(static_cast<double>(roi[i]) * scale);
        if (!std::isfinite(v)) ctx.bad_input("roi {} has a coordinate that is not finite", r);
        return static_cast<int64_t>(std::clamp(v, -1e15, 1e15));
      };
      const int64_t x1 = coord(1), y1 = coord(2), x2 = coord(3), y2 = coord(4);
      const double bin_h = static_cast<double>(std::max<int64_t>(y2 - y1 + 1, 1)) / static_cast<double>(PH);
      const double bin_w = static_cast<double>(std::max<int64_t>(x2 - x1 + 1, 1)) / static_cast<double>(PW);
      for (int64_t c = 0; c < C; ++c) {
        const T* plane = xs + (batch * C + c) * H * W;
        T* out = ys + (r * C + c) * PH * PW;
        for (int64_t ph = 0; ph < PH; ++ph) {
          const int64_t hs = std::clamp<int64_t>(static_cast<int64_t>(std::floor(ph * bin_h)) + y1, 0, H);
          const int64_t he = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((ph + 1) * bin_h)) + y1, 0, H);
          for (int64_t pw = 0; pw < PW; ++pw) {
            const int64_t ws = std::clamp<int64_t>(static_cast<int64_t>(std::floor(pw * bin_w)) + x1, 0, W);
            const int64_t we = std::clamp<int64_t>(static_cast<int64_t>(std::ceil((pw + 1) * bin_w)) + x1, 0, W);
            double best = 0;  // an empty bin gives 0
            bool any = false;
            for (int64_t h = hs; h < he; ++h)
              for (int64_t w = ws; w < we; ++w) {
                const double v = static_cast<double>(plane[h * W + w]);
                if (!any || v > best) best = v, any = true;
              }
            out[ph * PW + pw] = from_double<T>(best);
          }
        }
      }
    }
  }, "MaxRoiPool");
}

// ---- RoiAlign ----

void infer_roi_align(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.unsupported("RoiAlign takes float types, got {}", dtype_name(t));
  const Shape& x = ctx.input_shape(0);
  const Shape& rois = ctx.input_shape(1);
  const Shape& bi = ctx.input_shape(2);
  check_image(ctx, x);
  if (rois.rank_known && (rois.rank() != 2 || (rois.dims[1].is_known() && rois.dims[1].value() != 4)))
    ctx.fail("rois must be [num_rois, 4] (x1, y1, x2, y2), got {}", rois.str());
  if (bi.rank_known && bi.rank() != 1) ctx.fail("batch_indices must be 1-D, got {}", bi.str());
  if (!dtype_is_integer(ctx.input_type(2))) ctx.fail("batch_indices must be integers, got {}", dtype_name(ctx.input_type(2)));
  const int64_t oh = ctx.attr_int("output_height", 1), ow = ctx.attr_int("output_width", 1);
  if (oh <= 0 || ow <= 0) ctx.fail("output_height and output_width must be positive, got {} and {}", oh, ow);
  const std::string mode = ctx.attr_string("mode", "avg");
  if (mode != "avg" && mode != "max") ctx.fail("mode '{}' is not avg or max", mode);
  Dim n = rois.rank_known ? rois.dims[0] : Dim();
  Dim c = x.rank_known ? x.dims[1] : Dim();
  ctx.set_output(0, t, Shape({n, c, Dim(oh), Dim(ow)}));
}

// One bilinear sample: four positions in the plane and their weights (all zero outside the image).
struct Sample {
  int64_t p1 = 0, p2 = 0, p3 = 0, p4 = 0;
  double w1 = 0, w2 = 0, w3 = 0, w4 = 0;
};

Sample bilinear(double y, double x, int64_t H, int64_t W) {
  Sample s;
  if (!std::isfinite(y) || !std::isfinite(x)) return s;  // a NaN/inf roi samples nothing
  if (y < -1.0 || y > static_cast<double>(H) || x < -1.0 || x > static_cast<double>(W)) return s;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  int64_t yl = static_cast<int64_t>(y), xl = static_cast<int64_t>(x), yh, xh;
  if (yl >= H - 1) yh = yl = H - 1, y = static_cast<double>(yl);
  else yh = yl + 1;
  if (xl >= W - 1) xh = xl = W - 1, x = static_cast<double>(xl);
  else xh = xl + 1;
  const double ly = y - static_cast<double>(yl), lx = x - static_cast<double>(xl), hy = 1 - ly, hx = 1 - lx;
  s.p1 = yl * W + xl, s.p2 = yl * W + xh, s.p3 = yh * W + xl, s.p4 = yh * W + xh;
  s.w1 = hy * hx, s.w2 = hy * lx, s.w3 = ly * hx, s.w4 = ly * lx;
  return s;
}

void compute_roi_align(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& rois = ctx.input(1);
  const Tensor& bi = ctx.input(2);
  if (x.rank() != 4) ctx.bad_input("input must be 4-D (N, C, H, W), got {}", dims_str(x.dims()));
  if (rois.rank() != 2 || rois.dim(1) != 4 || rois.dtype() != x.dtype())
    ctx.bad_input("rois must be [num_rois, 4] of the input's type, got {} {}", dtype_name(rois.dtype()),
                  dims_str(rois.dims()));
  if (bi.rank() != 1 || bi.dim(0) != rois.dim(0))
    ctx.bad_input("batch_indices {} must have one entry per roi ({})", dims_str(bi.dims()), rois.dim(0));
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t OH = ctx.attr_int("output_height", 1), OW = ctx.attr_int("output_width", 1);
  const int64_t ratio = ctx.attr_int("sampling_ratio", 0);
  if (ratio < 0) ctx.fail("sampling_ratio must be >= 0, got {}", ratio);
  const double scale = ctx.attr_float("spatial_scale", 1.0f);
  const bool is_max = ctx.attr_string("mode", "avg") == "max";
  // Opset 10 had no attribute and behaved as output_half_pixel; 16 made half_pixel the default.
  const std::string ctm = ctx.attr_string("coordinate_transformation_mode", ctx.opset() < 16 ? "output_half_pixel" : "half_pixel");
  if (ctm != "half_pixel" && ctm != "output_half_pixel")
    ctx.fail("coordinate_transformation_mode '{}' is not half_pixel or output_half_pixel", ctm);
  const bool half_pixel = ctm == "half_pixel";
  Tensor& y = ctx.output(0);
  expect_output_dims(ctx, y, {rois.dim(0), C, OH, OW});
  visit_float(x.dtype(), [&]<typename T>() {
    const T* xs = x.data<T>();
    const T* rs = rois.data<T>();
    T* ys = y.data<T>();
    std::vector<Sample> samples;
    for (int64_t r = 0; r < rois.dim(0); ++r) {
      const int64_t batch = bi.int_at(r);
      if (batch < 0 || batch >= N) ctx.bad_input("batch_indices[{}] = {} is outside the batch of {}", r, batch, N);
      const double off = half_pixel ? 0.5 : 0.0;
      const double x1 = static_cast<double>(rs[r * 4 + 0]) * scale - off, y1 = static_cast<double>(rs[r * 4 + 1]) * scale - off;
      const double x2 = static_cast<double>(rs[r * 4 + 2]) * scale - off, y2 = static_cast<double>(rs[r * 4 + 3]) * scale - off;
      double rw = x2 - x1, rh = y2 - y1;
      if (!half_pixel) rw = std::max(rw, 1.0), rh = std::max(rh, 1.0);
      const double bh = rh / static_cast<double>(OH), bw = rw / static_cast<double>(OW);
      const double gh_d = ratio > 0 ? static_cast<double>(ratio) : std::ceil(rh / static_cast<double>(OH));
      const double gw_d = ratio > 0 ? static_cast<double>(ratio) : std::ceil(rw / static_cast<double>(OW));
      if (!(gh_d >= 0 && gw_d >= 0 && gh_d * gw_d < 1e8))
        ctx.bad_input("roi {} needs {} x {} samples per bin; the roi is too large or not finite", r, gh_d, gw_d);
      const int64_t gh = static_cast<int64_t>(gh_d), gw = static_cast<int64_t>(gw_d);
      const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
      // Sample positions and weights are the same for every channel: compute them once per roi.
      samples.clear();
      for (int64_t ph = 0; ph < OH; ++ph)
        for (int64_t pw = 0; pw < OW; ++pw)
          for (int64_t iy = 0; iy < gh; ++iy) {
            const double yy = y1 + static_cast<double>(ph) * bh + (static_cast<double>(iy) + 0.5) * bh / static_cast<double>(gh);
            for (int64_t ix = 0; ix < gw; ++ix) {
              const double xx = x1 + static_cast<double>(pw) * bw + (static_cast<double>(ix) + 0.5) * bw / static_cast<double>(gw);
              samples.push_back(bilinear(yy, xx, H, W));
            }
          }
      const size_t per_bin = static_cast<size_t>(gh * gw);
      for (int64_t c = 0; c < C; ++c) {
        const T* plane = xs + (batch * C + c) * H * W;
        T* out = ys + (r * C + c) * OH * OW;
        for (int64_t b = 0; b < OH * OW; ++b) {
          double acc = 0;
          for (size_t k = 0; k < per_bin; ++k) {
            const Sample& s = samples[static_cast<size_t>(b) * per_bin + k];
            const double v1 = s.w1 * static_cast<double>(plane[s.p1]), v2 = s.w2 * static_cast<double>(plane[s.p2]);
            const double v3 = s.w3 * static_cast<double>(plane[s.p3]), v4 = s.w4 * static_cast<double>(plane[s.p4]);
            if (is_max) {
              const double v = std::max(std::max(v1, v2), std::max(v3, v4));
              acc = k == 0 ? v : std::max(acc, v);
            } else {
              acc += v1 + v2 + v3 + v4;
            }
          }
          out[b] = from_double<T>(is_max ? acc : acc / count);
        }
      }
    }
  }, "RoiAlign");
}

}  // namespace

KILN_REGISTER_OP(max_roi_pool, {"", "MaxRoiPool", {1, 22}, 0, infer_max_roi_pool, compute_max_roi_pool}
                                .with_validate(validate_max_roi_pool));
KILN_REGISTER_OP(roi_align, {"", "RoiAlign", {10, 16, 22}, 0, infer_roi_align, compute_roi_align}.with_macs(macs::roi_align));

}  // namespace kiln::ops
