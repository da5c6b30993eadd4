#pragma once
// The vrow kernels, written once over a SIMD wrapper; vrow_avx2.cpp and vrow_avx512.cpp instantiate them.

#include <cmath>
#include <cstdint>

#include "kernels/simd/simd.h"
#include "kernels/vrow/vrow.h"
#include "kernels/vunary/vunary_math.h"

namespace kiln::kernels::vrow_detail {

/// Softmax of one row or column (stride between elements) as the reference computes it, in double: for the
/// rows whose maximum is not finite, where shifting by the maximum would turn inf - inf into NaN.
inline void softmax_scalar(const float* x, float* y, int64_t n, int64_t stride, bool log) {
  double mx = -INFINITY;
  for (int64_t k = 0; k < n; ++k) mx = std::fmax(mx, static_cast<double>(x[k * stride]));
  const double shift = std::isfinite(mx) ? mx : 0.0;
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) sum += std::exp(x[k * stride] - shift);
  const double log_sum = std::log(sum);
  for (int64_t k = 0; k < n; ++k) {
    const double v = x[k * stride] - shift;
    y[k * stride] = static_cast<float>(log ? v - log_sum : std::exp(v) / sum);
  }
}

/// Sum of n floats: 4 vector accumulators, then a scalar tail.
template <class S> inline float sum(const float* x, int64_t n) {
  using V = typename S::V;
  constexpr int64_t L = S::kLanes;
  V s0 = S::zero(), s1 = S::zero(), s2 = S::zero(), s3 = S::zero();
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    s0 = S::add(s0, S::load(x + i));
    s1 = S::add(s1, S::load(x + i + L));
    s2 = S::add(s2, S::load(x + i + 2 * L));
    s3 = S::add(s3, S::load(x + i + 3 * L));
  }
  for (; i + L <= n; i += L) s0 = S::add(s0, S::load(x + i));
  float t = S::reduce_add(S::add(S::add(s0, s1), S::add(s2, s3)));
  for (; i < n; ++i) t += x[i];
  return t;
}

/// Sum of (x - c)² over n floats.
template <class S> inline float sum_sq_dev(const float* x, int64_t n, float c) {
  using V = typename S::V;
  constexpr int64_t L = S::kLanes;
  const V cv = S::set1(c);
  V s0 = S::zero(), s1 = S::zero();
  int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    const V d0 = S::sub(S::load(x + i), cv), d1 = S::sub(S::load(x + i + L), cv);
    s0 = S::fmadd(d0, d0, s0);
    s1 = S::fmadd(d1, d1, s1);
  }
  for (; i + L <= n; i += L) {
    const V d = S::sub(S::load(x + i), cv);
    s0 = S::fmadd(d, d, s0);
  }
  float t = S::reduce_add(S::add(s0, s1));
  for (; i < n; ++i) t += (x[i] - c) * (x[i] - c);
  return t;
}

/// A running vector sum that keeps each addition's rounding error (Knuth's TwoSum per lane): hi + lo holds
/// about twice float's precision. LogSoftmax needs it: log(sum) near 0 (one dominant element) is read to
/// absolute precision, which a plain float sum of values near 1 loses.
template <class S> struct Sum2 {
  using V = typename S::V;
  V hi = S::zero(), lo = S::zero();
  void add(V v) {
    const V t = S::add(hi, v);
    const V vb = S::sub(t, hi);
    lo = S::add(lo, S::add(S::sub(hi, S::sub(t, vb)), S::sub(v, vb)));
    hi = t;
  }
  /// Lane j's sum, in double.
  void lanes(double* out) const {
    alignas(64) float h[S::kLanes], l[S::kLanes];
    S::store(h, hi);
    S::store(l, lo);
    for (int j = 0; j < S::kLanes; ++j) out[j] = static_cast<double>(h[j]) + l[j];
  }
  double total() const {
    double d[S::kLanes], t = 0;
    lanes(d);
    for (double v : d) t += v;
    return t;
  }
};

