#pragma once
// The Winograd F(4x4, 3x3) input and output transforms of one segment (winograd.h), written once over a SIMD
// wrapper and instantiated per tier in winograd_avx2.cpp and winograd_avx512.cpp. Vectorised across tiles like
// F(2x2, 3x3) (winograd_impl.h), but tile j's 6x6 patch starts at input column 4j: each input row is first split
// into its 4 phases (phase k holds columns 4j + k), so the patch's columns 0..3 of kLanes tiles are one vector
// of each phase and columns 4, 5 are phases 0, 1 one tile further on. Outputs are merged back from their 4
// phases (simd::Interleave's merge4). Include only from those files.

#include <algorithm>
#include <type_traits>
#include <utility>

#include "kernels/simd/register_activation.h"
#include "kernels/simd/simd.h"
#include "kernels/simd/simd_interleave.h"
#include "kernels/winograd/winograd.h"
#include "kernels/winograd/winograd_f4_matrices.h"
#include "kernels/winograd/winograd_impl.h"

namespace kiln::kernels::winograd_f4_detail {

// Calls f(std::integral_constant<int, i>{}) for i = 0 .. N - 1, unrolled: i is a constant in f's body.
template <int N, typename F> __attribute__((always_inline)) inline void static_for(F&& f) {
  [&]<int... i>(std::integer_sequence<int, i...>) { (f(std::integral_constant<int, i>{}), ...); }(
      std::make_integer_sequence<int, N>{});
}

// acc += c * x for the constant c = kMat[kRow][kCol], where the first nonzero term starts the sum (the reference's
// order); zero terms vanish, ±1 are additions. (The constant is read here, not passed as a float template
// argument: clang 14, which builds the sanitizer tests, has no floating-point template parameters.)
template <typename S, const auto& kMat, int kRow, int kCol>
__attribute__((always_inline)) inline void term(typename S::V& acc, bool& first, typename S::V x) {
  constexpr float kC = kMat[kRow][kCol];
  if constexpr (kC != 0.0f) {
    if (first) {
      acc = kC == 1.0f ? x : S::mul(S::set1(kC), x);
      first = false;
    } else if constexpr (kC == 1.0f) {
      acc = S::add(acc, x);
    } else if constexpr (kC == -1.0f) {
      acc = S::sub(acc, x);
    } else {
      acc = S::fmadd(S::set1(kC), x, acc);
    }
  }
}

// Row kRow of the constant matrix kMat (6 columns) times in[0..5].
template <typename S, const auto& kMat, int kRow>
__attribute__((always_inline)) inline typename S::V combine(const typename S::V* in) {
  typename S::V acc = S::zero();
  bool first = true;
  static_for<6>([&](auto i) { term<S, kMat, kRow, decltype(i)::value>(acc, first, in[decltype(i)::value]); });
  return acc;
}

template <typename S>
void input(const WinogradShape& s, const float* x, int64_t channels, const WinogradSegment& seg, float* v,
           float* scratch) {
  using V = typename S::V;
  using I = simd::Interleave<S>;
  constexpr int L = S::kLanes;
  // Per channel: 6 rows x 4 phases x plen floats; phase k of row r at position j holds input column iw0 + 4j + k.
  // Vectors read positions up to round_up(cols, L) + 1 <= 2L + 1 < plen (a piece has at most 2L tiles).
  constexpr int64_t plen = 3 * L, per_channel = 6 * 4 * plen;
  static_assert(2 * per_channel <= static_cast<int64_t>(kWinogradInputScratchFloats));
  winograd_detail::for_each_row(s, seg, [&](int64_t row, int64_t col0, int64_t cols, int64_t lane) {
    const int64_t ih0 = 4 * row - s.pad_top, iw0 = 4 * col0 - s.pad_left;
    const int64_t jlim = std::min(plen, (cols + L - 1) / L * L + 1);  // positions the vectors read
    const bool inside_w = iw0 >= 0 && iw0 + 4 * jlim <= s.in_w;
    // Splits channel c's 6 rows into phases, in buffer c % 2. A row that is all inside the input is split where
    // it lies; one at the image's edge is first copied with its zeros into `edge`.
    auto gather = [&](int64_t c) {
      const float* plane = x + c * s.in_h * s.in_w;
      float* buf = scratch + (c % 2) * per_channel;
      alignas(64) float edge[4 * plen];
      for (int r = 0; r < 6; ++r) {
        float* ph = buf + r * 4 * plen;
        const int64_t ih = ih0 + r;
        if (ih < 0 || ih >= s.in_h) {
          for (int64_t q = 0; q < 4 * plen; q += L) S::store(ph + q, S::zero());
          continue;
        }
        const float* at = plane + ih * s.in_w + iw0;
        // The next panel most likely continues this row: ask for its columns now (a panel reads 6 short pieces
        // of every channel's rows, more streams than the hardware prefetcher follows).
        if (iw0 + 8 * jlim <= s.in_w)
          for (int64_t f = 4 * jlim; f < 8 * jlim; f += 16) __builtin_prefetch(at + f, 0, 3);
        if (!inside_w) {
          const int64_t q_lo = std::clamp<int64_t>(-iw0, 0, 4 * jlim);
          const int64_t q_hi = std::clamp<int64_t>(s.in_w - iw0, q_lo, 4 * jlim);
          for (int64_t q = 0; q < 4 * plen; q += L) S::store(edge + q, S::zero());
          int64_t q = q_lo;
          for (; q + L <= q_hi; q += L) S::store(edge + q, S::load(at + q));
          if (q < q_hi) S::store_partial(edge + q, S::load_partial(at + q, q_hi - q), q_hi - q);
          at = edge;
        }
        // L positions at a time: 4L columns split into their 4 phases in registers.
        int64_t j = 0;
        for (; j + L <= jlim; j += L) {
          V cols[4], p[4];
          for (int k = 0; k < 4; ++k) cols[k] = S::load(at + 4 * j + k * L);
          I::split4(cols, p);
          for (int k = 0; k < 4; ++k) S::store(ph + k * plen + j, p[k]);
        }
        for (; j < jlim; ++j)
          for (int k = 0; k < 4; ++k) ph[k * plen + j] = at[4 * j + k];
      }
    };
    // Channel c + 1 is split before channel c is transformed (its stores have left by the time they are read).
    if (channels > 0) gather(0);
    for (int64_t c = 0; c < channels; ++c) {
      if (c + 1 < channels) gather(c + 1);
      const float* buf = scratch + (c % 2) * per_channel;
      float* vc = v + c * seg.ldc;
      for (int64_t j = 0; j < cols; j += L) {
        V t[6][6];
        for (int q = 0; q < 6; ++q) {  // Bᵀ along the patch's rows, column by column
          V d[6];
          for (int r = 0; r < 6; ++r) {
            const float* ph = buf + r * 4 * plen;
            d[r] = q < 4 ? S::load(ph + q * plen + j) : S::load(ph + (q - 4) * plen + j + 1);
          }
          static_for<6>([&](auto a) { t[a][q] = combine<S, winograd_f4::kBt, decltype(a)::value>(d); });
        }
        const int64_t at = lane + j, n = std::min<int64_t>(L, seg.ldc - at);  // never at or past ldc
        for (int a = 0; a < 6; ++a)  // along the columns: point (a, b)
          static_for<6>([&](auto b) {
            const V p = combine<S, winograd_f4::kBt, decltype(b)::value>(t[a]);
            float* dst = vc + (a * 6 + decltype(b)::value) * seg.ldt + at;
            if (n == L) {
              S::store(dst, p);
            } else {
              S::store_partial(dst, p, n);
            }
          });
      }
    }
  });
}

template <typename S>
void output(const WinogradShape& s, const float* m, int64_t channels, const WinogradSegment& seg, const float* bias,
            const float* residual, float* y, const ActivationParams& act) {
  using V = typename S::V;
  using I = simd::Interleave<S>;
  constexpr int L = S::kLanes;
  const int64_t plane = s.out_h * s.out_w;
  const simd::RegisterActivation<S> ra(act);
  winograd_detail::for_each_row(s, seg, [&](int64_t row, int64_t col0, int64_t cols, int64_t lane) {
    const int64_t oh0 = 4 * row, ow0 = 4 * col0;
    const int64_t rows = std::min<int64_t>(4, s.out_h - oh0), out_cols = std::min(4 * cols, s.out_w - ow0);
    if (rows <= 0) return;
    for (int64_t k = 0; k < channels; ++k) {
      const float* mk = m + k * seg.ldc + lane;
      const V b = S::set1(bias ? bias[k] : 0.0f);
      const int64_t at0 = k * plane + oh0 * s.out_w + ow0;
      for (int64_t j = 0; j < cols; j += L) {
        V u[4][6];  // Aᵀ along the rows: u[r][q]
        for (int q = 0; q < 6; ++q) {
          V p[6];
          for (int a = 0; a < 6; ++a) p[a] = S::load(mk + (a * 6 + q) * seg.ldt + j);
          static_for<4>([&](auto r) { u[r][q] = combine<S, winograd_f4::kAt, decltype(r)::value>(p); });
        }
        const int64_t n = std::min<int64_t>(4 * L, out_cols - 4 * j);
        for (int r = 0; r < rows; ++r) {
          V ph[4];  // output columns 4j + q of the L tiles
          static_for<4>([&](auto q) { ph[q] = S::add(combine<S, winograd_f4::kAt, decltype(q)::value>(u[r]), b); });
          V out[4];  // the 4L output columns in order
          I::merge4(ph, out);
          const int64_t at = at0 + r * s.out_w + 4 * j;
          for (int64_t q = 0; q < n; q += L) {
            const int64_t w = std::min<int64_t>(L, n - q);
            V val = out[q / L];
            if (residual) val = S::add(val, w == L ? S::load(residual + at + q) : S::load_partial(residual + at + q, w));
            val = ra.apply(val);
            if (w == L) {
              S::store(y + at + q, val);
            } else {
              S::store_partial(y + at + q, val, w);
            }
          }
        }
      }
      if (!ra.in_registers())
        for (int r = 0; r < rows; ++r) {
          float* out = y + at0 + r * s.out_w;
          apply_activation_f32(act, out, out, out_cols);
        }
    }
  });
}

}  // namespace kiln::kernels::winograd_f4_detail
