// The vunary kernels against the float64 values, at every tier this CPU has: accuracy in ulps over a sweep
// of every binade (the bounds vunary.h states), special values, and every length 0..67 plus a long one on
// unaligned and in-place arrays (masked tails must neither read nor write past the end).
#include <gtest/gtest.h>

#include <bit>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/vunary/vunary.h"
#include "ulp_util.h"

namespace kiln::kernels {
namespace {

using testing::sweep_inputs;
using testing::ulp_error;

struct OpCase {
  UnaryOp op;
  float alpha, beta;
  double max_ulp;  ///< bound asserted over the sweep (see vunary.h)
};

constexpr OpCase kOps[] = {
    {UnaryOp::kIdentity, 0, 0, 0},      {UnaryOp::kRelu, 0, 0, 0},          {UnaryOp::kClip, -1.5f, 2.5f, 0},
    {UnaryOp::kLeakyRelu, 0.1f, 0, 1},  {UnaryOp::kSigmoid, 0, 0, 3},       {UnaryOp::kTanh, 0, 0, 5},
    {UnaryOp::kHardSigmoid, 0.2f, 0.5f, 1}, {UnaryOp::kHardSwish, 0, 0, 3}, {UnaryOp::kSilu, 0, 0, 4},
    {UnaryOp::kGeluErf, 0, 0, 8},       {UnaryOp::kGeluTanh, 0, 0, 8},      {UnaryOp::kExp, 0, 0, 2},
    {UnaryOp::kLog, 0, 0, 2},           {UnaryOp::kErf, 0, 0, 6},           {UnaryOp::kSqrt, 0, 0, 0.5},
    {UnaryOp::kNeg, 0, 0, 0},           {UnaryOp::kAbs, 0, 0, 0},           {UnaryOp::kSoftplus, 0, 0, 3},
    {UnaryOp::kSquare, 0, 0, 0.5},      {UnaryOp::kAffine, 1.7f, -0.3f, 2},
};

/// Where the ulp bound applies (see vunary.h). Below these, the results are checked in absolute or relative
/// terms by the tests that follow: GeluErf and GeluTanh below x = -1.3 (1 + erf, 1 + tanh cancel); Silu below
/// x = -87 multiplies x by a denormal exp, which keeps only the denormal's few bits.
bool in_scope(UnaryOp op, float x) {
  if (op == UnaryOp::kGeluErf) return !(x < -1.3f);
  if (op == UnaryOp::kGeluTanh) return !(x < -1.3f);
  if (op == UnaryOp::kSilu) return !(x < -87.0f);
  return true;
}

class VUnaryTier : public ::testing::TestWithParam<VUnaryKernel> {
 protected:
  void SetUp() override {
    if (!isa_available(GetParam().tier))
      GTEST_SKIP() << GetParam().name << ": this CPU lacks " << isa_name(GetParam().tier);
  }
};

TEST_P(VUnaryTier, AccuracyOverEveryBinadeWithinStatedUlps) {
  const std::vector<float> x = sweep_inputs(48, 200000, 12.0f);
  std::vector<float> y(x.size());
  for (const OpCase& c : kOps) {
    GetParam().fn(c.op, c.alpha, c.beta, x.data(), y.data(), static_cast<int64_t>(x.size()));
    double worst = 0;
    float worst_x = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!in_scope(c.op, x[i])) continue;
      const double e = ulp_error(y[i], vunary_ref_value(c.op, c.alpha, c.beta, x[i]));
      if (e > worst) worst = e, worst_x = x[i];
    }
    std::printf("  %-14s max %.3f ulp (at x = %.9g)\n", unary_op_name(c.op), worst, static_cast<double>(worst_x));
    EXPECT_LE(worst, c.max_ulp) << unary_op_name(c.op) << " at x = " << worst_x;
  }
}

TEST_P(VUnaryTier, GeluTailsAreAccurateInAbsoluteTerms) {
  // Below x = -1.3, x/2 · (1 + erf(x/√2)) and x/2 · (1 + tanh(u)) cancel, so the error is erf's or tanh's
  // absolute error (a few ulps of 1) times |x|/2: <= 2e-7 |x|.
  std::vector<float> x;
  for (float v = -1.3f; v > -30.0f; v -= 0.0007f) x.push_back(v);
  std::vector<float> y(x.size());
  for (UnaryOp op : {UnaryOp::kGeluErf, UnaryOp::kGeluTanh}) {
    GetParam().fn(op, 0, 0, x.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i)
      EXPECT_LE(std::fabs(y[i] - vunary_ref_value(op, 0, 0, x[i])), 2e-7 * std::fabs(x[i]))
          << unary_op_name(op) << " x = " << x[i];
  }
}

