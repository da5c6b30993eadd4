// The plain direct convolution: the oracle the tiered kernels are tested against.

#include <algorithm>

#include "kernels/dwconv/dwconv.h"

namespace kiln::kernels {

void dwconv_f32_ref(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  const int64_t cg = a.group_in(), mg = a.group_out(), mb = a.block(), blocks = (mg + mb - 1) / mb;
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w, taps = s.kernel_h * s.kernel_w;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t ng = item / blocks, n = ng / a.groups, g = ng % a.groups, m0 = g * mg + item % blocks * mb;
    for (int64_t m = m0; m < std::min(m0 + mb, (g + 1) * mg); ++m) {
      float* y = a.y + (n * a.channels + m) * out_plane;
      const float* res = a.residual ? a.residual + (n * a.channels + m) * out_plane : nullptr;
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          float acc = a.bias ? a.bias[m] : 0.0f;
          for (int64_t c = 0; c < cg; ++c) {
            const float* x = a.x + (n * a.in_channels + g * cg + c) * in_plane;
            const float* w = a.w + (m * cg + c) * taps;
            for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
              const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
              if (ih < 0 || ih >= s.in_h) continue;
              for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
                const int64_t iw = ow * s.stride_w - s.pad_left + kw * s.dilation_w;
                if (iw < 0 || iw >= s.in_w) continue;
                acc += w[kh * s.kernel_w + kw] * x[ih * s.in_w + iw];
              }
            }
          }
          if (res) acc += res[oh * s.out_w + ow];
          y[oh * s.out_w + ow] = acc;
        }
        apply_activation_f32_ref(a.act, y + oh * s.out_w, y + oh * s.out_w, s.out_w);
      }
    }
  }
}

}  // namespace kiln::kernels
