// LinearAttention: each update rule on tiny hand-computed recurrences, grouped heads, carried state and its
// type, symbolic inference, and the refusals (heads, rule inputs, shapes).

#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::error_of;
using kiln::testing::expect_close;
using kiln::testing::f32;
using kiln::testing::InferNode;
using kiln::testing::OpCall;

namespace {

OpCall linear_attention(const std::string& rule, int64_t q_heads = 1, int64_t kv_heads = 1) {
  OpCall call("LinearAttention", 27);
  call.attr("update_rule", rule).attr("q_num_heads", q_heads).attr("kv_num_heads", kv_heads).outputs(2);
  return call;
}

// One batch, one head, T = 2, d_k = 2, d_v = 1: keys [1, 0] then [0, 1], values 2 then 3, queries [1, 1]
// then [1, 2].
const Tensor kQuery = f32({1, 2, 2}, {1, 1, 1, 2});
const Tensor kKey = f32({1, 2, 2}, {1, 0, 0, 1});
const Tensor kValue = f32({1, 2, 1}, {2, 3});

TEST(LinearAttention, LinearRuleAccumulatesOuterProducts) {
  // S1 = [[2], [0]], o1 = 2; S2 = [[2], [3]], o2 = 1*2 + 2*3 = 8; default scale 1/sqrt(2).
  const auto out = linear_attention("linear").run({kQuery, kKey, kValue});
  const float s = 1.f / std::sqrt(2.f);
  expect_close(out[0], f32({1, 2, 1}, {2 * s, 8 * s}));
  expect_close(out[1], f32({1, 1, 2, 1}, {2, 3}));
  const auto scaled = linear_attention("linear").attr("scale", 0.5f).run({kQuery, kKey, kValue});
  expect_close(scaled[0], f32({1, 2, 1}, {1, 4}));
}

TEST(LinearAttention, GatedRuleDecaysTheStateFirst) {
  // Per-head decay log(0.5): S2 = 0.5 * [[2], [0]] + [[0], [3]] = [[1], [3]], o2 = 1 + 6 = 7.
  const float g = std::log(0.5f);
  const auto out =
      linear_attention("gated").attr("scale", 1.f).run({kQuery, kKey, kValue, Tensor(), f32({1, 2, 1}, {g, g})});
  expect_close(out[0], f32({1, 2, 1}, {2, 7}));
  expect_close(out[1], f32({1, 1, 2, 1}, {1, 3}));
  // Per-key-dim decay: row 0 halves, row 1 is kept (log 1 = 0).
  const auto per_key = linear_attention("gated").attr("scale", 1.f).run(
      {kQuery, kKey, kValue, Tensor(), f32({1, 2, 2}, {g, 0, g, 0})});
  expect_close(per_key[1], f32({1, 1, 2, 1}, {1, 3}));
}

TEST(LinearAttention, DeltaRuleReplacesWhatTheKeyRecalls) {
  // The same unit key twice: with beta 1 the second write replaces the first (S = [[3], [0]]); with beta 0.5
  // it moves halfway: S1 = [[1], [0]], then 0.5 * (3 - 1) = 1 more, S2 = [[2], [0]].
  const Tensor key = f32({1, 2, 2}, {1, 0, 1, 0});
  const auto delta = [&](float beta) {
    return linear_attention("delta").attr("scale", 1.f).run(
        {kQuery, key, kValue, Tensor(), Tensor(), f32({1, 2, 1}, {beta, beta})});
  };
  auto out = delta(1.f);
  expect_close(out[0], f32({1, 2, 1}, {2, 3}));
  expect_close(out[1], f32({1, 1, 2, 1}, {3, 0}));
  out = delta(0.5f);
  expect_close(out[0], f32({1, 2, 1}, {1, 2}));
  expect_close(out[1], f32({1, 1, 2, 1}, {2, 0}));
}

TEST(LinearAttention, GatedDeltaRecallsFromTheDecayedState) {
  // Unit key twice, decay log(0.5), beta 1: S1 = [[2]]; decayed 1, recalled 1, write 3 - 1 = 2, S2 = [[3]].
  const Tensor key = f32({1, 2, 2}, {1, 0, 1, 0});
  const float g = std::log(0.5f);
  const auto out = linear_attention("gated_delta").attr("scale", 1.f).run(
      {kQuery, key, kValue, Tensor(), f32({1, 2, 1}, {g, g}), f32({1, 2, 1}, {1, 1})});
  expect_close(out[1], f32({1, 1, 2, 1}, {3, 0}));
  expect_close(out[0], f32({1, 2, 1}, {2, 3}));
}

TEST(LinearAttention, QueryHeadsShareTheirGroupsKvState) {
  // 4 query heads over 2 kv heads, d_k = d_v = 1, T = 1: heads 0-1 read kv head 0 (v = 3), heads 2-3 kv head 1
  // (v = -1).
  const Tensor q = f32({1, 1, 4}, {1, 2, 3, 4});
  const Tensor k = f32({1, 1, 2}, {1, 1});
  const Tensor v = f32({1, 1, 2}, {3, -1});
  const auto out = linear_attention("linear", 4, 2).run({q, k, v});
  expect_close(out[0], f32({1, 1, 4}, {3, 6, -3, -4}));
  expect_close(out[1], f32({1, 2, 1, 1}, {3, -1}));
}

TEST(LinearAttention, BFloat16MatchesFloatOnExactValues) {
  const Tensor q = f32({1, 1, 4}, {1, 2, 3, 4}), k = f32({1, 1, 2}, {1, 1}), v = f32({1, 1, 2}, {3, -1});
  const auto to_bf16 = [](const Tensor& t) {
    Tensor b(DType::kBFloat16, t.dims());
    for (int64_t i = 0; i < t.numel(); ++i) b.data<BFloat16>()[i] = BFloat16(t.data<float>()[i]);
    return b;
  };
  const auto out = linear_attention("linear", 4, 2).run({to_bf16(q), to_bf16(k), to_bf16(v)});
  ASSERT_EQ(out[0].dtype(), DType::kBFloat16);
  ASSERT_EQ(out[1].dtype(), DType::kBFloat16);  // no past_state: the state takes the query's type
  const float want[] = {3, 6, -3, -4};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(float(out[0].data<BFloat16>()[i]), want[i]);
}

TEST(LinearAttention, PastStateIsCarriedAndKeepsItsOwnType) {
  Tensor q(DType::kFloat16, {1, 1, 1}), k(DType::kFloat16, {1, 1, 1}), v(DType::kFloat16, {1, 1, 1});
  q.data<Float16>()[0] = Float16(1.f), k.data<Float16>()[0] = Float16(1.f), v.data<Float16>()[0] = Float16(1.f);
  const auto out = linear_attention("linear").run({q, k, v, f32({1, 1, 1, 1}, {10})});
  ASSERT_EQ(out[0].dtype(), DType::kFloat16);
  EXPECT_EQ(float(out[0].data<Float16>()[0]), 11.f);
  ASSERT_EQ(out[1].dtype(), DType::kFloat32);  // present_state follows past_state's type
  EXPECT_EQ(out[1].data<float>()[0], 11.f);
}

TEST(LinearAttention, InferenceKeepsSymbolsAndDerivesHeadSizes) {
  auto out = InferNode("LinearAttention", 27)
                 .integer("q_num_heads", 2)
                 .integer("kv_num_heads", 1)
                 .run({{DType::kBFloat16, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(8)})},
                       {DType::kBFloat16, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(4)})},
                       {DType::kBFloat16, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(6)})},
                       {DType::kFloat32, Shape({Dim::symbol("batch"), Dim(1), Dim(4), Dim(6)})},
                       {DType::kBFloat16, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(1)})},
                       {DType::kBFloat16, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(1)})}},
                      2);
  EXPECT_EQ(out[0].shape, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(12)}));
  EXPECT_EQ(out[0].dtype, DType::kBFloat16);
  EXPECT_EQ(out[1].shape, Shape({Dim::symbol("batch"), Dim(1), Dim(4), Dim(6)}));
  EXPECT_EQ(out[1].dtype, DType::kFloat32);
  // Unknown value width: the output's last dim is unknown, the state's d_k still known from the query.
  out = InferNode("LinearAttention", 27)
            .integer("q_num_heads", 2)
            .integer("kv_num_heads", 2)
            .str("update_rule", "linear")
            .run({{DType::kFloat32, Shape({Dim::symbol("b"), Dim(1), Dim(8)})},
                  {DType::kFloat32, Shape::unknown_rank()},
                  {DType::kFloat32, Shape({Dim::symbol("b"), Dim(1), Dim()})}},
                 2);
  EXPECT_EQ(out[0].shape, Shape({Dim::symbol("b"), Dim(1), Dim()}));
  EXPECT_EQ(out[1].shape, Shape({Dim::symbol("b"), Dim(2), Dim(4), Dim()}));
}