TEST_P(VUnaryTier, DenormalProductsAreCloseInAbsoluteTerms) {
  for (UnaryOp op : {UnaryOp::kSilu})
    for (float x = -87.0f; x > -110.0f; x -= 0.001f) {
      float y;
      GetParam().fn(op, 0, 0, &x, &y, 1);
      EXPECT_LE(std::fabs(y - vunary_ref_value(op, 0, 0, x)), std::fabs(x) * std::ldexp(1.0, -148))
          << unary_op_name(op) << " x = " << x;
    }
}

TEST_P(VUnaryTier, SigmoidAndSiluAcrossTheFastPathsEdgeWithMixedVectors) {
  // Sigmoid and SiLU take a fast path for |x| <= 87 and the general formula for a vector with any lane beyond
  // (or inf, NaN): a dense sweep over [-90, 90] where every vector straddles the edge in some lanes, with an
  // inf or NaN lane every 37 elements, must give each lane its own correct value.
  std::vector<float> x;
  for (float v = -90.0f; v < 90.0f; v += 0.0031f) x.push_back(v);
  for (size_t i = 0; i < x.size(); i += 37) x[i] = (i / 37) % 3 == 0 ? NAN : (i / 37) % 3 == 1 ? INFINITY : -INFINITY;
  for (size_t i = 5; i < x.size(); i += 41) x[i] = (i / 41) % 2 ? 87.5f : -87.5f;
  std::vector<float> y(x.size());
  for (UnaryOp op : {UnaryOp::kSigmoid, UnaryOp::kSilu}) {
    const double bound = op == UnaryOp::kSigmoid ? 3 : 4;
    GetParam().fn(op, 0, 0, x.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = vunary_ref_value(op, 0, 0, x[i]);
      if (std::isnan(want)) {  // NaN in, and silu(-inf) = -inf · 0
        EXPECT_TRUE(std::isnan(y[i])) << unary_op_name(op) << " x = " << x[i];
      } else if (op == UnaryOp::kSilu && x[i] < -87.0f) {
        EXPECT_LE(std::fabs(y[i] - want), std::fabs(x[i]) * std::ldexp(1.0, -148)) << "silu x = " << x[i];
      } else {
        EXPECT_LE(ulp_error(y[i], want), bound) << unary_op_name(op) << " x = " << x[i];
      }
    }
  }
}

TEST_P(VUnaryTier, SigmoidAndSiluLanesDoNotDependOnTheirNeighbours) {
  // A lane's bits are the same whatever the other lanes of its vector hold: a tile's unused lanes carry
  // whatever a buffer held before, and 1 and 2 threads must still give the same bits (a whole-vector switch to
  // the general formula once changed the rounding of the valid lanes beside an out-of-range one).
  std::vector<float> clean;
  for (float v = -20.0f; v < 20.0f; v += 0.0137f) clean.push_back(v);
  std::vector<float> mixed = clean;
  const float far[] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 88.0f, -100.0f};
  for (size_t i = 3; i < mixed.size(); i += 23) mixed[i] = far[(i / 23) % 7];
  std::vector<float> y_clean(clean.size()), y_mixed(clean.size());
  for (UnaryOp op : {UnaryOp::kSigmoid, UnaryOp::kSilu}) {
    GetParam().fn(op, 0, 0, clean.data(), y_clean.data(), static_cast<int64_t>(clean.size()));
    GetParam().fn(op, 0, 0, mixed.data(), y_mixed.data(), static_cast<int64_t>(mixed.size()));
    for (size_t i = 0; i < clean.size(); ++i)
      if (mixed[i] == clean[i])
        ASSERT_EQ(std::bit_cast<uint32_t>(y_mixed[i]), std::bit_cast<uint32_t>(y_clean[i]))
            << unary_op_name(op) << " x = " << clean[i] << " beside " << mixed[i - i % 16] << "...";
  }
}

