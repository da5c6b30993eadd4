// DFT (17: axis attribute; 20: axis input) and STFT (17).
//
// Signals carry a trailing dim of 1 (real) or 2 (real, imaginary). The transform is the plain O(n²) sum
// over a precomputed twiddle table, in double: exact enough to be the oracle for a fast FFT later.
// DFT modes: forward full (complex out), forward one-sided (RFFT: the first n/2 + 1 bins), inverse full
// (scaled by 1/n), inverse one-sided (IRFFT: a Hermitian half-spectrum in, a real signal of n out).

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using cd = std::complex<double>;

/// e^{sign * 2πi j / n} for j in [0, n).
std::vector<cd> twiddles(int64_t n, double sign) {
  std::vector<cd> w(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    const double a = sign * 2 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(n);
    w[static_cast<size_t>(j)] = cd(std::cos(a), std::sin(a));
  }
  return w;
}

/// out[k] = Σ_t in[t] w[(k t) mod n] for k in [0, out.size()); `in` may be shorter than n (zero padding).
void dft_1d(const std::vector<cd>& in, const std::vector<cd>& w, std::vector<cd>& out) {
  const int64_t n = static_cast<int64_t>(w.size());
  const int64_t m = std::min<int64_t>(n, static_cast<int64_t>(in.size()));
  for (size_t k = 0; k < out.size(); ++k) {
    cd acc = 0;
    int64_t j = 0;  // (k * t) mod n, advanced by k each step
    for (int64_t t = 0; t < m; ++t) {
      acc += in[static_cast<size_t>(t)] * w[static_cast<size_t>(j)];
      j += static_cast<int64_t>(k);
      if (j >= n) j %= n;
    }
    out[k] = acc;
  }
}

/// A scalar integer input (dft_length, frame_step, ...): 0-D or one element.
template <typename Ctx> int64_t scalar_int(const Ctx& ctx, const Tensor& t, const char* name) {
  if (!dtype_is_integer(t.dtype())) ctx.fail("{} must be an integer, not {}", name, dtype_name(t.dtype()));
  if (t.numel() != 1 || t.rank() > 1) ctx.fail("{} must be a scalar, got dims {}", name, dims_str(t.dims()));
  return t.int_at(0);
}

// ---- DFT ----

struct DftSetup {
  bool known = true;      // axis and dft_length visible (always at run time)
  size_t axis = 0;
  int64_t length = -1;    // dft_length (n)
  int64_t out_len = -1;   // output length along axis
  bool inverse = false, onesided = false;
};

template <typename Ctx> DftSetup dft_setup(const Ctx& ctx, const Shape& x, const Tensor* len_value, const Tensor* axis_value,
                                           bool axis_listed) {
  DftSetup s;
  s.inverse = ctx.attr_int("inverse", 0) != 0;
  s.onesided = ctx.attr_int("onesided", 0) != 0;
  const int64_t r = static_cast<int64_t>(x.rank());
  if (r < 2) ctx.fail("input must have a trailing complex dim (rank >= 2), got {}", x.str());
  const Dim& comps = x.dims.back();
  if (comps.is_known() && comps.value() != 1 && comps.value() != 2)
    ctx.fail("the last dim must be 1 (real) or 2 (complex), got {}", comps.value());
  if (s.inverse && s.onesided && comps.is_known() && comps.value() != 2)
    ctx.fail("an inverse one-sided DFT (IRFFT) needs complex input (last dim 2)");
  int64_t axis;
  if (ctx.opset() < 20) {
    axis = ctx.attr_int("axis", 1);
  } else if (axis_listed) {
    if (!axis_value) {
      s.known = false;
      return s;
    }
    axis = scalar_int(ctx, *axis_value, "axis");
  } else {
    axis = -2;
  }
  if (axis < -r || axis > r - 2 || axis == -1) ctx.fail("axis {} must be in [-{}, -2] or [0, {}]", axis, r, r - 2);
  s.axis = static_cast<size_t>(axis < 0 ? axis + r : axis);
  const Dim& d = x.dims[s.axis];
  if (len_value) {
    s.length = scalar_int(ctx, *len_value, "dft_length");
    if (s.length <= 0) ctx.bad_input("dft_length must be positive, got {}", s.length);
  } else if (!ctx.has_input(1) && d.is_known()) {
    s.length = s.inverse && s.onesided ? 2 * (d.value() - 1) : d.value();
    if (s.length <= 0) ctx.bad_input("the DFT axis has length {}, leaving nothing to transform", d.value());
  }
  if (s.length >= 0) s.out_len = !s.inverse && s.onesided ? s.length / 2 + 1 : s.length;
  else s.known = false;
  return s;
}