TEST(LinearAttention, EmptyHeadsReturnAtOnceHoweverManyThereAre) {
  const int64_t heads = int64_t{1} << 40;
  const Tensor empty(DType::kFloat32, {1, 3, 0});
  const auto out = linear_attention("linear", heads, heads).run({empty, empty, empty});
  EXPECT_EQ(out[0].dims(), (std::vector<int64_t>{1, 3, 0}));
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{1, heads, 0, 0}));
}

TEST(LinearAttention, RefusesBadHeadsAndRuleInputs) {
  std::string msg = error_of([&] { linear_attention("linear", 3, 2).run({kQuery, kKey, kValue}); });
  EXPECT_NE(msg.find("must be a multiple of kv_num_heads"), std::string::npos) << msg;
  msg = error_of([&] {
    OpCall("LinearAttention", 27).attr("update_rule", std::string("linear")).outputs(2).run({kQuery, kKey, kValue});
  });
  EXPECT_NE(msg.find("q_num_heads and kv_num_heads are required"), std::string::npos) << msg;
  msg = error_of([&] { linear_attention("gated").run({kQuery, kKey, kValue}); });
  EXPECT_NE(msg.find("update_rule 'gated' needs the decay input"), std::string::npos) << msg;
  const Tensor zeros = f32({1, 2, 1}, {0, 0});
  msg = error_of([&] { linear_attention("gated_delta").run({kQuery, kKey, kValue, Tensor(), zeros}); });
  EXPECT_NE(msg.find("needs the beta input"), std::string::npos) << msg;
  msg = error_of([&] { linear_attention("linear").run({kQuery, kKey, kValue, Tensor(), Tensor(), zeros}); });
  EXPECT_NE(msg.find("takes no beta input"), std::string::npos) << msg;
  msg = error_of([&] { linear_attention("mamba").run({kQuery, kKey, kValue}); });
  EXPECT_NE(msg.find("not 'mamba'"), std::string::npos) << msg;
}

