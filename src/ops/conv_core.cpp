#include "ops/conv_core.h"

#include <algorithm>
#include <vector>

#include "base/checked.h"
#include "ops/gemm_plain.h"

namespace kiln::ops {

void valid_output_range(int64_t base, int64_t stride, int64_t in_len, int64_t out_len, int64_t* lo, int64_t* hi) {
  int64_t l = base >= 0 ? 0 : ceil_div(-base, stride);
  int64_t h = in_len - base > 0 ? ceil_div(in_len - base, stride) : 0;
  l = std::min(l, out_len);
  h = std::clamp(h, l, out_len);
  *lo = l;
  *hi = h;
}

namespace {

// Steps a row-major multi-index over `limits`; returns false after the last one.
bool next_index(std::vector<int64_t>& idx, const std::vector<int64_t>& limits, size_t count) {
  for (size_t d = count; d-- > 0;) {
    if (++idx[d] < limits[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Visits every (kernel offset, output row) pair of one channel: `row_fn(k, q, in_offset_or_-1, base_last)`
// where q enumerates output positions over all but the last spatial dim, in_offset is the input element
// offset of that row (before the last dim), or -1 when the row falls in the padding.
template <typename RowFn> void for_each_window_row(const WindowGeometry& g, RowFn&& row_fn) {
  const size_t n = g.rank();
  const size_t last = n - 1;
  std::vector<int64_t> kidx(n, 0), oidx(n, 0);
  const int64_t ks = g.kernel_size();
  const int64_t rows = g.out[last] == 0 ? 0 : g.out_size() / g.out[last];
  for (int64_t k = 0; k < ks; ++k) {
    std::fill(oidx.begin(), oidx.end(), 0);
    const int64_t base_last = kidx[last] * g.dilations[last] - g.pad_begin[last];
    for (int64_t q = 0; q < rows; ++q) {
      int64_t off = 0;
      for (size_t d = 0; d < last; ++d) {
        const int64_t i = oidx[d] * g.strides[d] - g.pad_begin[d] + kidx[d] * g.dilations[d];
        if (i < 0 || i >= g.in[d]) {
          off = -1;
          break;
        }
        off = off * g.in[d] + i;
      }
      row_fn(k, q, off < 0 ? -1 : off * g.in[last], base_last);
      next_index(oidx, g.out, last);
    }
    next_index(kidx, g.kernel, n);
  }
}

// col[(c * ks + k), p] = x[c, window position k of output p] (zero in the padding).
template <typename T> void im2col(const T* x, int64_t channels, const WindowGeometry& g, T* col) {
  const size_t last = g.rank() - 1;
  const int64_t ks = g.kernel_size(), os = g.out_size(), is = g.in_size();
  const int64_t ow = g.out[last], iw = g.in[last], sw = g.strides[last];
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * is;
    for_each_window_row(g, [&](int64_t k, int64_t q, int64_t in_off, int64_t base) {
      T* dst = col + (c * ks + k) * os + q * ow;
      if (in_off < 0) {
        std::fill(dst, dst + ow, T(0));
        return;
      }
      int64_t lo, hi;
      valid_output_range(base, sw, iw, ow, &lo, &hi);
      const T* src = xc + in_off + base;
      std::fill(dst, dst + lo, T(0));
      if (sw == 1) {
        std::copy(src + lo, src + hi, dst + lo);
      } else {
        for (int64_t o = lo; o < hi; ++o) dst[o] = src[o * sw];
      }
      std::fill(dst + hi, dst + ow, T(0));
    });
  }
}

// The adjoint of im2col: x[c, window position k of p] += col[(c * ks + k), p].
template <typename T> void col2im(const T* col, int64_t channels, const WindowGeometry& g, T* x) {
  const size_t last = g.rank() - 1;
  const int64_t ks = g.kernel_size(), os = g.out_size(), is = g.in_size();
  const int64_t ow = g.out[last], iw = g.in[last], sw = g.strides[last];
  for (int64_t c = 0; c < channels; ++c) {
    T* xc = x + c * is;
    for_each_window_row(g, [&](int64_t k, int64_t q, int64_t in_off, int64_t base) {
      if (in_off < 0) return;
      const T* src = col + (c * ks + k) * os + q * ow;
      int64_t lo, hi;
      valid_output_range(base, sw, iw, ow, &lo, &hi);
      T* dst = xc + in_off + base;
      for (int64_t o = lo; o < hi; ++o) dst[o * sw] += src[o];
    });
  }
}

// Depthwise 2-D (each output channel reads one input channel): a direct loop, no im2col.
template <typename T> void depthwise_2d(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y) {
  const WindowGeometry& g = p.geo;
  const int64_t C = p.in_channels, M = p.out_channels, mult = M / C;
  const int64_t IH = g.in[0], IW = g.in[1], OH = g.out[0], OW = g.out[1], KH = g.kernel[0], KW = g.kernel[1];
  const int64_t is = IH * IW, os = OH * OW;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < M; ++m) {
      const T* xc = x + (n * C + m / mult) * is;
      const T* wm = w + m * KH * KW;
      T* yc = y + (n * M + m) * os;
      std::fill(yc, yc + os, bias ? bias[m] : T(0));
      for (int64_t kh = 0; kh < KH; ++kh) {
        for (int64_t kw = 0; kw < KW; ++kw) {
          const T wv = wm[kh * KW + kw];
          const int64_t base = kw * g.dilations[1] - g.pad_begin[1];
          int64_t lo, hi;
          valid_output_range(base, g.strides[1], IW, OW, &lo, &hi);
          for (int64_t oh = 0; oh < OH; ++oh) {
            const int64_t ih = oh * g.strides[0] - g.pad_begin[0] + kh * g.dilations[0];
            if (ih < 0 || ih >= IH) continue;
            const T* xr = xc + ih * IW + base;
            T* yr = yc + oh * OW;
            const int64_t sw = g.strides[1];
            for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * sw];
          }
        }
      }
    }
  }
}

bool is_pointwise(const WindowGeometry& g) {
  for (size_t i = 0; i < g.rank(); ++i)
    if (g.kernel[i] != 1 || g.strides[i] != 1 || g.pad_begin[i] != 0 || g.pad_end[i] != 0) return false;
  return true;
}

}  // namespace

template <typename T> void conv_forward(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y) {
  const WindowGeometry& g = p.geo;
  const int64_t G = p.group, C = p.in_channels, M = p.out_channels;
  const int64_t Cg = C / G, Mg = M / G;
  const int64_t is = g.in_size(), os = g.out_size(), ks = g.kernel_size();
  if (Cg == 1 && g.rank() == 2 && G == C && M % C == 0) return depthwise_2d(p, x, w, bias, y);
  const int64_t K = checked_mul(Cg, ks, "im2col rows");
  const bool pointwise = is_pointwise(g);  // 1x1, stride 1, no padding: x already is the column matrix
  std::vector<T> col;
  if (!pointwise) col.resize(static_cast<size_t>(checked_mul(K, os, "im2col buffer")));
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t gi = 0; gi < G; ++gi) {
      const T* xg = x + (n * C + gi * Cg) * is;
      const T* cols = xg;
      if (!pointwise) {
        im2col(xg, Cg, g, col.data());
        cols = col.data();
      }
      T* yg = y + (n * M + gi * Mg) * os;
      gemm_any<T>(false, false, Mg, os, K, w + gi * Mg * K, K, cols, os, yg, os, false);
      if (bias)
        for (int64_t m = 0; m < Mg; ++m) {
          const T b = bias[gi * Mg + m];
          T* row = yg + m * os;
          for (int64_t i = 0; i < os; ++i) row[i] += b;
        }
    }
  }
}

