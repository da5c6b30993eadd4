// NonMaxSuppression (opsets 10, 11): greedy per-(batch, class) selection of boxes by descending score,
// dropping any box whose IoU with an already selected box exceeds iou_threshold. The output's length depends
// on the data, so the kernel allocates it.

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

void infer_nms(InferContext& ctx) {
  if (ctx.input_type(0) != DType::kFloat32 || ctx.input_type(1) != DType::kFloat32)
    ctx.fail("boxes and scores must be float, not {} and {}", dtype_name(ctx.input_type(0)),
             dtype_name(ctx.input_type(1)));
  if (ctx.has_input(2) && ctx.input_type(2) != DType::kInt64)
    ctx.fail("max_output_boxes_per_class must be int64, not {}", dtype_name(ctx.input_type(2)));
  for (size_t i : {3, 4})
    if (ctx.has_input(i) && ctx.input_type(i) != DType::kFloat32)
      ctx.fail("input {} (a threshold) must be float, not {}", i, dtype_name(ctx.input_type(i)));
  const int64_t cpb = ctx.attr_int("center_point_box", 0);
  if (cpb != 0 && cpb != 1) ctx.fail("center_point_box must be 0 or 1, not {}", cpb);
  const Shape &boxes = ctx.input_shape(0), &scores = ctx.input_shape(1);
  if (boxes.rank_known && boxes.rank() != 3) ctx.fail("boxes must be [batch, boxes, 4], but it is {}", boxes.str());
  if (scores.rank_known && scores.rank() != 3)
    ctx.fail("scores must be [batch, classes, boxes], but it is {}", scores.str());
  ctx.set_output(0, DType::kInt64, Shape({Dim(), Dim(3)}));
}

/// A box as corners (x_min, y_min, x_max, y_max), whatever layout it came in.
struct Corners {
  float x0, y0, x1, y1;
};

Corners corners(const float* b, bool center_point) {
  if (center_point) {  // [x_center, y_center, width, height]
    const float hw = b[2] / 2, hh = b[3] / 2;
    return {b[0] - hw, b[1] - hh, b[0] + hw, b[1] + hh};
  }
  // [y1, x1, y2, x2], where either corner may come first.
  return {std::min(b[1], b[3]), std::min(b[0], b[2]), std::max(b[1], b[3]), std::max(b[0], b[2])};
}

/// True when IoU(a, b) > threshold. Boxes that do not overlap, or have no area, never suppress each other.
bool suppresses(const Corners& a, const Corners& b, float threshold) {
  const float ix0 = std::max(a.x0, b.x0), ix1 = std::min(a.x1, b.x1);
  if (ix1 <= ix0) return false;
  const float iy0 = std::max(a.y0, b.y0), iy1 = std::min(a.y1, b.y1);
  if (iy1 <= iy0) return false;
  const float inter = (ix1 - ix0) * (iy1 - iy0);
  const float area_a = (a.x1 - a.x0) * (a.y1 - a.y0), area_b = (b.x1 - b.x0) * (b.y1 - b.y0);
  const float uni = area_a + area_b - inter;
  if (inter <= 0 || area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > threshold;
}

/// An optional one-element input; `fallback` when absent or empty.
template <typename T> T scalar_input(const KernelContext& ctx, size_t i, T fallback, const char* what) {
  if (!ctx.has_input(i) || ctx.input(i).numel() == 0) return fallback;
  const Tensor& t = ctx.input(i);
  if (t.numel() != 1 || t.rank() > 1) ctx.bad_input("{} must hold one value, but it is {}", what, dims_str(t.dims()));
  return t.data<T>()[0];
}

void compute_nms(KernelContext& ctx) {
  const Tensor &boxes = ctx.input(0), &scores = ctx.input(1);
  if (boxes.rank() != 3 || boxes.dim(2) != 4)
    ctx.bad_input("boxes must be [batch, boxes, 4], but it is {}", dims_str(boxes.dims()));
  const int64_t batches = boxes.dim(0), count = boxes.dim(1);
  if (scores.rank() != 3 || scores.dim(0) != batches || scores.dim(2) != count)
    ctx.bad_input("scores must be [batch, classes, boxes] = [{}, *, {}], but it is {}", batches, count,
                  dims_str(scores.dims()));
  const int64_t classes = scores.dim(1);
  const int64_t max_per_class = std::max<int64_t>(0, scalar_input<int64_t>(ctx, 2, 0, "max_output_boxes_per_class"));
  const float iou = scalar_input<float>(ctx, 3, 0.0f, "iou_threshold");
  const bool filter = ctx.has_input(4) && ctx.input(4).numel() != 0;
  const float score_min = scalar_input<float>(ctx, 4, 0.0f, "score_threshold");
  const bool center_point = ctx.attr_int("center_point_box", 0) == 1;

  std::vector<Corners> box(static_cast<size_t>(count));
  std::vector<int64_t> selected;  // triples (batch, class, box)
  std::vector<int64_t> order, kept;
  for (int64_t b = 0; b < batches; ++b) {
    const float* bb = boxes.data<float>() + b * count * 4;
    for (int64_t i = 0; i < count; ++i) box[static_cast<size_t>(i)] = corners(bb + i * 4, center_point);
    for (int64_t c = 0; c < classes; ++c) {
      const float* sc = scores.data<float>() + (b * classes + c) * count;
      order.clear();
      for (int64_t i = 0; i < count; ++i)
        if (!filter || sc[i] > score_min) order.push_back(i);
      // Highest score first; equal scores keep the lower box index first. NaN sorts as -inf so the order
      // stays a strict weak ordering.
      const auto key = [&](int64_t i) { return std::isnan(sc[i]) ? -INFINITY : sc[i]; };
      std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return key(x) > key(y); });
      kept.clear();
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= max_per_class) break;
        const Corners& cand = box[static_cast<size_t>(i)];
        const bool drop = std::any_of(kept.begin(), kept.end(), [&](int64_t k) {
          return suppresses(cand, box[static_cast<size_t>(k)], iou);
        });
        if (drop) continue;
        kept.push_back(i);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  }
  Tensor& y = ctx.allocate_output(0, DType::kInt64, {static_cast<int64_t>(selected.size() / 3), 3});
  std::copy(selected.begin(), selected.end(), y.data<int64_t>());
}

}  // namespace

KILN_REGISTER_OP(non_max_suppression, {"", "NonMaxSuppression", {10, 11}, 0, infer_nms, compute_nms});

}  // namespace kiln::ops
