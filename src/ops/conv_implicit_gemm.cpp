#include "ops/conv_implicit_gemm.h"

#include <algorithm>

#include "ops/conv_core.h"

namespace kiln::ops {

bool ConvDims::pointwise() const {
  for (int i = 0; i < 3; ++i)
    if (kernel[i] != 1 || stride[i] != 1 || pad_begin[i] != 0 || pad_end[i] != 0) return false;
  return true;
}

ConvColumns::ConvColumns(const float* x_, const ConvDims& d, int64_t phase_width_)
    : x(x_), dims(&d), phase_width(phase_width_) {
  const int64_t kw_count = std::min<int64_t>(d.kernel[2], kTableWidth);
  for (int64_t kw = 0; kw < kw_count; ++kw)
    valid_output_range(kw * d.dilation[2] - d.pad_begin[2], d.stride[2], d.in[2], d.out[2], &lo[kw], &hi[kw]);
}

void split_column_phases(const float* x, int64_t rows, int64_t width, float* dst) {
  const int64_t even = (width + 1) / 2, odd = width / 2;
  for (int64_t r = 0; r < rows; ++r, x += width, dst += width) {
    for (int64_t i = 0; i < even; ++i) dst[i] = x[2 * i];
    for (int64_t i = 0; i < odd; ++i) dst[even + i] = x[2 * i + 1];
  }
}

namespace {

// Output columns [ow, end) of one output row for the tap whose input row is `row` (null: the row lies in the
// padding) and whose column offset is base (input column = o * sw + base; inside the row for o in [lo, hi)).
inline void copy_run(const float* row, int64_t base, int64_t sw, int64_t lo, int64_t hi, int64_t ow, int64_t end,
                     float* out) {
  if (!row) {
    for (int64_t o = ow; o < end; ++o) out[o - ow] = 0.0f;
    return;
  }
  const int64_t a = std::clamp(lo, ow, end), b = std::clamp(hi, a, end);
  for (int64_t o = ow; o < a; ++o) out[o - ow] = 0.0f;
  if (sw == 1) {
    const float* src = row + base;
    for (int64_t o = a; o < b; ++o) out[o - ow] = src[o];
    // The next panel most likely reads on along this row: ask for it now. A panel's rows come from every tap of
    // many channels, more streams than the hardware prefetcher follows.
    if (b == end && b < hi) __builtin_prefetch(src + end + (end - ow) - 1, 0, 3);
  } else {
    for (int64_t o = a; o < b; ++o) out[o - ow] = row[o * sw + base];
  }
  for (int64_t o = b; o < end; ++o) out[o - ow] = 0.0f;
}

}  // namespace

// The GEMM asks for blocks of at most 256 columns by 64 rows, so the per-row work is kept to a few
// additions: the kernel offset steps like an odometer instead of being divided out of k, the column range where
// a tap reads inside its row comes from the per-kw table, and the output position of n0 is divided out once.
void fill_conv_columns(const void* columns, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) {
  const ConvColumns& cols = *static_cast<const ConvColumns*>(columns);
  const ConvDims& d = *cols.dims;
  const int64_t KD = d.kernel[0], KH = d.kernel[1], KW = d.kernel[2], ks = KD * KH * KW;
  const int64_t out_w = d.out[2], out_h = d.out[1], in_w = d.in[2], sw = d.stride[2], in_size = d.in_size();
  const int64_t row0 = n0 / out_w, ow0 = n0 % out_w, oh0 = row0 % out_h, od0 = row0 / out_h;
  const int64_t c0 = k0 / ks, kk = k0 % ks;
  int64_t kd = kk / (KH * KW), kh = kk / KW % KH, kw = kk % KW;
  const float* xc = cols.x + c0 * in_size;
  for (int64_t r = 0; r < kc; ++r) {
    const int64_t base_w = kw * d.dilation[2] - d.pad_begin[2];
    // Phase-split rows (stride 2): input column 2o + base_w is in the phase of base_w's parity, at o + run_base.
    const int64_t parity = base_w & 1;
    const int64_t run_base = cols.phase_width ? parity * cols.phase_width + (base_w - parity) / 2 : base_w;
    const int64_t run_stride = cols.phase_width ? 1 : sw;
    int64_t lo, hi;
    if (kw < ConvColumns::kTableWidth) {
      lo = cols.lo[kw], hi = cols.hi[kw];
    } else {
      valid_output_range(base_w, sw, in_w, out_w, &lo, &hi);
    }
    const int64_t base_d = kd * d.dilation[0] - d.pad_begin[0], base_h = kh * d.dilation[1] - d.pad_begin[1];
    float* out = dst + r * ld;
    int64_t od = od0, oh = oh0, ow = ow0, left = nc;
    while (left > 0) {  // one run per output row the columns cross
      const int64_t end = std::min(out_w, ow + left);
      const int64_t id = od * d.stride[0] + base_d, ih = oh * d.stride[1] + base_h;
      const bool inside = id >= 0 && id < d.in[0] && ih >= 0 && ih < d.in[1];
      copy_run(inside ? xc + (id * d.in[1] + ih) * in_w : nullptr, run_base, run_stride, lo, hi, ow, end, out);
      out += end - ow;
      left -= end - ow;
      ow = 0;
      if (++oh == out_h) oh = 0, ++od;
    }
    if (++kw == KW) {
      kw = 0;
      if (++kh == KH) {
        kh = 0;
        if (++kd == KD) kd = 0, xc += in_size;
      }
    }
  }
}

}  // namespace kiln::ops