template <typename T>
void conv_transpose_forward(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y) {
  const WindowGeometry& g = p.geo;  // g.in: y's spatial dims, g.out: x's
  const int64_t G = p.group, C = p.in_channels, M = p.out_channels;
  const int64_t Cg = C / G, Mg = M / G;
  const int64_t xs = g.out_size(), ys = g.in_size(), ks = g.kernel_size();
  const int64_t rows = checked_mul(Mg, ks, "col2im rows");
  std::vector<T> col(static_cast<size_t>(checked_mul(rows, xs, "col2im buffer")));
  std::fill(y, y + p.batch * M * ys, T(0));
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t gi = 0; gi < G; ++gi) {
      // col[(m, k), p] = sum_c w[c, m, k] * x[c, p]: w_g is Cg x rows, used transposed.
      gemm_any<T>(true, false, rows, xs, Cg, w + gi * Cg * rows, rows, x + (n * C + gi * Cg) * xs, xs, col.data(), xs,
                  false);
      col2im(col.data(), Mg, g, y + (n * M + gi * Mg) * ys);
    }
    if (bias)
      for (int64_t m = 0; m < M; ++m) {
        T* row = y + (n * M + m) * ys;
        for (int64_t i = 0; i < ys; ++i) row[i] += bias[m];
      }
  }
}

template void conv_forward<float>(const ConvProblem&, const float*, const float*, const float*, float*);
template void conv_forward<double>(const ConvProblem&, const double*, const double*, const double*, double*);
template void conv_forward<int32_t>(const ConvProblem&, const int32_t*, const int32_t*, const int32_t*, int32_t*);
template void conv_transpose_forward<float>(const ConvProblem&, const float*, const float*, const float*, float*);
template void conv_transpose_forward<double>(const ConvProblem&, const double*, const double*, const double*,
                                             double*);

}  // namespace kiln::ops
