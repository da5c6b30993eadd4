#pragma once
// The pooling kernels, written once over a SIMD wrapper S (simd_extra.h) and instantiated per tier in
// pool_avx2.cpp and pool_avx512.cpp. Include only from those files. See pool.h for the method and accuracy.

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/pool/pool.h"
#include "kernels/simd/vector_loops.h"

namespace kiln::kernels::pool_impl {

using simd::for_each_vector;

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// The padded row buffer of one output row: input columns [0, in_w) live at [pad_left, pad_left + in_w); the
/// columns before and after hold the padding fill (-inf for max, 0 for sums), so every output's taps are
/// plain (strided) loads from `base(ox) = ox * stride_w`. Its length covers the widest vector's reads.
inline int64_t padded_row_floats(const Pool2dShape& s) {
  const int64_t lanes = 16;  // the widest tier
  return s.pad_left + s.in_w + std::max(s.out_w, lanes) * s.stride_w + s.kernel_w * s.dilation_w + lanes;
}

/// Output columns [0, left_edge) have windows starting in the left padding.
inline int64_t left_edge_columns(const Pool2dShape& s) {
  return std::min((s.pad_left + s.stride_w - 1) / s.stride_w, s.out_w);
}

/// kLanes values p[0], p[stride], ...: vector loads for strides 1 and 2, lane fills otherwise (kStride 0).
template <class S, int kStride> typename S::V load_taps(const float* p, int64_t stride) {
  if constexpr (kStride == 1) {
    return S::load(p);
  } else if constexpr (kStride == 2) {
    return S::load_even(p);
  } else {
    alignas(64) float t[S::kLanes];
    for (int j = 0; j < S::kLanes; ++j) t[j] = p[j * stride];
    return S::load(t);
  }
}

/// The most input rows one output row may combine (kernel_h); taller windows run the reference.
inline constexpr int64_t kMaxWindowRows = 64;

/// out[i] = fold over rows[0..n) of row[i], as max (NaN-ignoring: v > acc ? v : acc, from -inf) or sum (from 0),
/// over w floats. Returns whether rows[0] holds a NaN (looked for only when `find_nan`).
template <class S, bool kMax>
bool fold_rows(float* out, const float* const* rows, int64_t n, int64_t w, bool find_nan) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  const float init = kMax ? kNegInf : 0.0f;
  bool nan = false;
  if (w >= L) {
    const V vinit = S::set1(init);
    V nans = S::zero();  // NaN in the lanes where rows[0] had one
    for_each_vector<S>(w, out, [&](int64_t i) {
      V acc = vinit;
      for (int64_t r = 0; r < n; ++r) {
        const V v = S::load(rows[r] + i);
        if (r == 0 && find_nan) nans = S::select_nan(nans, v);
        acc = kMax ? S::max(v, acc) : S::add(v, acc);
      }
      return acc;
    });
    return find_nan && std::isnan(S::reduce_add(nans));
  }
  for (int64_t i = 0; i < w; ++i) {
    float acc = init;
    for (int64_t r = 0; r < n; ++r) {
      const float v = rows[r][i];
      acc = kMax ? (v > acc ? v : acc) : v + acc;
    }
    out[i] = acc;
    nan = nan || (find_nan && std::isnan(rows[0][i]));
  }
  return nan;
}

