// The plain depthwise kernel: the oracle the tiered kernels are tested against.

#include "kernels/dwconv/dwconv.h"

namespace kiln::kernels {

void dwconv_f32_ref(const DwConvShape& s, const DwConvArgs& a, int64_t begin, int64_t end, float* scratch) {
  for (int64_t i = begin; i < end; ++i) {
    const DwConvPlane p = dwconv_plane(s, a, i);
    for (int64_t oh = 0; oh < s.out_h; ++oh) {
      float* y = p.y + oh * s.out_w;
      for (int64_t ow = 0; ow < s.out_w; ++ow) {
        float acc = p.bias;
        for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
          const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
          if (ih < 0 || ih >= s.in_h) continue;
          for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
            const int64_t iw = ow * s.stride_w - s.pad_left + kw * s.dilation_w;
            if (iw < 0 || iw >= s.in_w) continue;
            acc += p.w[kh * s.kernel_w + kw] * p.x[ih * s.in_w + iw];
          }
        }
        if (p.residual) acc += p.residual[oh * s.out_w + ow];
        y[ow] = acc;
      }
      apply_activation_f32_ref(a.act, y, y, s.out_w);
    }
  }
}

}  // namespace kiln::kernels
