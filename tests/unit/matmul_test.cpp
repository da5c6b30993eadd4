// MatMul (numpy broadcasting, 1-D operands, every supported type), Gemm, MatMulInteger and QLinearMatMul
// against plain loops written here.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::OpCall;

namespace {

// numpy matmul on doubles, written out: promote 1-D, broadcast batch dims, drop promoted dims.
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  std::vector<int64_t> ad = a.dims(), bd = b.dims();
  const bool av = ad.size() == 1, bv = bd.size() == 1;
  if (av) ad.insert(ad.begin(), 1);
  if (bv) bd.push_back(1);
  const int64_t M = ad[ad.size() - 2], K = ad.back(), N = bd.back();
  std::vector<int64_t> abatch(ad.begin(), ad.end() - 2), bbatch(bd.begin(), bd.end() - 2);
  const size_t r = std::max(abatch.size(), bbatch.size());
  while (abatch.size() < r) abatch.insert(abatch.begin(), 1);
  while (bbatch.size() < r) bbatch.insert(bbatch.begin(), 1);
  std::vector<int64_t> batch(r), out;
  for (size_t i = 0; i < r; ++i) batch[i] = std::max(abatch[i], bbatch[i]);
  out = batch;
  if (!av) out.push_back(M);
  if (!bv) out.push_back(N);
  Tensor y(DType::kFloat64, out);
  int64_t count = 1;
  for (int64_t v : batch) count *= v;
  for (int64_t bi = 0; bi < count; ++bi) {
    int64_t rem = bi, ao = 0, bo = 0, as = 1, bs = 1;
    for (size_t d = r; d-- > 0;) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      ao += (abatch[d] == 1 ? 0 : idx) * as;
      bo += (bbatch[d] == 1 ? 0 : idx) * bs;
      as *= abatch[d];
      bs *= bbatch[d];
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += a.double_at(ao * M * K + m * K + k) * b.double_at(bo * K * N + k * N + n);
        y.data<double>()[(bi * M + m) * N + n] = acc;
      }
  }
  return y;
}

void expect_near_all(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.dims(), want.dims());
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_NEAR(got.double_at(i), want.double_at(i), tol * (1 + std::abs(want.double_at(i)))) << "element " << i;
}

TEST(MatMul, BroadcastAndVectorShapes) {
  std::mt19937 rng(31);
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{7, 65}, {65, 129}},          {{3, 1, 5, 7}, {4, 7, 2}},   {{2, 3, 4}, {4, 5}},
      {{9}, {9}},                    {{9}, {2, 9, 3}},            {{2, 5, 9}, {9}},
      {{1, 1}, {1, 1}},              {{4, 3, 0}, {0, 2}},         {{6, 1, 3}, {1, 3, 2}},
      {{129, 70}, {70, 1}},          {{1, 300}, {300, 65}},
  };
  for (const auto& [as, bs] : shapes) {
    SCOPED_TRACE(dims_str(as) + " @ " + dims_str(bs));
    Tensor a = kiln::testing::random_tensor(as, rng), b = kiln::testing::random_tensor(bs, rng);
    expect_near_all(OpCall("MatMul", 13).run1({a, b}), naive_matmul(a, b), 1e-4);
  }
}

