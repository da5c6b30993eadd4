// MatMul, Gemm and ai.kiln.FusedMatMul through their prepared (fast) kernels against the ops' reference compute:
// ranks 1 to 4 with numpy batch broadcasting, 1-sized and ragged dims, transposes, constant (packed) and run-time
// operands, Gemm's C in every broadcast form with alpha and beta, FusedMatMul with each activation, bias and
// residual, FusedMatMul with split outputs; 1 and 2 threads must agree bit for bit; every ISA tier this CPU has.

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "../unit/nn_test_util.h"
#include "prepared_compare.h"

namespace kiln::testing {
namespace {

using prep::float_attr;
using prep::floats_attr;
using prep::int_attr;
using prep::string_attr;

constexpr double kTol = 2e-5;

class MatMulPrepared : public prep::TierTest {};
KILN_TIER_TESTS(MatMulPrepared);

int64_t pick(std::mt19937& rng, std::initializer_list<int64_t> choices) {
  std::uniform_int_distribution<size_t> u(0, choices.size() - 1);
  return *(choices.begin() + u(rng));
}

// The shapes of A and B for one pattern of ranks and broadcasting, with M, K, N and batch sizes filled in.
std::pair<std::vector<int64_t>, std::vector<int64_t>> matmul_shapes(int pattern, int64_t M, int64_t K, int64_t N,
                                                                    int64_t B, int64_t C) {
  switch (pattern) {
    case 0: return {{K}, {K}};
    case 1: return {{K}, {K, N}};
    case 2: return {{M, K}, {K}};
    case 3: return {{M, K}, {K, N}};
    case 4: return {{B, M, K}, {K, N}};
    case 5: return {{B, M, K}, {B, K, N}};
    case 6: return {{1, M, K}, {B, K, N}};
    case 7: return {{B, 1, M, K}, {1, C, K, N}};
    case 8: return {{C, B, M, K}, {B, K, N}};
    case 9: return {{M, K}, {C, B, K, N}};
    case 10: return {{B, M, K}, {K}};
    case 11: return {{K}, {B, K, N}};
    case 12: return {{1, 1, M, K}, {K, N}};
    case 13: return {{B, M, K}, {1, K, N}};
    default: return {{C, B, M, K}, {C, B, K, N}};
  }
}
constexpr int kPatterns = 15;

TEST_P(MatMulPrepared, RandomShapesMatchTheReference) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 160; ++i) {
    const int pattern = i % kPatterns;
    const int64_t M = pick(rng, {1, 2, 5, 16, 17, 40}), K = pick(rng, {1, 3, 8, 19, 64, 70});
    const int64_t N = pick(rng, {1, 4, 15, 16, 33, 48}), B = pick(rng, {1, 2, 3}), C = pick(rng, {1, 2});
    auto [ad, bd] = matmul_shapes(pattern, M, K, N, B, C);
    const int constness = static_cast<int>(pick(rng, {0, 1, 2}));  // 0: none, 1: B constant, 2: A constant
    const bool shape_known = pick(rng, {0, 1}) == 1;
    PreparedNode n("MatMul", 13);
    Tensor a = random_tensor(ad, rng), b = random_tensor(bd, rng);
    if (constness == 2) n.constant(a); else n.input(a, shape_known);
    if (constness == 1) n.constant(b); else n.input(b, shape_known);
    const std::string what = "MatMul " + dims_str(ad) + " x " + dims_str(bd) + " const " + std::to_string(constness);
    prep::expect_prepared_matches(n, 1, kTol, what);
  }
}

TEST_P(MatMulPrepared, EmptyAndZeroK) {
  std::mt19937 rng(5);
  for (auto [ad, bd] : std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>{
           {{3, 0}, {0, 4}}, {{0, 3}, {3, 4}}, {{2, 0, 3}, {3, 5}}, {{4, 3}, {3, 0}}}) {
    PreparedNode n("MatMul", 13);
    n.input(random_tensor(ad, rng)).constant(random_tensor(bd, rng));
    prep::expect_prepared_matches(n, 1, kTol, "MatMul " + dims_str(ad) + " x " + dims_str(bd));
  }
}

