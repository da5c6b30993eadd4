#pragma once
// Vector approximations of exp, log, tanh, sigmoid, erf and friends, written once over a SIMD wrapper
// (kernels/simd/simd.h) and instantiated per tier. Include only from files compiled with a tier's flags.
// Measured accuracy is stated in vunary.h. The polynomial coefficients of exp and log are the classic Cephes
// single-precision minimax fits; the rational fits of tanh and erf were made for kiln (iteratively reweighted
// least squares on the relative error in float64, coefficients rounded to float32, then measured in float32).

#include <cstdint>

namespace kiln::kernels::vmath {

/// Horner's rule with FMAs: c[0] x^(N-1) + ... + c[N-1].
template <class S, int N> inline typename S::V poly(typename S::V x, const float (&c)[N]) {
  typename S::V p = S::set1(c[0]);
  for (int k = 1; k < N; ++k) p = S::fmadd(p, x, S::set1(c[k]));
  return p;
}

/// exp(x): x = n ln2 + r with |r| <= ln2/2 (Cody-Waite, two-part ln2), e^r by a degree-7 polynomial, then
/// scaled by 2^n as two factors 2^(n/2) so that results down to the denormal range stay exact-scaled
/// instead of flushing to 0. Inputs are clamped to [-104, 88.8]: e^-104 rounds to 0 and e^88.8 overflows to
/// +inf through the scaling itself. NaN propagates (the clamps return their second operand on NaN).
template <class S> inline typename S::V exp(typename S::V x) {
  using V = typename S::V;
  x = S::min(S::set1(88.8f), S::max(S::set1(-104.0f), x));
  const V n = S::round(S::mul(x, S::set1(1.44269504088896341f)));
  V r = S::fnmadd(n, S::set1(0.693359375f), x);
  r = S::fnmadd(n, S::set1(-2.12194440e-4f), r);
  static constexpr float c[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
  V p = poly<S>(r, c);
  p = S::fmadd(p, S::mul(r, r), r);
  p = S::add(p, S::set1(1.0f));
  const typename S::VI ni = S::to_int(n);
  const typename S::VI n1 = S::template sra_i<1>(ni);
  const typename S::VI n2 = S::sub_i(ni, n1);
  const V s1 = S::as_float(S::template shl_i<23>(S::add_i(n1, S::set1_i(127))));
  const V s2 = S::as_float(S::template shl_i<23>(S::add_i(n2, S::set1_i(127))));
  return S::mul(S::mul(p, s1), s2);
}

/// log(x): x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) = f - f²/2 + f³ P(f) with f = m - 1, plus e ln2
/// in two parts. Denormal inputs are scaled by 2^23 first. Special values by selects at the end.
template <class S> inline typename S::V log(typename S::V x) {
  using V = typename S::V;
  using VI = typename S::VI;
  const V one = S::set1(1.0f);
  const typename S::M tiny = S::lt(x, S::set1(1.17549435e-38f));  // denormal, zero or negative
  const V xs = S::select(tiny, S::mul(x, S::set1(8388608.0f)), x);
  const VI bits = S::as_int(xs);
  V e = S::to_float(S::sub_i(S::template sra_i<23>(bits), S::set1_i(126)));
  e = S::select(tiny, S::sub(e, S::set1(23.0f)), e);
  // m in [0.5, 1): keep the mantissa, set the exponent of 0.5.
  V m = S::or_(S::and_(xs, S::as_float(S::set1_i(0x007FFFFF))), S::set1(0.5f));
  const typename S::M below = S::lt(m, S::set1(0.707106781186547524f));
  e = S::select(below, S::sub(e, one), e);
  m = S::sub(S::add(m, S::select(below, m, S::zero())), one);  // f = 2m - 1 or m - 1
  static constexpr float c[] = {7.0376836292e-2f, -1.1514610310e-1f, 1.1676998740e-1f,
                                -1.2420140846e-1f, 1.4249322787e-1f, -1.6668057665e-1f,
                                2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};
  const V z = S::mul(m, m);
  V y = S::mul(S::mul(poly<S>(m, c), m), z);
  y = S::fmadd(e, S::set1(-2.12194440e-4f), y);
  y = S::fnmadd(S::set1(0.5f), z, y);
  V r = S::add(m, y);
  r = S::fmadd(e, S::set1(0.693359375f), r);
  const V inf = S::set1(__builtin_inff());
  r = S::select(S::eq(x, inf), inf, r);
  r = S::select(S::lt(x, S::zero()), S::set1(__builtin_nanf("")), r);
  r = S::select(S::eq(x, S::zero()), S::neg(inf), r);
  return S::select(S::unordered(x, x), x, r);
}

/// v with the sign bit of s (v must be non-negative).
template <class S> inline typename S::V with_sign_of(typename S::V v, typename S::V s) {
  return S::or_(v, S::and_(s, S::set1(-0.0f)));
}

/// num / (1 + exp(-|u|)) scaled so that it is num · sigmoid(u): the exp only ever sees -|u| <= 0, so it
/// never overflows, and for u < 0 the result is num · e / (1 + e) without the cancellation of 1 - ...
template <class S> inline typename S::V times_sigmoid(typename S::V num, typename S::V u) {
  using V = typename S::V;
  const V e = exp<S>(S::neg(S::abs(u)));
  const V top = S::select(S::lt(u, S::zero()), S::mul(num, e), num);
  return S::div(top, S::add(S::set1(1.0f), e));
}

/// The fast path of sigmoid and SiLU (EfficientNet spends a fifth of its time in SiLU): e = exp(z) for
/// z = -|x| in [-kFastSigmoidLimit, 0], where 2^n is normal, so the scaling is one shift of the rounding's own
/// bits (n = round(z log2e) by adding 1.5·2^23 + 127: the low bits of the sum are n + 127, the biased
/// exponent of 2^n) instead of exp's clamps, conversion and two-factor scaling, and e^t on |t| <= ln2/2 is
/// 1 + t + t² P(t), P a degree-4 fit made for kiln (iteratively reweighted least squares on the relative error:
/// 3.6e-9 with the float coefficients). Returns sigmoid(z) = e / (1 + e). 11 FMA-port operations and a
/// division against exp's 14 and its integer work; 1.4x the speed of times_sigmoid (Zen 2). Lanes outside the
/// range (|x| > 87, inf, NaN) must take times_sigmoid: the callers select them lane by lane (fast_sigmoid_range).
/// With AVX-512 (HasLookup16) a 16-entry table of 2^(j/16) (one permute, and one more for its rounding error)
/// leaves |t| <= ln2/32, where a degree-3 polynomial does (sigmoid_nonpositive_lut16): 8 FMA-port operations
/// instead of 11, as accurate (the same worst cases over a grid of step 2^-13 on [-87, 30] and 20000 random inputs
/// of each sign per binade 2^-30..2^6); Zen 4: SiLU 0.296 -> 0.258 ns per float, sigmoid 0.268 -> 0.247.
inline constexpr float kFastSigmoidLimit = 87.0f;
inline constexpr float kExpTailP[] = {1.381453942e-03f, 8.368745446e-03f, 4.166838899e-02f, 1.666652113e-01f,
                                      4.999999404e-01f, 1.0f};

template <class S> inline typename S::M fast_sigmoid_range(typename S::V z) {
  return S::le(S::set1(-kFastSigmoidLimit), z);  // false for NaN
}

/// 2^(j/16) for j = 0..15 as float bits minus j << 19 (the bits of j that the shift of the rounded value puts in
/// the mantissa, so that an integer add of the shifted value makes 2^(m + j/16) for n = 16m + j).
alignas(64) inline constexpr float kExp2Lut16[16] = {
    0x1.000000p+0f, 0x1.fb5586p-1f, 0x1.f72b84p-1f, 0x1.f387a6p-1f, 0x1.f06fe0p-1f, 0x1.edea64p-1f,
    0x1.ebfdaep-1f, 0x1.eab07ep-1f, 0x1.ea09e6p-1f, 0x1.ea1148p-1f, 0x1.eace54p-1f, 0x1.ec4918p-1f,
    0x1.ee89fap-1f, 0x1.f199bep-1f, 0x1.f5818ep-1f, 0x1.fa4afap-1f};
/// (2^(j/16) - T)/T for T = 2^(j/16) rounded to float: added to e^t - 1, the table's rounding no longer shows in
/// the results (it took sigmoid to 3.0 ulp).
alignas(64) inline constexpr float kExp2Lut16Lo[16] = {
    0.0f,           0x1.8d96d4p-25f,  -0x1.9c0c22p-27f, 0x1.964904p-25f,  0x1.125002p-25f,  0x1.370be4p-25f,
    -0x1.0a3550p-25f, -0x1.00d8acp-27f, 0x1.26055cp-26f,  -0x1.05cb44p-25f, 0x1.67a1cap-28f,  0x1.a3b5e4p-28f,
    -0x1.f9c304p-27f, -0x1.6961b4p-28f, -0x1.a5217cp-28f, 0x1.61428ep-28f};
/// e^t - 1 = t + t² (c2 + c3 t) on |t| <= ln2/32: a minimax tilt of Taylor's 1/2 and 1/6 (XNNPACK's p3).
inline constexpr float kExpLut16C2 = 0x1.00021Ep-1f, kExpLut16C3 = 0x1.55559Ap-3f;

/// A wrapper with lookup16 (Avx512, Avx2Pair); the others (AVX2's 8 lanes, the tests' scalar emulations) take the
/// degree-4 path.
template <class S>
concept HasLookup16 = requires(const float* table, typename S::VI i) { S::lookup16(table, i); };

template <class S> inline typename S::V sigmoid_nonpositive_lut16(typename S::V z) {
  using V = typename S::V;
  // n = round(16 z log2e) in the low bits of the sum (1.5·2^23: n >= -2008 keeps them within the mantissa).
  const V magic = S::set1(12582912.0f);
  const V biased = S::fmadd(z, S::set1(23.0831206542234f), magic);
  const typename S::VI bits = S::as_int(biased);
  // 2^n/16 = 2^m 2^(j/16) for n = 16m + j: the table's entry j (the permute reads the low 4 bits) plus m in the
  // exponent field (n << 19 is m << 23 + j << 19; m >= -126 keeps it normal).
  const V s = S::as_float(S::add_i(S::as_int(S::lookup16(kExp2Lut16, bits)), S::template shl_i<19>(bits)));
  const V n = S::sub(biased, magic);
  V t = S::fnmadd(n, S::set1(0.693359375f / 16), z);  // z - n ln2/16, in two parts (Cody-Waite)
  t = S::fnmadd(n, S::set1(-2.12194440e-4f / 16), t);
  V p = S::fmadd(S::set1(kExpLut16C3), t, S::set1(kExpLut16C2));
  p = S::mul(p, t);
  p = S::fmadd(p, t, t);                          // e^t - 1
  p = S::add(p, S::lookup16(kExp2Lut16Lo, bits));  // and the table's rounding
  const V e = S::fmadd(s, p, s);
  return S::div(e, S::add(S::set1(1.0f), e));
}

template <class S> inline typename S::V sigmoid_nonpositive(typename S::V z) {
  using V = typename S::V;
  if constexpr (HasLookup16<S>) return sigmoid_nonpositive_lut16<S>(z);
  const V magic = S::set1(12583039.0f);  // 1.5 · 2^23 + 127
  const V biased = S::fmadd(z, S::set1(1.44269504088896341f), magic);
  const V s = S::as_float(S::template shl_i<23>(S::as_int(biased)));  // 2^n
  const V n = S::sub(biased, magic);
  V t = S::fnmadd(n, S::set1(0.693359375f), z);  // z - n ln2, ln2 in two parts (Cody-Waite)
  t = S::fnmadd(n, S::set1(-2.12194440e-4f), t);
  const V p = poly<S>(t, kExpTailP);              // 1 + t/2 + ...: e^t = 1 + t p
  const V e = S::fmadd(S::mul(s, t), p, s);       // s e^t with one rounding after the exact s·t
  return S::div(e, S::add(S::set1(1.0f), e));
}

/// sigmoid(x): sigmoid(-|x|) by the fast path, 1 minus it for x > 0 (no cancellation: it is <= 1/2); lanes
/// past ±87, inf or NaN take times_sigmoid. 2.1 ulp (vunary.h). vunary and the register epilogues
/// of the GEMM and convolution tiles (simd/register_activation.h, gemm_tile.h) all call this one: the same bits.
template <class S> inline typename S::V sigmoid(typename S::V x) {
  using V = typename S::V;
  const V z = S::or_(x, S::set1(-0.0f));
  const V f = sigmoid_nonpositive<S>(z);
  const V r = S::select(S::le(x, S::zero()), f, S::sub(S::set1(1.0f), f));
  const typename S::M fast = fast_sigmoid_range<S>(z);
  if (S::all(fast)) [[likely]] return r;
  // Only the lanes outside the range take times_sigmoid: a lane's bits never depend on its neighbours (the
  // unused lanes of a Winograd or GEMM tile may hold anything, and a whole-vector switch made the valid lanes'
  // rounding depend on them: 1 and 2 threads gave different bits).
  return S::select(fast, r, times_sigmoid<S>(S::set1(1.0f), x));
}

/// silu(x) = x sigmoid(x): x f for x <= 0 and x - x f (one rounding) for x > 0, f = sigmoid(-|x|); le keeps -0's
/// sign. 3.0 ulp for x >= -87 (vunary.h); shared as sigmoid is.
template <class S> inline typename S::V silu(typename S::V x) {
  using V = typename S::V;
  const V z = S::or_(x, S::set1(-0.0f));
  const V f = sigmoid_nonpositive<S>(z);
  const V r = S::select(S::le(x, S::zero()), S::mul(x, f), S::fnmadd(f, x, x));
  const typename S::M fast = fast_sigmoid_range<S>(z);
  if (S::all(fast)) [[likely]] return r;
  return S::select(fast, r, times_sigmoid<S>(x, x));  // lane by lane, as sigmoid
}

/// tanh(x) = x P(x²) / Q(x²) on [-9, 9] (a rational fit made for kiln: iteratively reweighted least squares on
/// the relative error, coefficients rounded to float and measured in float), ±1 beyond, where tanh rounds to
/// ±1 anyway. One division and 12 FMAs, against an exp and a division for 1 - 2 / (e^2x + 1).
inline constexpr float kTanhP[] = {-8.488495280e-14f, 5.277951687e-11f, -2.022543022e-08f, 1.115440409e-05f,
                                   3.103968455e-03f,  1.308402270e-01f, 1.000000000e+00f};
inline constexpr float kTanhQ[] = {2.546161122e-04f, 2.449523099e-02f, 4.641734958e-01f, 1.000000000e+00f};

template <class S> inline typename S::V tanh(typename S::V x) {
  using V = typename S::V;
  const V c = S::min(S::set1(9.0f), S::max(S::set1(-9.0f), x));  // NaN stays NaN
  const V t = S::mul(c, c);
  const V r = S::div(S::mul(c, poly<S>(t, kTanhP)), poly<S>(t, kTanhQ));
  return S::select(S::lt(S::set1(9.0f), S::abs(x)), with_sign_of<S>(S::set1(1.0f), x), r);
}

/// erf(x) = x P(x²) / Q(x²) on [-3.92, 3.92] (a rational fit made as tanh's), ±1 beyond, where erf rounds to ±1.
inline constexpr float kErfLimit = 3.92f;
inline constexpr float kErfP[] = {2.018313339e-08f, -1.949812713e-06f, 1.374653802e-04f, 3.504231572e-03f,
                                  4.993486777e-02f, 1.952082366e-01f,  1.128379107e+00f};
inline constexpr float kErfQ[] = {9.094572160e-04f, 1.394639350e-02f, 1.130373701e-01f, 5.063309073e-01f,
                                  1.000000000e+00f};

template <class S> inline typename S::V erf(typename S::V x) {
  using V = typename S::V;
  const V c = S::min(S::set1(kErfLimit), S::max(S::set1(-kErfLimit), x));  // NaN stays NaN
  const V t = S::mul(c, c);
  const V r = S::div(S::mul(c, poly<S>(t, kErfP)), poly<S>(t, kErfQ));
  return S::select(S::lt(S::set1(kErfLimit), S::abs(x)), with_sign_of<S>(S::set1(1.0f), x), r);
}

/// gelu(x) = x/2 (1 + erf(x / √2)): vunary's GeluErf (7.0 ulp for x >= -1.3, vunary.h); shared with the GEMM's
/// epilogue (a MatMul + GELU in registers), so both give the same bits.
template <class S> inline typename S::V gelu_erf(typename S::V x) {
  const typename S::V half = S::set1(0.5f), one = S::set1(1.0f), rsqrt2 = S::set1(0.707106781186547524f);
  return S::mul(S::mul(half, x), S::add(one, erf<S>(S::mul(x, rsqrt2))));
}

/// log(1 + e) for e in [0, 1]: log(u) · e / (u - 1) with u = 1 + e rounded, which cancels u's rounding error
/// (Goldberg); e when u rounds to 1.
template <class S> inline typename S::V log1p_small(typename S::V e) {
  using V = typename S::V;
  const V u = S::add(S::set1(1.0f), e);
  const V d = S::sub(u, S::set1(1.0f));
  const V r = S::mul(log<S>(u), S::div(e, d));
  return S::select(S::eq(d, S::zero()), e, r);
}

}  // namespace kiln::kernels::vmath