/// Stride-2 max pooling (dilation 1) straight from the input rows, for output columns whose every read lies
/// inside the row. For a vector of kLanes outputs starting at input column c: the column maxima over the window's
/// rows at c + 2m + [0, 2 * kLanes) for each pair of taps (2m, 2m + 1), whose even lanes are tap 2m of the
/// outputs and odd lanes tap 2m + 1. Against folding the rows into a buffer and loading every tap with a stride,
/// on Zen 2 (3x3/2 on 111x111 planes) 3.5 -> 1.8 us per plane.
///
/// NaN as the reference: the maxima ignore NaNs (from -inf, max(v, acc) keeps acc when v is NaN), then
/// max(acc, first taps) with the first taps (row 0 at column c + 2j, already loaded) is NaN exactly when that
/// tap is, and acc otherwise.
template <class S> struct Stride2Interior {
  static constexpr int L = S::kLanes;
  static constexpr bool kCarries = requires(typename S::V v) { S::shift_in_next(v, v); };
  int64_t begin = 0, end = 0;  ///< output columns the vectors cover; [begin, end) holds at least one vector
  int64_t end_3x3 = 0;         ///< the end run_3x3 reaches (at least `end`)

  explicit Stride2Interior(const Pool2dShape& s) {
    const int64_t pairs = (s.kernel_w + 1) / 2;
    // A vector at ox reads columns 2 * ox - pad_left + [0, 2 * (pairs - 1) + 2 * L).
    begin = (s.pad_left + 1) / 2;
    const int64_t room = s.in_w + s.pad_left - 2 * (pairs - 1) - 2 * L;  // 2 * ox <= room
    end = room < 0 ? 0 : std::min(s.out_w, room / 2 + L);
    // run_3x3's last vector reads columns c + [0, 2L], one fewer: an odd width's last output (SqueezeNet's
    // 13-, 27- and 55-wide ceil_mode rows, ResNet's 56) needs no scalar window.
    const int64_t room_3x3 = s.in_w + s.pad_left - 1 - 2 * L;
    end_3x3 = room_3x3 < 0 || !kCarries || s.kernel_w != 3 ? end : std::min(s.out_w, room_3x3 / 2 + L);
    if (end - begin < L || s.stride_w != 2 || s.dilation_w != 1) begin = end = end_3x3 = 0;
  }
  bool usable() const { return end > begin; }

  /// Outputs [begin, returned end) of one row from its n valid input rows (rows[0] the first). The common windows
  /// (2 or 3 rows, 2 or 3 columns) get unrolled loops: with runtime loop counts this took twice as long.
  int64_t run(const Pool2dShape& s, const float* const* rows, int64_t n, float* yrow) const {
    const int64_t w = s.kernel_w;
    if constexpr (kCarries) {
      if (w == 3 && n == 3) {
        run_3x3(rows, s.pad_left, end_3x3, yrow);
        return end_3x3;
      }
    }
    if (n == 3) w == 3 ? run_fixed<3, 3>(s, rows, n, yrow) : w == 2 ? run_fixed<3, 2>(s, rows, n, yrow)
                                                                  : run_fixed<3, 0>(s, rows, n, yrow);
    else if (n == 2) w == 3 ? run_fixed<2, 3>(s, rows, n, yrow) : w == 2 ? run_fixed<2, 2>(s, rows, n, yrow)
                                                                       : run_fixed<2, 0>(s, rows, n, yrow);
    else run_fixed<0, 0>(s, rows, n, yrow);
    return end;
  }

  /// 3x3 windows (the ResNets' and SqueezeNet's pools): with cm(j) the maximum of the three rows at column
  /// c + j, a vector of outputs is max(cm(2i), cm(2i + 1), cm(2i + 2)). The third term is the first one a lane
  /// further on, its last lane cm(2L) from the next vector's first column maxima, which that vector needs
  /// anyway: 6 loads per L outputs instead of run_fixed's 12 (needs S::shift_in_next). The last vector of the
  /// row, which may overlap its predecessor, loads its own. NaN as run_fixed.
  void run_3x3(const float* const* rows, int64_t pad_left, int64_t stop, float* yrow) const {
    using V = typename S::V;
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
    const V neg_inf = S::set1(kNegInf);
    auto column_max = [&](int64_t c, V& first) {
      first = S::load(r0 + c);
      return S::max(S::load(r2 + c), S::max(S::load(r1 + c), S::max(first, neg_inf)));
    };
    V first_lo, lo = column_max(2 * begin - pad_left, first_lo);
    for (int64_t ox = begin;; ox += L) {
      const bool last = ox + L >= stop;
      if (ox + L > stop) {  // the last vector overlaps its predecessor
        ox = stop - L;
        lo = column_max(2 * ox - pad_left, first_lo);
      }
      const int64_t c = 2 * ox - pad_left;
      V first_hi, first_next = neg_inf;  // set when a next vector follows (GCC cannot tell)
      const V hi = column_max(c + L, first_hi);
      const V even_unordered = S::even_lanes_unordered(lo, hi);
      // The next vector's first column maxima (columns c + 2L on) when that vector is not the overlapping last
      // one; else just column c + 2L, broadcast (the bounds keep it inside the row, not the columns after it).
      V next;
      if (ox + 2 * L <= stop) {
        next = column_max(c + 2 * L, first_next);
      } else {
        const int64_t j = c + 2 * L;
        next = S::max(S::set1(r2[j]), S::max(S::set1(r1[j]), S::max(S::set1(r0[j]), neg_inf)));
      }
      // Taps 0 and 1, then the first taps (NaN exactly where a first tap is: the column maxima ignore NaNs), in
      // the tier's lane order, put right once (AVX2: one lane-crossing permute; the even lanes, which
      // shift_in_next needs in order, the other). Tap 2 last, as max's first operand: NaN-free, it keeps the NaN.
      const V taps01 = S::max(S::odd_lanes_unordered(lo, hi), even_unordered);
      const V with_first = S::to_lane_order(S::max(taps01, S::even_lanes_unordered(first_lo, first_hi)));
      S::store(yrow + ox, S::max(S::shift_in_next(S::to_lane_order(even_unordered), next), with_first));
      if (last) return;
      lo = next, first_lo = first_next;
    }
  }

  /// kRows, kW: n and kernel_w when not 0.
  template <int kRows, int kW>
  void run_fixed(const Pool2dShape& s, const float* const* rows, int64_t n, float* yrow) const {
    using V = typename S::V;
    const int64_t nr = kRows ? kRows : n, w = kW ? kW : s.kernel_w;
    // The row pointers in locals: read through `rows`, they are reloaded after every store to yrow.
    const float* row[kRows ? kRows : 1];
    for (int r = 0; r < kRows; ++r) row[r] = rows[r];
    const V neg_inf = S::set1(kNegInf);
    // The maximum over the rows at columns [c, c + L), NaNs ignored; `first` receives row 0's values.
    auto column_max = [&](int64_t c, V& first) {
      first = S::load((kRows ? row[0] : rows[0]) + c);
      V acc = S::max(first, neg_inf);
      if constexpr (kRows > 0) {
        for (int r = 1; r < kRows; ++r) acc = S::max(S::load(row[r] + c), acc);
      } else {
        for (int64_t r = 1; r < nr; ++r) acc = S::max(S::load(rows[r] + c), acc);
      }
      return acc;
    };
    for (int64_t ox = begin;; ox += L) {
      if (ox + L > end) ox = end - L;  // the last vector overlaps its predecessor
      const int64_t c = 2 * ox - s.pad_left;
      V first_lo, first_hi, unused;
      V lo = column_max(c, first_lo), hi = column_max(c + L, first_hi);
      V acc = S::even_lanes_unordered(lo, hi);
      if (w > 1) acc = S::max(S::odd_lanes_unordered(lo, hi), acc);
      for (int64_t kx = 2; kx < w; kx += 2) {
        lo = column_max(c + kx, unused), hi = column_max(c + kx + L, unused);
        acc = S::max(S::even_lanes_unordered(lo, hi), acc);
        if (kx + 1 < w) acc = S::max(S::odd_lanes_unordered(lo, hi), acc);
      }
      acc = S::max(acc, S::even_lanes_unordered(first_lo, first_hi));
      S::store(yrow + ox, S::to_lane_order(acc));
      if (ox + L == end) return;
    }
  }
};

