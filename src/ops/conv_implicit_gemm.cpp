#include "ops/conv_implicit_gemm.h"

#include <algorithm>
#include <cstring>

#include "ops/conv_core.h"

namespace kiln::ops {

bool ConvDims::pointwise() const {
  for (int i = 0; i < 3; ++i)
    if (kernel[i] != 1 || stride[i] != 1 || pad_begin[i] != 0 || pad_end[i] != 0) return false;
  return true;
}

void fill_conv_columns(const void* columns, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) {
  const ConvColumns& cols = *static_cast<const ConvColumns*>(columns);
  const ConvDims& d = *cols.dims;
  const int64_t ks = d.kernel_size(), plane = d.out[1] * d.out[2];
  const int64_t out_w = d.out[2], in_w = d.in[2], sw = d.stride[2];
  for (int64_t r = 0; r < kc; ++r) {
    const int64_t k = k0 + r, c = k / ks, kk = k % ks;
    const int64_t kd = kk / (d.kernel[1] * d.kernel[2]), kh = kk / d.kernel[2] % d.kernel[1], kw = kk % d.kernel[2];
    const int64_t base_d = kd * d.dilation[0] - d.pad_begin[0];
    const int64_t base_h = kh * d.dilation[1] - d.pad_begin[1];
    const int64_t base_w = kw * d.dilation[2] - d.pad_begin[2];
    int64_t lo, hi;  // output columns whose input column lies inside the row
    valid_output_range(base_w, sw, in_w, out_w, &lo, &hi);
    const float* xc = cols.x + c * d.in_size();
    float* out = dst + r * ld;
    int64_t od = n0 / plane, oh = n0 / out_w % d.out[1], ow = n0 % out_w, left = nc;
    while (left > 0) {
      // One run of consecutive output columns [ow, end) of output row (od, oh).
      const int64_t len = std::min(out_w - ow, left), end = ow + len;
      const int64_t id = od * d.stride[0] + base_d, ih = oh * d.stride[1] + base_h;
      if (id < 0 || id >= d.in[0] || ih < 0 || ih >= d.in[1]) {
        std::fill(out, out + len, 0.0f);
      } else {
        const float* row = xc + (id * d.in[1] + ih) * in_w;
        const int64_t a = std::clamp(lo, ow, end), b = std::clamp(hi, a, end);
        std::fill(out, out + (a - ow), 0.0f);
        if (sw == 1) {
          std::memcpy(out + (a - ow), row + a + base_w, static_cast<size_t>(b - a) * sizeof(float));
        } else {
          for (int64_t o = a; o < b; ++o) out[o - ow] = row[o * sw + base_w];
        }
        std::fill(out + (b - ow), out + len, 0.0f);
      }
      out += len;
      left -= len;
      ow = 0;
      if (++oh == d.out[1]) oh = 0, ++od;
    }
  }
}

}  // namespace kiln::ops