TEST_P(MatMulPrepared, PackedWeightsServeNewShapes) {
  // One prepared kernel (B packed at prepare) runs inputs of several batch and row counts.
  std::mt19937 rng(9);
  PreparedNode n("MatMul", 13);
  n.input(random_tensor({2, 5, 24}, rng), false).constant(random_tensor({24, 40}, rng));
  auto k = n.prepare();
  ASSERT_TRUE(k);
  EXPECT_NE(k->describe().find("packed-B 24x40"), std::string::npos) << k->describe();
  EXPECT_GT(k->packed_bytes(), 0u);
  kernels::ThreadPool pool(2);
  for (std::vector<int64_t> ad : {std::vector<int64_t>{1, 7, 24}, {3, 1, 24}, {24}, {2, 2, 9, 24}}) {
    n.set_input(0, random_tensor(ad, rng));
    const Tensor want = n.reference()[0];
    prep::expect_near(n.run(*k, {want.dims()}, &pool)[0], want, kTol, "MatMul " + dims_str(ad));
  }
}

TEST_P(MatMulPrepared, OtherTypesHaveNoFastPath) {
  std::mt19937 rng(3);
  PreparedNode n("MatMul", 13);
  n.input(random_tensor({2, 3}, rng, DType::kFloat64)).constant(random_tensor({3, 2}, rng, DType::kFloat64));
  EXPECT_EQ(n.prepare(), nullptr);
}

TEST_P(MatMulPrepared, GemmVariantsMatchTheReference) {
  std::mt19937 rng(77);
  for (int i = 0; i < 200; ++i) {
    const int64_t M = pick(rng, {1, 3, 16, 21}), K = pick(rng, {1, 7, 32, 45}), N = pick(rng, {1, 5, 16, 37});
    const bool ta = pick(rng, {0, 1}) == 1, tb = pick(rng, {0, 1}) == 1;
    const int c_form = i % 8;  // none, scalar, [1], [N], [1,N], [M,1], [M,N], [1,1]
    const std::vector<std::vector<int64_t>> c_dims = {{}, {}, {1}, {N}, {1, N}, {M, 1}, {M, N}, {1, 1}};
    const float alpha = static_cast<float>(pick(rng, {1, 2, -3})) * 0.5f;
    const float beta = static_cast<float>(pick(rng, {2, 1, 0, -2})) * 0.5f;
    const int constness = static_cast<int>(pick(rng, {0, 1, 2, 3}));  // bit 0: B constant; bit 1: A and C constant
    PreparedNode n("Gemm", 13);
    n.attr(int_attr("transA", ta)).attr(int_attr("transB", tb));
    n.attr(float_attr("alpha", alpha)).attr(float_attr("beta", beta));
    const Tensor a = random_tensor(ta ? std::vector<int64_t>{K, M} : std::vector<int64_t>{M, K}, rng);
    const Tensor b = random_tensor(tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N}, rng);
    if (constness & 2) n.constant(a); else n.input(a, i % 3 != 0);
    if (constness & 1) n.constant(b); else n.input(b, i % 3 != 0);
    if (c_form != 0) {
      const Tensor c = random_tensor(c_dims[static_cast<size_t>(c_form)], rng);
      if (constness & 2) n.constant(c); else n.input(c);
    }
    prep::expect_prepared_matches(n, 1, kTol,
                                  "Gemm M" + std::to_string(M) + " K" + std::to_string(K) + " N" + std::to_string(N) +
                                      " tA" + std::to_string(ta) + " tB" + std::to_string(tb) + " C form " +
                                      std::to_string(c_form) + " alpha " + std::to_string(alpha) + " beta " +
                                      std::to_string(beta) + " const " + std::to_string(constness));
  }
}

std::vector<float> activation_params(const std::string& act) {
  if (act == "Clip") return {-0.5f, 0.75f};
  if (act == "LeakyRelu") return {0.2f};
  if (act == "HardSigmoid") return {0.3f, 0.4f};
  return {};
}