void infer_dft(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.fail("input must be a float type, not {}", dtype_name(t));
  if (!x.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  const bool axis_listed = ctx.opset() >= 20 && ctx.has_input(2);
  const DftSetup s = dft_setup(ctx, x, ctx.input_value(1), axis_listed ? ctx.input_value(2) : nullptr, axis_listed);
  std::vector<Dim> out = x.dims;
  out.back() = Dim(s.inverse && s.onesided ? 1 : 2);
  if (s.known) out[s.axis] = Dim(s.out_len);
  else if (ctx.opset() >= 20 && axis_listed && !ctx.input_value(2))
    for (size_t i = 0; i + 1 < out.size(); ++i) out[i] = Dim();  // any of them may be the axis
  else out[s.axis] = Dim();
  ctx.set_output(0, t, Shape(out));
}

void compute_dft(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool axis_listed = ctx.opset() >= 20 && ctx.has_input(2);
  const DftSetup s = dft_setup(ctx, Shape::from(x.dims()), ctx.has_input(1) ? &ctx.input(1) : nullptr,
                               axis_listed ? &ctx.input(2) : nullptr, axis_listed);
  const std::vector<int64_t>& d = x.dims();
  const int64_t comps = d.back();
  const int64_t outer = product(d, 0, s.axis), in_len = d[s.axis];
  const int64_t inner = product(d, s.axis + 1, d.size() - 1);
  Tensor& y = ctx.output(0);
  const int64_t out_comps = y.dims().back();
  const int64_t n = s.length;
  const std::vector<cd> w = twiddles(n, s.inverse ? 1.0 : -1.0);
  const double scale = s.inverse ? 1.0 / static_cast<double>(n) : 1.0;
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    const bool irfft = s.inverse && s.onesided;
    std::vector<cd> sig(static_cast<size_t>(irfft ? n : std::min(in_len, n)));
    std::vector<cd> res(static_cast<size_t>(s.out_len));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        auto at = [&](int64_t t) { return ((o * in_len + t) * inner + i) * comps; };
        if (irfft) {
          // Rebuild the full spectrum from its first half: X[n - k] = conj(X[k]).
          std::fill(sig.begin(), sig.end(), cd(0));
          const int64_t half = std::min(in_len, n / 2 + 1);
          for (int64_t k = 0; k < half; ++k) {
            const cd v(to_double(in[at(k)]), to_double(in[at(k) + 1]));
            sig[static_cast<size_t>(k)] = v;
            if (k > 0 && n - k > n / 2) sig[static_cast<size_t>(n - k)] = std::conj(v);
          }
        } else {
          for (size_t t = 0; t < sig.size(); ++t) {
            const int64_t p = at(static_cast<int64_t>(t));
            sig[t] = cd(to_double(in[p]), comps == 2 ? to_double(in[p + 1]) : 0.0);
          }
        }
        dft_1d(sig, w, res);
        for (int64_t k = 0; k < s.out_len; ++k) {
          const int64_t p = ((o * s.out_len + k) * inner + i) * out_comps;
          out[p] = from_double<T>(res[static_cast<size_t>(k)].real() * scale);
          if (out_comps == 2) out[p + 1] = from_double<T>(res[static_cast<size_t>(k)].imag() * scale);
        }
      }
  }, "DFT");
}

// ---- STFT ----

struct StftSetup {
  int64_t step = -1, frame = -1, frames = -1, bins = -1;
};

