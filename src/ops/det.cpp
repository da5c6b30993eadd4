// Det: determinant of each square matrix in a batch [*, M, M] → [*], by LU decomposition with partial
// pivoting in double precision.

#include <cmath>
#include <utility>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

void infer_det(InferContext& ctx) {
  const Shape& s = ctx.input_shape(0);
  if (!dtype_is_float(ctx.input_type(0))) ctx.fail("input must be a float type, not {}", dtype_name(ctx.input_type(0)));
  if (!s.rank_known) {
    ctx.set_output(0, ctx.input_type(0), Shape::unknown_rank());
    return;
  }
  if (s.rank() < 2) ctx.fail("input must have rank >= 2 ([*, M, M]), got {}", s.str());
  const Dim& r = s.dims[s.rank() - 2];
  const Dim& c = s.dims[s.rank() - 1];
  if (r.is_known() && c.is_known() && r.value() != c.value())
    ctx.fail("the last two dims must be equal (square matrices), got {}", s.str());
  ctx.set_output(0, ctx.input_type(0), Shape(std::vector<Dim>(s.dims.begin(), s.dims.end() - 2)));
}

double determinant(std::vector<double>& a, int64_t m) {
  double det = 1;
  for (int64_t col = 0; col < m; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < m; ++r)
      if (std::abs(a[static_cast<size_t>(r * m + col)]) > std::abs(a[static_cast<size_t>(pivot * m + col)])) pivot = r;
    const double p = a[static_cast<size_t>(pivot * m + col)];
    if (p == 0) return 0;  // singular (NaN inputs fall through the comparisons and propagate below)
    if (pivot != col) {
      for (int64_t k = 0; k < m; ++k) std::swap(a[static_cast<size_t>(col * m + k)], a[static_cast<size_t>(pivot * m + k)]);
      det = -det;
    }
    det *= p;
    for (int64_t r = col + 1; r < m; ++r) {
      const double f = a[static_cast<size_t>(r * m + col)] / p;
      if (f == 0) continue;
      for (int64_t k = col; k < m; ++k) a[static_cast<size_t>(r * m + k)] -= f * a[static_cast<size_t>(col * m + k)];
    }
  }
  return det;
}

void compute_det(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t m = x.dim(x.rank() - 1);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  const int64_t mm = checked_mul(m, m, "Det matrix size");
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<double> a(static_cast<size_t>(mm));
    for (int64_t b = 0; b < y.numel(); ++b) {
      for (int64_t k = 0; k < mm; ++k) a[static_cast<size_t>(k)] = to_double(in[b * mm + k]);
      out[b] = from_double<T>(determinant(a, m));
    }
  }, "Det");
}

}  // namespace

KILN_REGISTER_OP(det, {"", "Det", {11, 22}, 0, infer_det, compute_det});

}  // namespace kiln::ops
