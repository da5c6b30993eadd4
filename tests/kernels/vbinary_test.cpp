// The vbinary kernels against the scalar reference, element for element (the operations are exact IEEE
// ones, so results must be bit-identical, NaN for NaN), at every tier this CPU has: every operand pattern,
// lengths 0..67 and a long one, several rows with strides, unaligned pointers, and NaN / ±0 for Max, Min.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/vbinary/vbinary.h"

namespace kiln::kernels {
namespace {

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0; }

class VBinaryTier : public ::testing::TestWithParam<VBinaryKernel> {
 protected:
  void SetUp() override {
    if (!isa_available(GetParam().tier))
      GTEST_SKIP() << GetParam().name << ": this CPU lacks " << isa_name(GetParam().tier);
  }
};

TEST_P(VBinaryTier, EveryPatternLengthAndOpMatchesReference) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  auto fill = [&](std::vector<float>& v) {
    for (float& x : v) {
      const unsigned r = rng() % 64;
      x = r == 0 ? NAN : r == 1 ? 0.0f : r == 2 ? -0.0f : r == 3 ? INFINITY : dist(rng);
    }
  };
  std::vector<int64_t> lengths;
  for (int64_t n = 0; n <= 67; ++n) lengths.push_back(n);
  lengths.push_back(1031);
  const float guard = 777.0f;
  for (int op = 0; op < kBinaryOpCount; ++op)
    for (int pattern = 0; pattern < 4; ++pattern)
      for (int64_t rows : {1, 3})
        for (int64_t n : lengths) {
          BinaryBlock k;
          k.rows = rows;
          k.n = n;
          k.a_col = pattern & 1;
          k.b_col = pattern & 2;
          k.a_row = k.a_col ? n + 2 : 1;  // strided rows, or one value per row
          k.b_row = k.b_col ? n : (rows > 1 ? 1 : 0);
          k.out_row = n + 1;
          std::vector<float> a(static_cast<size_t>(rows * (n + 2) + 2)), b(static_cast<size_t>(rows * (n + 2) + 2));
          fill(a);
          fill(b);
          std::vector<float> got(static_cast<size_t>(rows * (n + 1) + 2), guard), want(got);
          k.a = a.data() + 1;  // unaligned
          k.b = b.data() + 1;
          k.out = got.data() + 1;
          GetParam().fn(static_cast<BinaryOp>(op), k);
          k.out = want.data() + 1;
          vbinary_f32_ref(static_cast<BinaryOp>(op), k);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_TRUE(same(got[i], want[i])) << binary_op_name(static_cast<BinaryOp>(op)) << " pattern " << pattern
                                               << " rows " << rows << " n " << n << " at " << i << ": " << got[i]
                                               << " vs " << want[i];
        }
}

TEST_P(VBinaryTier, MaxMinFollowTheReferenceOnNanAndSignedZero) {
  const float a[] = {NAN, 1.0f, 0.0f, -0.0f, NAN, 2.0f, -INFINITY, 3.0f};
  const float b[] = {1.0f, NAN, -0.0f, 0.0f, NAN, 2.0f, 5.0f, -1.0f};
  for (BinaryOp op : {BinaryOp::kMax, BinaryOp::kMin}) {
    float out[8];
    BinaryBlock k;
    k.a = a;
    k.b = b;
    k.out = out;
    k.n = 8;
    GetParam().fn(op, k);
    for (int i = 0; i < 8; ++i) EXPECT_TRUE(same(out[i], binary_ref_value(op, a[i], b[i]))) << binary_op_name(op) << " " << i;
  }
}

TEST_P(VBinaryTier, OutputMayAliasAnAdvancingOperand) {
  std::vector<float> a(100), b(100);
  for (int i = 0; i < 100; ++i) a[static_cast<size_t>(i)] = static_cast<float>(i), b[static_cast<size_t>(i)] = 0.5f;
  BinaryBlock k;
  k.a = a.data();
  k.b = b.data();
  k.out = a.data();
  k.n = 100;
  GetParam().fn(BinaryOp::kMul, k);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a[static_cast<size_t>(i)], 0.5f * static_cast<float>(i));
}

INSTANTIATE_TEST_SUITE_P(Kernels, VBinaryTier, ::testing::ValuesIn(vbinary_kernels().begin(), vbinary_kernels().end()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kiln::kernels