/// One max-pool output from its valid taps, with the reference's NaN rule (the first valid tap's NaN is kept,
/// later ones are ignored); -inf when no tap is valid. For the few columns next to the row's ends.
inline float max_window_scalar(const Pool2dShape& s, const float* const* rows, int64_t n, int64_t ox) {
  const int64_t x0 = ox * s.stride_w - s.pad_left, d = s.dilation_w;
  // The first tap at or right of column 0 and the one past the last valid (no division without dilation).
  const int64_t k0 = x0 >= 0 ? 0 : d == 1 ? -x0 : (d - 1 - x0) / d;
  const int64_t k1 = x0 >= s.in_w ? 0 : std::min(s.kernel_w, d == 1 ? s.in_w - x0 : (s.in_w - x0 + d - 1) / d);
  if (n == 0 || k0 >= k1) return kNegInf;
  float acc = rows[0][x0 + k0 * d];  // the first valid tap: a NaN here stays (v > NaN is false)
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = k0; k < k1; ++k) {
      const float v = rows[r][x0 + k * d];
      acc = v > acc ? v : acc;
    }
  return acc;
}

/// Sets the padding columns of a padded row buffer to `fill`.
inline void fill_padding(const Pool2dShape& s, float* buf, float fill) {
  std::fill(buf, buf + s.pad_left, fill);
  std::fill(buf + s.pad_left + s.in_w, buf + padded_row_floats(s), fill);
}

