// The channels-last depthwise oracle: ONNX Conv with group == channels, one output at a time, taps in the
// padding skipped (they read zeros).

#include "kernels/dwnhwc/dwnhwc.h"

namespace kiln::kernels {

void dwnhwc_f32_ref(const DwNhwcShape& s, const float* x, const float* w, const float* bias, const float* residual,
                    float* y, const ActivationParams& act) {
  const int64_t C = s.channels;
  for (int64_t n = 0; n < s.images; ++n)
    for (int64_t oh = 0; oh < s.out_h; ++oh)
      for (int64_t ow = 0; ow < s.out_w; ++ow)
        for (int64_t c = 0; c < C; ++c) {
          float acc = bias ? bias[c] : 0.0f;
          for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
            const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
            if (ih < 0 || ih >= s.in_h) continue;
            for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
              const int64_t iw = ow * s.stride_w - s.pad_left + kw * s.dilation_w;
              if (iw < 0 || iw >= s.in_w) continue;
              acc += w[(c * s.kernel_h + kh) * s.kernel_w + kw] * x[((n * s.in_h + ih) * s.in_w + iw) * C + c];
            }
          }
          const int64_t o = ((n * s.out_h + oh) * s.out_w + ow) * C + c;
          if (residual) acc += residual[o];
          apply_activation_f32_ref(act, &acc, &y[o], 1);
        }
}

}  // namespace kiln::kernels
