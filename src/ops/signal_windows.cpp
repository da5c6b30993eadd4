// HannWindow, HammingWindow, BlackmanWindow and MelWeightMatrix (all opset 17): generators whose output
// size comes from a scalar input and whose element type comes from the output_datatype attribute.
//
// The three windows are one cosine sum, w[n] = a0 - a1 cos(2πn/N) + a2 cos(4πn/N), with N = size for
// periodic windows and size - 1 for symmetric ones (the ONNX function bodies' constants).

#include <algorithm>
#include <cmath>
#include <numbers>

#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

struct CosineSum {
  double a0, a1, a2;
};
constexpr CosineSum kHann{0.5, 0.5, 0.0};
constexpr CosineSum kHamming{25.0 / 46.0, 21.0 / 46.0, 0.0};
constexpr CosineSum kBlackman{0.42, 0.5, 0.08};

DType output_datatype(const NodeContext& ctx) {
  const int64_t t = ctx.attr_int("output_datatype", 1);
  if (t < 1 || !dtype_is_known(static_cast<int32_t>(t)) || !dtype_is_supported(static_cast<DType>(t)) ||
      dtype_is_narrow(static_cast<DType>(t)) || t == static_cast<int64_t>(DType::kString) ||
      t == static_cast<int64_t>(DType::kBool))
    ctx.fail("output_datatype {} is not a numeric type kiln supports", t);
  return static_cast<DType>(t);
}

/// A scalar integer input; nullopt-like -1 when not visible.
int64_t scalar_input(const NodeContext& ctx, const Tensor* t, const char* name) {
  if (!t) return -1;
  if (t->dtype() != DType::kInt32 && t->dtype() != DType::kInt64)
    ctx.fail("{} must be int32 or int64, not {}", name, dtype_name(t->dtype()));
  if (t->numel() != 1 || t->rank() > 1) ctx.fail("{} must be a scalar, got dims {}", name, dims_str(t->dims()));
  return t->int_at(0);
}

void infer_window(InferContext& ctx) {
  const DType t = output_datatype(ctx);
  const int64_t size = scalar_input(ctx, ctx.input_value(0), "size");
  if (ctx.input_value(0) && size < 0) ctx.bad_input("size must not be negative, got {}", size);
  ctx.set_output(0, t, Shape({size >= 0 ? Dim(size) : Dim()}));
}

template <const CosineSum& C> void compute_window(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  const int64_t size = y.numel();
  const bool periodic = ctx.attr_int("periodic", 1) != 0;
  const double n = static_cast<double>(periodic ? size : size - 1);
  visit_numeric(y.dtype(), [&]<typename T>() {
    T* out = y.data<T>();
    for (int64_t i = 0; i < size; ++i) {
      // A symmetric window of one sample has N = 0; its limit (and PyTorch's value) is 1.
      const double a = n == 0 ? 0.0 : 2 * std::numbers::pi * static_cast<double>(i) / n;
      out[i] = from_double<T>(n == 0 ? 1.0 : C.a0 - C.a1 * std::cos(a) + C.a2 * std::cos(2 * a));
    }
  }, ctx.node().op_type.c_str());
}

// ---- MelWeightMatrix ----

void infer_mel(InferContext& ctx) {
  const DType t = output_datatype(ctx);
  const int64_t bins = scalar_input(ctx, ctx.input_value(0), "num_mel_bins");
  const int64_t dft = scalar_input(ctx, ctx.input_value(1), "dft_length");
  if (ctx.input_value(0) && bins <= 0) ctx.bad_input("num_mel_bins must be positive, got {}", bins);
  if (ctx.input_value(1) && dft <= 0) ctx.bad_input("dft_length must be positive, got {}", dft);
  ctx.set_output(0, t, Shape({dft > 0 ? Dim(dft / 2 + 1) : Dim(), bins > 0 ? Dim(bins) : Dim()}));
}

void compute_mel(KernelContext& ctx) {
  const int64_t bins = scalar_input(ctx, &ctx.input(0), "num_mel_bins");
  const int64_t dft = scalar_input(ctx, &ctx.input(1), "dft_length");
  const int64_t rate = scalar_input(ctx, &ctx.input(2), "sample_rate");
  if (rate <= 0) ctx.bad_input("sample_rate must be positive, got {}", rate);
  for (size_t i = 3; i < 5; ++i)
    if (ctx.input(i).numel() != 1 || !dtype_is_float(ctx.input(i).dtype()))
      ctx.fail("input {} must be a float scalar", i);
  const double lower = ctx.input(3).double_at(0), upper = ctx.input(4).double_at(0);
  const int64_t spectrogram_bins = dft / 2 + 1;
  // Triangle corners: num_mel_bins + 2 points evenly spaced in mel, mapped back to spectrogram bins.
  // mel(f) = 2595 log10(1 + f / 700); the step divides by the point count, as onnx.reference does.
  auto mel = [](double hz) { return 2595.0 * std::log10(1 + hz / 700); };
  const double lo = mel(lower), step = (mel(upper) - lo) / static_cast<double>(bins + 2);
  std::vector<int64_t> corner(static_cast<size_t>(bins + 2));
  for (int64_t i = 0; i < bins + 2; ++i) {
    const double hz = 700 * (std::pow(10.0, (lo + step * static_cast<double>(i)) / 2595.0) - 1);
    const double b = std::floor(static_cast<double>(dft + 1) * hz / static_cast<double>(rate));
    corner[static_cast<size_t>(i)] = std::isfinite(b) ? static_cast<int64_t>(std::clamp(b, -1.0, 9.0e15)) : -1;
  }
  std::vector<double> m(static_cast<size_t>(spectrogram_bins * bins), 0.0);
  auto set = [&](int64_t row, int64_t col, double v) {
    if (row >= 0 && row < spectrogram_bins) m[static_cast<size_t>(row * bins + col)] = v;
  };
  for (int64_t i = 0; i < bins; ++i) {
    const int64_t left = corner[static_cast<size_t>(i)], centre = corner[static_cast<size_t>(i + 1)],
                  right = corner[static_cast<size_t>(i + 2)];
    if (centre == left) {
      set(centre, i, 1);
    } else {
      for (int64_t j = std::max<int64_t>(left, -1); j <= std::min(centre, spectrogram_bins); ++j)
        set(j, i, static_cast<double>(j - left) / static_cast<double>(centre - left));
    }
    if (right > centre)
      for (int64_t j = std::max<int64_t>(centre, -1); j < std::min(right, spectrogram_bins); ++j)
        set(j, i, static_cast<double>(right - j) / static_cast<double>(right - centre));
  }
  Tensor& y = ctx.output(0);
  visit_numeric(y.dtype(), [&]<typename T>() {
    T* out = y.data<T>();
    for (size_t i = 0; i < m.size(); ++i) out[i] = from_double<T>(m[i]);
  }, "MelWeightMatrix");
}

}  // namespace

KILN_REGISTER_OP(hann_window, {"", "HannWindow", {17}, 0, infer_window, compute_window<kHann>});
KILN_REGISTER_OP(hamming_window, {"", "HammingWindow", {17}, 0, infer_window, compute_window<kHamming>});
KILN_REGISTER_OP(blackman_window, {"", "BlackmanWindow", {17}, 0, infer_window, compute_window<kBlackman>});
KILN_REGISTER_OP(mel_weight_matrix, {"", "MelWeightMatrix", {17}, 0, infer_mel, compute_mel});

}  // namespace kiln::ops