template <class S> inline float max(const float* x, int64_t n) {
  using V = typename S::V;
  constexpr int64_t L = S::kLanes;
  float m = -INFINITY;
  int64_t i = 0;
  if (n >= L) {
    V m0 = S::load(x), m1 = m0;
    for (i = L; i + 2 * L <= n; i += 2 * L) {
      m0 = S::max(m0, S::load(x + i));
      m1 = S::max(m1, S::load(x + i + L));
    }
    for (; i + L <= n; i += L) m0 = S::max(m0, S::load(x + i));
    m = S::reduce_max(S::max(m0, m1));
  }
  for (; i < n; ++i) m = std::fmax(m, x[i]);
  return m;
}

/// out[i] = f(x[i]) over n floats with a masked tail (as vunary's map).
template <class S, class F> inline void map(const float* x, float* y, int64_t n, F f) {
  constexpr int64_t L = S::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) S::store(y + i, f(S::load(x + i), i));
  if (i < n) S::store_partial(y + i, f(S::load_partial(x + i, n - i), i), n - i);
}

template <class S> void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log) {
  using V = typename S::V;
  for (int64_t r = 0; r < rows; ++r, x += n, y += n) {
    const float mx = max<S>(x, n);
    if (!std::isfinite(mx)) {
      softmax_scalar(x, y, n, 1, log);
      continue;
    }
    const V m = S::set1(mx);
    if (log) {
      // Sum of exp(x - max) without storing, then y = (x - max) - log(sum): two subtractions, so an x near
      // the maximum keeps its small result exactly.
      constexpr int64_t L = S::kLanes;
      Sum2<S> acc;
      int64_t i = 0;
      for (; i + L <= n; i += L) acc.add(vmath::exp<S>(S::sub(S::load(x + i), m)));
      double s = acc.total();
      for (; i < n; ++i) s += std::exp(static_cast<double>(x[i]) - mx);
      const V ls = S::set1(static_cast<float>(std::log(s)));
      map<S>(x, y, n, [&](V v, int64_t) { return S::sub(S::sub(v, m), ls); });
    } else {
      map<S>(x, y, n, [&](V v, int64_t) { return vmath::exp<S>(S::sub(v, m)); });
      const V inv = S::set1(1.0f / sum<S>(y, n));
      map<S>(y, y, n, [&](V v, int64_t) { return S::mul(v, inv); });
    }
  }
}

template <class S> void softmax_cols(const float* x, float* y, int64_t n, int64_t inner, bool log) {
  using V = typename S::V;
  constexpr int64_t L = S::kLanes;
  for (int64_t i = 0; i < inner; i += L) {
    const int64_t w = inner - i < L ? inner - i : L;
    auto load = [&](const float* p) { return w == L ? S::load(p) : S::load_partial(p, w); };
    auto store = [&](float* p, V v) { w == L ? S::store(p, v) : S::store_partial(p, v, w); };
    V m = load(x + i);
    for (int64_t k = 1; k < n; ++k) m = S::max(m, load(x + k * inner + i));
    alignas(64) float lanes[S::kLanes];
    S::store(lanes, m);
    bool finite = true;
    for (int64_t j = 0; j < w; ++j) finite = finite && std::isfinite(lanes[j]);
    if (!finite) {  // rare: those columns the reference's way
      for (int64_t j = 0; j < w; ++j) softmax_scalar(x + i + j, y + i + j, n, inner, log);
      continue;
    }
    Sum2<S> s;
    for (int64_t k = 0; k < n; ++k) {
      const V e = vmath::exp<S>(S::sub(load(x + k * inner + i), m));
      if (!log) store(y + k * inner + i, e);
      s.add(e);
    }
    if (log) {
      double sums[S::kLanes];
      s.lanes(sums);
      for (int64_t j = 0; j < S::kLanes; ++j) lanes[j] = j < w ? static_cast<float>(std::log(sums[j])) : 0.0f;
      const V ls = S::load(lanes);
      for (int64_t k = 0; k < n; ++k) store(y + k * inner + i, S::sub(S::sub(load(x + k * inner + i), m), ls));
    } else {
      const V inv = S::div(S::set1(1.0f), s.hi);
      for (int64_t k = 0; k < n; ++k) store(y + k * inner + i, S::mul(load(y + k * inner + i), inv));
    }
  }
}