/// Floats of the staging buffer for first taps (maxpool_rows): padded coordinates up to the last vector's reads.
inline int64_t first_tap_floats(const Pool2dShape& s) {
  const int64_t lanes = 16;  // the widest tier
  return (std::max(s.out_w, lanes) + lanes) * s.stride_w + 4 * lanes;
}

/// Max pooling. The maximum over taps ignores NaNs (max(v, acc) keeps acc when v is NaN); the reference's rule
/// (NaN exactly when the window's first valid tap is NaN) is restored by max(acc, first tap), which is NaN
/// exactly when that tap is. The first taps come from the first valid row: read in place where a vector's
/// windows all start inside the row, else from a padded copy of just the part that vector reads (windows
/// starting in the left padding, or beyond the row's end with large end pads), whose left-padding windows are
/// then fixed one by one. An output row whose first valid input row holds no NaN (the fold looks) skips all
/// that: max(acc, first tap) is then acc. Stride 2 without dilation takes Stride2Interior where it fits.
template <class S, int kStride>
void maxpool_rows(const Pool2dShape& s, const float* x, float* y, int64_t row_begin, int64_t row_end, float* scratch) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  float* buf = scratch;
  float* first = scratch + padded_row_floats(s);  // staged first taps, in padded coordinates
  fill_padding(s, buf, kNegInf);
  const int64_t left_edge = left_edge_columns(s);
  // Outputs [0, safe_end) have windows starting at or before the row's last column.
  const int64_t safe_end = std::min(s.out_w, (s.in_w - 1 + s.pad_left) / s.stride_w + 1);
  const V neg_inf = S::set1(kNegInf);
  const Stride2Interior<S> interior(s);
  for (int64_t oy = row_begin; oy < row_end; ++oy) {
    float* yrow = y + oy * s.out_w;
    const float* rows[kMaxWindowRows];
    int64_t n = 0;
    for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
      const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
      if (iy >= 0 && iy < s.in_h) rows[n++] = x + iy * s.in_w;
    }
    if (n == 0) {  // the window lies in the top or bottom padding
      std::fill(yrow, yrow + s.out_w, kNegInf);
      continue;
    }
    if (kStride == 2 && interior.usable()) {
      const int64_t end = interior.run(s, rows, n, yrow);
      for (int64_t ox = 0; ox < interior.begin; ++ox) yrow[ox] = max_window_scalar(s, rows, n, ox);
      for (int64_t ox = end; ox < s.out_w; ++ox) yrow[ox] = max_window_scalar(s, rows, n, ox);
      continue;
    }
    const float* first_row = rows[0];
    if (!fold_rows<S, true>(buf + s.pad_left, rows, n, s.in_w, true)) {
      for_each_vector<S>(s.out_w, yrow, [&](int64_t ox) {
        const int64_t base = ox * s.stride_w;
        V acc = neg_inf;
        for (int64_t kx = 0; kx < s.kernel_w; ++kx)
          acc = S::max(load_taps<S, kStride>(buf + base + kx * s.dilation_w, s.stride_w), acc);
        return acc;
      });
      continue;
    }
    for_each_vector<S>(s.out_w, yrow, [&](int64_t ox) {
      const int64_t base = ox * s.stride_w;
      V acc = neg_inf;
      for (int64_t kx = 0; kx < s.kernel_w; ++kx) acc = S::max(load_taps<S, kStride>(buf + base + kx * s.dilation_w, s.stride_w), acc);
      const float* taps;
      if (ox >= left_edge && ox + L <= safe_end) {
        taps = first_row + (base - s.pad_left);
      } else {
        for (int64_t p = base; p < base + L * s.stride_w; ++p) {
          const int64_t ix = p - s.pad_left;
          first[p] = ix >= 0 && ix < s.in_w ? first_row[ix] : kNegInf;
        }
        taps = first + base;
      }
      return S::max(acc, load_taps<S, kStride>(taps, s.stride_w));
    });
    for (int64_t ox = 0; ox < left_edge; ++ox) {
      for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
        const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
        if (ix < 0) continue;
        if (ix < s.in_w && std::isnan(first_row[ix])) yrow[ox] = first_row[ix];
        break;
      }
    }
  }
}