TEST(LinearAttention, RefusesShapesThatDoNotFit) {
  // key packs d_k = 3 per head but query d_k = 2.
  const Tensor wide = f32({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  std::string msg = error_of([&] { linear_attention("linear").run({kQuery, wide, kValue}); });
  EXPECT_NE(msg.find("query's head size d_k is 2 but key's is 3"), std::string::npos) << msg;
  msg = error_of([&] { linear_attention("linear", 2, 2).run({wide, kKey, kValue}); });
  EXPECT_NE(msg.find("query dim 2 is 3, which is not a multiple of q_num_heads (2)"), std::string::npos) << msg;
  msg = error_of([&] { linear_attention("linear").run({kQuery, kKey, f32({1, 1, 2}, {2, 3})}); });
  EXPECT_NE(msg.find("value dim 1 is 1, but it must be the sequence length T = 2"), std::string::npos) << msg;
  msg = error_of([&] { linear_attention("linear").run({kQuery, kKey, kValue, f32({1, 1, 1, 1}, {0})}); });
  EXPECT_NE(msg.find("past_state dim 2 is 1, but it must be the key head size d_k = 2"), std::string::npos) << msg;
  msg = error_of([&] { linear_attention("gated").run({kQuery, kKey, kValue, Tensor(), wide}); });
  EXPECT_NE(msg.find("decay dim 2 is 3, but it must be kv_num_heads = 1"), std::string::npos) << msg;
  const Tensor beta2 = f32({1, 2, 2}, {1, 1, 1, 1});
  msg = error_of([&] { linear_attention("delta").run({kQuery, kKey, kValue, Tensor(), Tensor(), beta2}); });
  EXPECT_NE(msg.find("beta dim 2 is 2, but it must be kv_num_heads = 1 or 1"), std::string::npos) << msg;
  msg = error_of([&] { linear_attention("linear").run({f32({2, 2}, {1, 1, 1, 1}), kKey, kValue}); });
  EXPECT_NE(msg.find("query must be 3-D"), std::string::npos) << msg;
}

}  // namespace