TEST(MatMul, FloatingTypes) {
  std::mt19937 rng(32);
  for (DType t : {DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
    Tensor a = kiln::testing::random_tensor({2, 5, 6}, rng, t), b = kiln::testing::random_tensor({6, 3}, rng, t);
    Tensor y = OpCall("MatMul", 13).run1({a, b});
    ASSERT_EQ(y.dtype(), t);
    expect_near_all(y, naive_matmul(a, b), t == DType::kFloat64 ? 1e-12 : t == DType::kFloat16 ? 5e-3 : 3e-2);
  }
}

TEST(MatMul, IntegerTypesWrapLikeNumpy) {
  Tensor a = Tensor::from_vector<int32_t>({2, 2}, {1, -2, 3, 4});
  Tensor b = Tensor::from_vector<int32_t>({2, 2}, {5, 6, -7, 8});
  Tensor y = OpCall("MatMul", 13).run1({a, b});
  EXPECT_EQ(std::vector<int32_t>(y.data<int32_t>(), y.data<int32_t>() + 4), (std::vector<int32_t>{19, -10, -13, 50}));
  Tensor big = Tensor::from_vector<int32_t>({1, 2}, {std::numeric_limits<int32_t>::max(), 1});
  Tensor ones = Tensor::from_vector<int32_t>({2, 1}, {2, 2});
  EXPECT_EQ(OpCall("MatMul", 13).run1({big, ones}).data<int32_t>()[0], 0);  // (2^31-1)*2 + 2 wraps to 0
  Tensor ua = Tensor::from_vector<uint64_t>({3}, {1, 2, 3}), ub = Tensor::from_vector<uint64_t>({3}, {4, 5, 6});
  EXPECT_EQ(OpCall("MatMul", 13).run1({ua, ub}).data<uint64_t>()[0], 32u);
  Tensor la = Tensor::from_vector<int64_t>({1, 2}, {3, -4}), lb = Tensor::from_vector<int64_t>({2, 1}, {5, 6});
  EXPECT_EQ(OpCall("MatMul", 13).run1({la, lb}).data<int64_t>()[0], -9);
  Tensor u32 = Tensor::from_vector<uint32_t>({1, 1}, {7});
  EXPECT_EQ(OpCall("MatMul", 13).run1({u32, u32}).data<uint32_t>()[0], 49u);
}

TEST(MatMul, MismatchNamesBothShapes) {
  std::mt19937 rng(33);
  Tensor a = kiln::testing::random_tensor({2, 3, 4}, rng), b = kiln::testing::random_tensor({5, 6}, rng);
  const std::string msg = kiln::testing::error_of([&] { OpCall("MatMul", 13).run1({a, b}); });
  EXPECT_NE(msg.find("[2,3,4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[5,6]"), std::string::npos) << msg;
  Tensor c = kiln::testing::random_tensor({2, 3, 4}, rng), d = kiln::testing::random_tensor({3, 4, 5}, rng);
  EXPECT_THROW(OpCall("MatMul", 13).run1({c, d}), Error);  // batch 2 vs 3
  Tensor s = Tensor::scalar<float>(1.0f);
  EXPECT_THROW(OpCall("MatMul", 13).run1({s, s}), Error);
}

TEST(MatMul, SymbolicInference) {
  kiln::testing::InferNode call("MatMul", 13);
  auto out = call.run({{DType::kFloat32, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(768)})},
                       {DType::kFloat32, Shape::from({768, 3072})}});
  EXPECT_EQ(out[0].shape.str(), "[batch,seq,3072]");
  auto vec = kiln::testing::InferNode("MatMul", 13)
                 .run({{DType::kFloat32, Shape({Dim(4)})}, {DType::kFloat32, Shape({Dim::symbol("b"), Dim(4), Dim(2)})}});
  EXPECT_EQ(vec[0].shape.str(), "[b,2]");
}

// ---- Gemm ----

TEST(Gemm, TransposesAlphaBetaAndBiasBroadcast) {
  std::mt19937 rng(34);
  const int64_t M = 7, N = 65, K = 33;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    Tensor a = kiln::testing::random_tensor(ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K}, rng);
    Tensor b = kiln::testing::random_tensor(tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N}, rng);
    for (const std::vector<int64_t>& cdims : std::vector<std::vector<int64_t>>{{}, {1}, {N}, {M, 1}, {M, N}, {1, N}}) {
      Tensor c = kiln::testing::random_tensor(cdims, rng);
      Tensor y = OpCall("Gemm", 13).attr("transA", int64_t{ta}).attr("transB", int64_t{tb})
                     .attr("alpha", 0.5f).attr("beta", -2.0f).run1({a, b, c});
      ASSERT_EQ(y.dims(), (std::vector<int64_t>{M, N}));
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0;
          for (int64_t k = 0; k < K; ++k)
            acc += a.double_at(ta ? k * M + m : m * K + k) * b.double_at(tb ? n * K + k : k * N + n);
          const int64_t ci = cdims.size() == 2 ? (cdims[0] == 1 ? 0 : m) * cdims[1] + (cdims[1] == 1 ? 0 : n)
                             : cdims.size() == 1 && cdims[0] == N ? n : 0;
          ASSERT_NEAR(y.double_at(m * N + n), 0.5 * acc - 2.0 * c.double_at(ci), 1e-4) << t << " " << dims_str(cdims);
        }
    }
  }
}

TEST(Gemm, OptionalBiasIntegersAndErrors) {
  Tensor a = Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4}), b = Tensor::from_vector<int64_t>({2, 2}, {1, 0, 0, 1});
  Tensor y = OpCall("Gemm", 13).run1({a, b});
  EXPECT_EQ(std::vector<int64_t>(y.data<int64_t>(), y.data<int64_t>() + 4), (std::vector<int64_t>{1, 2, 3, 4}));
  std::mt19937 rng(35);
  Tensor fa = kiln::testing::random_tensor({3, 4}, rng), fb = kiln::testing::random_tensor({5, 6}, rng);
  const std::string msg = kiln::testing::error_of([&] { OpCall("Gemm", 13).run1({fa, fb}); });
  EXPECT_NE(msg.find("[3,4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[5,6]"), std::string::npos) << msg;
  Tensor fb2 = kiln::testing::random_tensor({4, 6}, rng), badc = kiln::testing::random_tensor({2, 6}, rng);
  EXPECT_THROW(OpCall("Gemm", 13).run1({fa, fb2, badc}), Error);
  Tensor h = kiln::testing::random_tensor({3, 4}, rng, DType::kFloat16), hb = kiln::testing::random_tensor({4, 2}, rng, DType::kFloat16);
  Tensor hy = OpCall("Gemm", 13).attr("alpha", 2.0f).run1({h, hb});
  Tensor want = naive_matmul(h, hb);
  for (int64_t i = 0; i < 6; ++i) EXPECT_NEAR(hy.double_at(i), 2 * want.double_at(i), 1e-2);
}