template <class S>
void layer_norm_rows(const float* x, float* y, int64_t rows, int64_t n, const float* scale, const float* bias,
                     float eps) {
  using V = typename S::V;
  for (int64_t r = 0; r < rows; ++r, x += n, y += n) {
    const float mean = sum<S>(x, n) / static_cast<float>(n);
    const float var = sum_sq_dev<S>(x, n, mean) / static_cast<float>(n);
    const V m = S::set1(mean), inv = S::set1(1.0f / std::sqrt(var + eps));
    if (bias) {
      map<S>(x, y, n, [&](V v, int64_t i) {
        const int64_t left = n - i;
        const V sc = left >= S::kLanes ? S::load(scale + i) : S::load_partial(scale + i, left);
        const V bi = left >= S::kLanes ? S::load(bias + i) : S::load_partial(bias + i, left);
        return S::fmadd(S::mul(S::sub(v, m), inv), sc, bi);
      });
    } else {
      map<S>(x, y, n, [&](V v, int64_t i) {
        const int64_t left = n - i;
        const V sc = left >= S::kLanes ? S::load(scale + i) : S::load_partial(scale + i, left);
        return S::mul(S::mul(S::sub(v, m), inv), sc);
      });
    }
  }
}

template <class S> void sum_rows(const float* x, float* out, int64_t rows, int64_t n, float scale) {
  for (int64_t r = 0; r < rows; ++r) out[r] = sum<S>(x + r * n, n) * scale;
}

// Rows of a column block summed kSumColsRun at a time into a partial, the partials into the total: the rounding
// error grows with about kSumColsRun + n / kSumColsRun terms instead of n (a 112x112 plane is 12544 rows).
inline constexpr int64_t kSumColsRun = 64;

template <class S> void sum_cols(const float* x, float* out, int64_t n, int64_t inner, float scale) {
  using V = typename S::V;
  constexpr int64_t L = S::kLanes;
  int64_t i = 0;
  for (; i + 4 * L <= inner; i += 4 * L) {  // four columns of vectors: four independent add chains
    V total[4] = {S::zero(), S::zero(), S::zero(), S::zero()};
    for (int64_t k0 = 0; k0 < n; k0 += kSumColsRun) {
      V part[4] = {S::zero(), S::zero(), S::zero(), S::zero()};
      for (int64_t k = k0; k < n && k < k0 + kSumColsRun; ++k)
        for (int j = 0; j < 4; ++j) part[j] = S::add(part[j], S::load(x + k * inner + i + j * L));
      for (int j = 0; j < 4; ++j) total[j] = S::add(total[j], part[j]);
    }
    for (int j = 0; j < 4; ++j) S::store(out + i + j * L, S::mul(total[j], S::set1(scale)));
  }
  for (; i < inner; i += L) {
    const int64_t w = inner - i < L ? inner - i : L;
    auto load = [&](const float* p) { return w == L ? S::load(p) : S::load_partial(p, w); };
    V total = S::zero();
    for (int64_t k0 = 0; k0 < n; k0 += kSumColsRun) {
      V part = S::zero();
      for (int64_t k = k0; k < n && k < k0 + kSumColsRun; ++k) part = S::add(part, load(x + k * inner + i));
      total = S::add(total, part);
    }
    const V r = S::mul(total, S::set1(scale));
    w == L ? S::store(out + i, r) : S::store_partial(out + i, r, w);
  }
}

template <class S> constexpr VRowKernels make(const char* name, IsaTier tier) {
  return {name, tier, softmax_rows<S>, softmax_cols<S>, layer_norm_rows<S>, sum_rows<S>, sum_cols<S>};
}

}  // namespace kiln::kernels::vrow_detail