TEST_P(VUnaryTier, SpecialValues) {
  const VUnaryFn f = GetParam().fn;
  auto one = [&](UnaryOp op, float x) {
    float y;
    f(op, 0, 0, &x, &y, 1);
    return y;
  };
  EXPECT_EQ(one(UnaryOp::kExp, 89.0f), INFINITY);
  EXPECT_EQ(one(UnaryOp::kExp, INFINITY), INFINITY);
  EXPECT_EQ(one(UnaryOp::kExp, -INFINITY), 0.0f);
  EXPECT_EQ(one(UnaryOp::kExp, -104.0f), 0.0f);
  EXPECT_GT(one(UnaryOp::kExp, -100.0f), 0.0f);  // denormal, not flushed
  EXPECT_EQ(one(UnaryOp::kLog, 0.0f), -INFINITY);
  EXPECT_EQ(one(UnaryOp::kLog, INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(one(UnaryOp::kLog, -1.0f)));
  EXPECT_EQ(one(UnaryOp::kSigmoid, INFINITY), 1.0f);
  EXPECT_EQ(one(UnaryOp::kSigmoid, -INFINITY), 0.0f);
  EXPECT_EQ(one(UnaryOp::kTanh, INFINITY), 1.0f);
  EXPECT_EQ(one(UnaryOp::kTanh, -INFINITY), -1.0f);
  EXPECT_EQ(one(UnaryOp::kErf, -INFINITY), -1.0f);
  EXPECT_EQ(one(UnaryOp::kGeluErf, INFINITY), INFINITY);
  EXPECT_EQ(one(UnaryOp::kSoftplus, INFINITY), INFINITY);
  EXPECT_EQ(one(UnaryOp::kSoftplus, -INFINITY), 0.0f);
  for (int op = 0; op < kUnaryOpCount; ++op) {
    if (op != static_cast<int>(UnaryOp::kClip) && op != static_cast<int>(UnaryOp::kAffine)) {
      EXPECT_TRUE(std::isnan(one(static_cast<UnaryOp>(op), NAN))) << unary_op_name(static_cast<UnaryOp>(op));
    }
  }
}

TEST_P(VUnaryTier, EveryLengthUnalignedAndInPlace) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-8.0f, 8.0f);
  std::vector<int64_t> lengths;
  for (int64_t n = 0; n <= 67; ++n) lengths.push_back(n);
  lengths.push_back(4099);
  const float guard = 12345.0f;
  for (const OpCase& c : kOps) {
    for (int64_t n : lengths) {
      std::vector<float> src(static_cast<size_t>(n) + 3), dst(static_cast<size_t>(n) + 3, guard);
      for (float& v : src) v = dist(rng);
      const float* x = src.data() + 1;  // unaligned
      float* y = dst.data() + 1;
      GetParam().fn(c.op, c.alpha, c.beta, x, y, n);
      EXPECT_EQ(dst[0], guard);
      EXPECT_EQ(dst[static_cast<size_t>(n) + 1], guard) << unary_op_name(c.op) << " wrote past n = " << n;
      for (int64_t i = 0; i < n; ++i) {
        const double e = ulp_error(y[i], vunary_ref_value(c.op, c.alpha, c.beta, x[i]));
        if (in_scope(c.op, x[i])) { ASSERT_LE(e, c.max_ulp) << unary_op_name(c.op) << " n=" << n << " i=" << i; }
      }
      std::vector<float> inplace(src.begin() + 1, src.begin() + 1 + n);
      GetParam().fn(c.op, c.alpha, c.beta, inplace.data(), inplace.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const float a = inplace[static_cast<size_t>(i)];
        ASSERT_TRUE(a == y[i] || (std::isnan(a) && std::isnan(y[i]))) << unary_op_name(c.op);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, VUnaryTier, ::testing::ValuesIn(vunary_kernels().begin(), vunary_kernels().end()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(VUnary, ActivationDispatchMatchesReference) {
  // The epilogue entry point, on short rows: the active tier against the scalar activation reference.
  const ActivationParams acts[] = {{Activation::kRelu}, {Activation::kClip, 0.0f, 6.0f}, {Activation::kLeakyRelu, 0.2f},
                                   {Activation::kSigmoid}, {Activation::kTanh}, {Activation::kHardSigmoid, 0.2f, 0.5f},
                                   {Activation::kHardSwish}, {Activation::kSilu}, {Activation::kGeluErf},
                                   {Activation::kGeluTanh}, {Activation::kNone}};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-6.0f, 6.0f);
  for (const ActivationParams& a : acts)
    for (int64_t n : {1, 7, 16, 17, 33, 64, 100}) {
      std::vector<float> x(static_cast<size_t>(n)), got(x.size()), want(x.size());
      for (float& v : x) v = dist(rng);
      apply_activation_f32(a, x.data(), got.data(), n);
      apply_activation_f32_ref(a, x.data(), want.data(), n);
      for (size_t i = 0; i < x.size(); ++i)
        EXPECT_NEAR(got[i], want[i], 4e-6 * std::max(1.0f, std::fabs(want[i]))) << activation_name(a.kind);
    }
}

}  // namespace
}  // namespace kiln::kernels