template <typename Ctx>
StftSetup stft_setup(const Ctx& ctx, const Shape& signal, const Tensor* step, const Tensor* window_value,
                     const Shape* window_shape, const Tensor* frame_len) {
  StftSetup s;
  if (signal.rank_known && signal.rank() != 3) ctx.fail("signal must be [batch, length, 1 or 2], got {}", signal.str());
  const bool onesided = ctx.attr_int("onesided", 1) != 0;
  if (onesided && signal.rank_known && signal.dims[2].is_known() && signal.dims[2].value() == 2)
    ctx.fail("onesided=1 needs a real signal; a complex signal has no one-sided spectrum");
  if (step) {
    s.step = scalar_int(ctx, *step, "frame_step");
    if (s.step <= 0) ctx.bad_input("frame_step must be positive, got {}", s.step);
  }
  int64_t window_len = -1;
  if (window_value) window_len = window_value->numel();
  else if (window_shape && window_shape->is_concrete()) window_len = window_shape->values().empty() ? 1 : window_shape->values()[0];
  if (window_shape && window_shape->rank_known && window_shape->rank() != 1)
    ctx.fail("window must be 1-D, got {}", window_shape->str());
  if (frame_len) {
    s.frame = scalar_int(ctx, *frame_len, "frame_length");
    if (window_len >= 0 && window_len != s.frame)
      ctx.fail("window has {} values but frame_length is {}", window_len, s.frame);
  } else if (!ctx.has_input(3)) {
    if (ctx.has_input(2)) s.frame = window_len;
    else if (signal.rank_known && signal.dims[1].is_known()) s.frame = signal.dims[1].value();
  }
  if (s.frame == 0 || s.frame < -1) ctx.bad_input("frame_length must be positive, got {}", s.frame);
  if (s.frame > 0) s.bins = onesided ? s.frame / 2 + 1 : s.frame;
  if (s.frame > 0 && s.step > 0 && signal.rank_known && signal.dims[1].is_known()) {
    const int64_t len = signal.dims[1].value();
    if (len < s.frame) ctx.bad_input("the signal ({} samples) is shorter than one frame ({})", len, s.frame);
    s.frames = (len - s.frame) / s.step + 1;
  }
  return s;
}

void infer_stft(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t)) ctx.fail("signal must be a float type, not {}", dtype_name(t));
  const Shape& sig = ctx.input_shape(0);
  const StftSetup s = stft_setup(ctx, sig, ctx.input_value(1), ctx.input_value(2),
                                 ctx.has_input(2) ? &ctx.input_shape(2) : nullptr, ctx.input_value(3));
  auto dim = [](int64_t v) { return v >= 0 ? Dim(v) : Dim(); };
  ctx.set_output(0, t, Shape({sig.rank_known ? sig.dims[0] : Dim(), dim(s.frames), dim(s.bins), Dim(2)}));
}

void compute_stft(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor* window = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const StftSetup s = stft_setup(ctx, Shape::from(x.dims()), &ctx.input(1), window, nullptr,
                                 ctx.has_input(3) ? &ctx.input(3) : nullptr);
  if (window && window->rank() != 1) ctx.fail("window must be 1-D, got {}", dims_str(window->dims()));
  const int64_t batch = x.dim(0), len = x.dim(1), comps = x.dim(2);
  std::vector<double> win(static_cast<size_t>(s.frame), 1.0);
  if (window)
    for (int64_t i = 0; i < s.frame; ++i) win[static_cast<size_t>(i)] = window->double_at(i);
  const std::vector<cd> w = twiddles(s.frame, -1.0);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    std::vector<cd> frame(static_cast<size_t>(s.frame)), res(static_cast<size_t>(s.bins));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t f = 0; f < s.frames; ++f) {
        for (int64_t t = 0; t < s.frame; ++t) {
          const int64_t p = (b * len + f * s.step + t) * comps;
          const double wt = win[static_cast<size_t>(t)];
          frame[static_cast<size_t>(t)] = cd(to_double(in[p]) * wt, comps == 2 ? to_double(in[p + 1]) * wt : 0.0);
        }
        dft_1d(frame, w, res);
        for (int64_t k = 0; k < s.bins; ++k) {
          const int64_t p = ((b * s.frames + f) * s.bins + k) * 2;
          out[p] = from_double<T>(res[static_cast<size_t>(k)].real());
          out[p + 1] = from_double<T>(res[static_cast<size_t>(k)].imag());
        }
      }
  }, "STFT");
}

}  // namespace

KILN_REGISTER_OP(dft, {"", "DFT", {17, 20}, 0, infer_dft, compute_dft});
KILN_REGISTER_OP(stft, {"", "STFT", {17}, 0, infer_stft, compute_stft});

}  // namespace kiln::ops