// ---- MatMulInteger / QLinearMatMul ----

TEST(MatMulInteger, PerRowAndPerColumnZeroPoints) {
  Tensor a = Tensor::from_vector<uint8_t>({2, 3}, {10, 20, 30, 40, 50, 60});
  Tensor b = Tensor::from_vector<int8_t>({3, 2}, {1, -1, 2, -2, 3, 127});
  Tensor az = Tensor::from_vector<uint8_t>({2}, {10, 40}), bz = Tensor::from_vector<int8_t>({2}, {1, -1});
  Tensor y = OpCall("MatMulInteger", 10).run1({a, b, az, bz});
  ASSERT_EQ(y.dtype(), DType::kInt32);
  // centered a = [[0,10,20],[0,10,20]], b = [[0,0],[1,-1],[2,128]]
  EXPECT_EQ(std::vector<int32_t>(y.data<int32_t>(), y.data<int32_t>() + 4), (std::vector<int32_t>{50, 2550, 50, 2550}));
  // Batched with N-D zero points [..., M, 1].
  Tensor a3 = Tensor::from_vector<int8_t>({2, 1, 2}, {1, 2, 3, 4});
  Tensor az3 = Tensor::from_vector<int8_t>({2, 1, 1}, {1, 3});
  Tensor b2 = Tensor::from_vector<int8_t>({2, 1}, {5, 7});
  Tensor y3 = OpCall("MatMulInteger", 10).run1({a3, b2, az3});
  EXPECT_EQ(std::vector<int32_t>(y3.data<int32_t>(), y3.data<int32_t>() + 2), (std::vector<int32_t>{7, 7}));
  Tensor badz = Tensor::from_vector<uint8_t>({3}, {1, 2, 3});
  EXPECT_THROW(OpCall("MatMulInteger", 10).run1({a, b, badz}), Error);
}

TEST(QLinearMatMul, PerColumnScalesRoundHalfEvenSaturate) {
  Tensor a = Tensor::from_vector<uint8_t>({1, 2}, {130, 126});
  Tensor b = Tensor::from_vector<uint8_t>({2, 3}, {129, 127, 255, 128, 128, 0});
  Tensor as = Tensor::scalar<float>(0.5f), az = Tensor::scalar<uint8_t>(128);
  Tensor bs = Tensor::from_vector<float>({3}, {1.0f, 0.5f, 1.0f}), bz = Tensor::from_vector<uint8_t>({3}, {128, 128, 128});
  Tensor ys = Tensor::scalar<float>(0.5f), yz = Tensor::scalar<uint8_t>(100);
  Tensor y = OpCall("QLinearMatMul", 21).run1({a, as, az, b, bs, bz, ys, yz});
  ASSERT_EQ(y.dtype(), DType::kUInt8);
  // centered a = [2, -2]; b columns: [1, 0], [-1, 0], [127, -128]
  // acc = [2, -2, 510]; multipliers 0.5*[1, .5, 1]/0.5 = [1, .5, 1] → [2, -1, 510] + 100 → 102, 99, 255 (saturated)
  EXPECT_EQ(std::vector<uint8_t>(y.data<uint8_t>(), y.data<uint8_t>() + 3), (std::vector<uint8_t>{102, 99, 255}));
  // A tie rounds to even: acc 1 * 0.5 = 0.5 → 0; acc 3 * 0.5 = 1.5 → 2.
  Tensor a1 = Tensor::from_vector<int8_t>({1, 1}, {1}), b1 = Tensor::from_vector<int8_t>({1, 2}, {1, 3});
  Tensor one = Tensor::scalar<float>(1.0f), half = Tensor::scalar<float>(0.5f), z = Tensor::scalar<int8_t>(0);
  Tensor y1 = OpCall("QLinearMatMul", 10).run1({a1, half, z, b1, one, z, one, z});
  EXPECT_EQ(y1.data<int8_t>()[0], 0);
  EXPECT_EQ(y1.data<int8_t>()[1], 2);
}

}  // namespace