/// Average pooling: sums of the zero-padded buffer times 1 / (rows * columns counted), the column factor from
/// a table filled once per call.
template <class S, int kStride>
void avgpool_rows(const Pool2dShape& s, const float* x, float* y, int64_t row_begin, int64_t row_end, float* scratch) {
  using V = typename S::V;
  const int64_t padded = padded_row_floats(s);
  float* buf = scratch;
  float* inv_cols = scratch + padded;  // per output column, 1 / columns counted (NaN when none)
  fill_padding(s, buf, 0.0f);
  for (int64_t ox = 0; ox < std::max<int64_t>(s.out_w, 16); ++ox) {
    int64_t cols = 0;
    for (int64_t kx = 0; kx < s.kernel_w; ++kx) {
      const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
      cols += s.count_include_pad ? ix < s.in_w + s.pad_right : (ix >= 0 && ix < s.in_w);
    }
    inv_cols[ox] = cols > 0 ? 1.0f / static_cast<float>(cols) : std::numeric_limits<float>::quiet_NaN();
  }
  for (int64_t oy = row_begin; oy < row_end; ++oy) {
    float* yrow = y + oy * s.out_w;
    const float* row_ptrs[kMaxWindowRows];
    int64_t rows = 0, padded_rows = 0;
    for (int64_t ky = 0; ky < s.kernel_h; ++ky) {
      const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
      if (iy < s.in_h + s.pad_bottom) ++padded_rows;
      if (iy >= 0 && iy < s.in_h) row_ptrs[rows++] = x + iy * s.in_w;
    }
    fold_rows<S, false>(buf + s.pad_left, row_ptrs, rows, s.in_w, false);
    if (rows == 0) {  // only padding: 0 / padded count, or 0 / 0 without count_include_pad
      std::fill(yrow, yrow + s.out_w, s.count_include_pad ? 0.0f : std::numeric_limits<float>::quiet_NaN());
      continue;
    }
    const V inv_rows = S::set1(1.0f / static_cast<float>(s.count_include_pad ? padded_rows : rows));
    for_each_vector<S>(s.out_w, yrow, [&](int64_t ox) {
      const float* b = buf + ox * s.stride_w;
      V acc = load_taps<S, kStride>(b, s.stride_w);
      for (int64_t kx = 1; kx < s.kernel_w; ++kx) acc = S::add(acc, load_taps<S, kStride>(b + kx * s.dilation_w, s.stride_w));
      return S::mul(acc, S::mul(inv_rows, S::load(inv_cols + ox)));
    });
  }
}

/// Narrow: a wrapper of fewer lanes that the tier may also run (AVX-512: AVX2's 8), for stride-2 rows too narrow
/// for S's Stride2Interior but not for Narrow's: SqueezeNet's 27-column planes (13 outputs) otherwise take the
/// folded-buffer path with a stack copy per row. Measured (1 thread, MaxPool 3x3/2 ceil on 256x27x27 alone, kiln
/// bench min ms): avx512 0.091, avx2 0.050.
template <class S, class Narrow = S>
void maxpool2d(const Pool2dShape& s, const float* x, float* y, int64_t row_begin, int64_t row_end, float* buf) {
  if constexpr (!std::is_same_v<S, Narrow>) {
    if (s.stride_w == 2 && !Stride2Interior<S>(s).usable() && Stride2Interior<Narrow>(s).usable())
      return maxpool_rows<Narrow, 2>(s, x, y, row_begin, row_end, buf);
  }
  if (s.stride_w == 1) maxpool_rows<S, 1>(s, x, y, row_begin, row_end, buf);
  else if (s.stride_w == 2) maxpool_rows<S, 2>(s, x, y, row_begin, row_end, buf);
  else maxpool_rows<S, 0>(s, x, y, row_begin, row_end, buf);
}