TEST_P(MatMulPrepared, FusedMatMulEveryEpilogue) {
  std::mt19937 rng(4321);
  int index = 0;
  for (const char* act : kFusedActivations) {
    for (int variant = 0; variant < 12; ++variant, ++index) {
      const int pattern = static_cast<int>(pick(rng, {1, 3, 4, 5, 7, 9, 12, 13}));
      const int64_t M = pick(rng, {1, 6, 17}), K = pick(rng, {1, 9, 40}), N = pick(rng, {1, 8, 19, 32});
      auto [ad, bd] = matmul_shapes(pattern, M, K, N, pick(rng, {1, 2, 3}), 2);
      const bool tb = variant % 2 == 1 && bd.size() >= 2;
      if (tb) std::swap(bd[bd.size() - 1], bd[bd.size() - 2]);
      const bool bias = variant % 3 != 0, residual = variant % 4 >= 2, b_const = variant % 5 != 0;
      const float alpha = variant % 3 == 2 ? 0.75f : 1.0f;
      PreparedNode n("FusedMatMul", 1, "ai.kiln");
      n.attr(string_attr("activation", act)).attr(int_attr("transB", tb)).attr(float_attr("alpha", alpha));
      if (!activation_params(act).empty()) n.attr(floats_attr("activation_params", activation_params(act)));
      const Tensor a = random_tensor(ad, rng), b = random_tensor(bd, rng);
      n.input(a, variant % 2 == 0);
      if (b_const) n.constant(b); else n.input(b);
      // Y's shape, for the residual: what the reference gives without it.
      PreparedNode shape_probe("MatMul", 13);
      Tensor b_logical = b;
      if (tb) {
        std::vector<int64_t> d = bd;
        std::swap(d[d.size() - 1], d[d.size() - 2]);
        b_logical = Tensor(DType::kFloat32, d);
      }
      const std::vector<int64_t> y_dims = shape_probe.input(a).input(b_logical).reference()[0].dims();
      const int64_t n_cols = bd.size() == 1 ? 1 : bd[bd.size() - (tb ? 2 : 1)];
      if (bias) n.input(random_tensor({n_cols}, rng)); else if (residual) n.absent();
      if (residual) n.input(random_tensor(y_dims, rng));
      prep::expect_prepared_matches(n, 1, kTol,
                                    std::string("FusedMatMul ") + act + " " + dims_str(ad) + " x " + dims_str(bd) +
                                        (tb ? " transB" : "") + (bias ? " +bias" : "") + (residual ? " +Z" : "") +
                                        " alpha " + std::to_string(alpha));
    }
  }
}

// split: each output a GEMM of its own columns of B (packed apart) with its share of the bias; the reference
// computes the whole Y and copies the parts out. Ragged widths (a 1-wide part, parts not multiples of a tile),
// ragged M and K, A of rank 2 and 3 (its batch folded into M), transB, with and without bias and activation.
TEST_P(MatMulPrepared, FusedMatMulSplitOutputs) {
  std::mt19937 rng(77);
  const std::vector<std::vector<int64_t>> splits = {{4, 4, 4}, {1, 16, 3}, {64, 64, 64}, {1, 1}, {33, 7}};
  int index = 0;
  for (const std::vector<int64_t>& split : splits) {
    for (int variant = 0; variant < 6; ++variant, ++index) {
      int64_t N = 0;
      for (int64_t w : split) N += w;
      const int64_t M = pick(rng, {1, 5, 13, 197}), K = pick(rng, {1, 9, 64});
      const bool tb = variant % 2 == 1, bias = variant % 3 != 0, rank3 = variant >= 3;
      const char* act = variant % 3 == 1 ? "GeluErf" : variant == 5 ? "Relu" : "";
      const std::vector<int64_t> ad = rank3 ? std::vector<int64_t>{2, M, K} : std::vector<int64_t>{M, K};
      const std::vector<int64_t> bd = tb ? std::vector<int64_t>{N, K} : std::vector<int64_t>{K, N};
      ir::Attribute split_attr;
      split_attr.name = "split", split_attr.type = ir::AttrType::kInts, split_attr.ints = split;
      PreparedNode n("FusedMatMul", 1, "ai.kiln");
      n.attr(int_attr("transB", tb)).attr(std::move(split_attr));
      if (*act) n.attr(string_attr("activation", act));
      n.input(random_tensor(ad, rng)).constant(random_tensor(bd, rng));
      if (bias) n.input(random_tensor({N}, rng));
      const std::string describe = prep::expect_prepared_matches(
          n, split.size(), kTol,
          "FusedMatMul split " + dims_str(split) + " " + dims_str(ad) + " x " + dims_str(bd) + (tb ? " transB" : "") +
              (bias ? " +bias" : "") + " " + act);
      EXPECT_NE(describe.find("split"), std::string::npos) << describe;
      EXPECT_EQ(describe.find("reference"), std::string::npos) << describe;  // B constant: the parts are packed
    }
  }
}

}  // namespace
}  // namespace kiln::testing