template <class S>
void avgpool2d(const Pool2dShape& s, const float* x, float* y, int64_t row_begin, int64_t row_end, float* buf) {
  if (s.stride_w == 1) avgpool_rows<S, 1>(s, x, y, row_begin, row_end, buf);
  else if (s.stride_w == 2) avgpool_rows<S, 2>(s, x, y, row_begin, row_end, buf);
  else avgpool_rows<S, 0>(s, x, y, row_begin, row_end, buf);
}

/// Maximum of each plane; any NaN makes the result NaN (the reference's rule); -inf for empty planes.
template <class S> void global_maxpool(const float* x, float* y, int64_t planes, int64_t size) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * size;
    V a0 = S::set1(kNegInf), a1 = a0, nan0 = S::zero(), nan1 = nan0;
    int64_t i = 0;
    for (; i + 2 * L <= size; i += 2 * L) {
      const V v0 = S::load(xp + i), v1 = S::load(xp + i + L);
      a0 = S::max(v0, a0), a1 = S::max(v1, a1);
      nan0 = S::select_nan(nan0, v0), nan1 = S::select_nan(nan1, v1);
    }
    float best = S::reduce_max(S::max(a0, a1));
    bool nan = std::isnan(S::reduce_add(S::add(nan0, nan1)));
    for (; i < size; ++i) {
      nan = nan || std::isnan(xp[i]);
      best = xp[i] > best ? xp[i] : best;
    }
    y[p] = nan ? std::numeric_limits<float>::quiet_NaN() : best;
  }
}

/// Mean of each plane (NaN for empty planes, as 0 / 0).
template <class S> void global_avgpool(const float* x, float* y, int64_t planes, int64_t size) {
  using V = typename S::V;
  constexpr int L = S::kLanes;
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * size;
    V a0 = S::zero(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 4 * L <= size; i += 4 * L) {
      a0 = S::add(a0, S::load(xp + i));
      a1 = S::add(a1, S::load(xp + i + L));
      a2 = S::add(a2, S::load(xp + i + 2 * L));
      a3 = S::add(a3, S::load(xp + i + 3 * L));
    }
    for (; i + L <= size; i += L) a0 = S::add(a0, S::load(xp + i));
    if (i < size) a1 = S::add(a1, S::load_partial(xp + i, size - i));
    const float sum = S::reduce_add(S::add(S::add(a0, a1), S::add(a2, a3)));
    y[p] = size > 0 ? sum / static_cast<float>(size) : std::numeric_limits<float>::quiet_NaN();
  }
}

}  // namespace kiln::kernels::pool_impl

/// Defines the tier's kernel set (pool_list.h names) over wrapper S (narrow stride-2 max pool rows over Narrow: see
/// maxpool2d); used once in each ISA file. Narrow must be a type of that file's own (internal linkage): the
/// templates instantiated over it are then not the other tier's, compiled with other flags.
#define KILN_DEFINE_POOL_KERNELS(suffix, S, Narrow)                                                               \
  void maxpool2d_f32_##suffix(const Pool2dShape& s, const float* x, float* y, int64_t r0, int64_t r1, float* b) { \
    pool_impl::maxpool2d<S, Narrow>(s, x, y, r0, r1, b);                                                          \
  }                                                                                                               \
  void avgpool2d_f32_##suffix(const Pool2dShape& s, const float* x, float* y, int64_t r0, int64_t r1, float* b) { \
    pool_impl::avgpool2d<S>(s, x, y, r0, r1, b);                                                                  \
  }                                                                                                               \
  void global_maxpool_f32_##suffix(const float* x, float* y, int64_t planes, int64_t size) {                      \
    pool_impl::global_maxpool<S>(x, y, planes, size);                                                             \
  }                                                                                                               \
  void global_avgpool_f32_##suffix(const float* x, float* y, int64_t planes, int64_t size) {                      \
    pool_impl::global_avgpool<S>(x, y, planes, size);                                                             \
  }
