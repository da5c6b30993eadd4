// FlexAttention (ai.onnx.preview): the attention itself, grouped-query heads, and the score_mod / prob_mod
// graph attributes, which run through a fake SubgraphRunner here (the conformance cases run real bodies).
// Expected values are worked out by hand from the operator's definition.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "ir/graph.h"
#include "op_test_util.h"
#include "ops/op.h"
#include "runtime/eval_node.h"

using namespace kiln;
using kiln::testing::f32;

namespace {

using Body = std::function<std::vector<Tensor>(const Tensor&)>;

/// Stands in for the runtime: each modifier graph gets a C++ function, and every call's input is recorded.
class FakeModifiers : public ops::SubgraphRunner {
 public:
  void on(const ir::Graph& g, Body body) { bodies_[&g] = std::move(body); }
  std::vector<Tensor> run(const ir::Graph& graph, std::span<const Tensor> inputs) override {
    seen.push_back(inputs.front().clone());
    return bodies_.at(&graph)(inputs.front());
  }
  std::vector<Tensor> seen;

 private:
  std::map<const ir::Graph*, Body> bodies_;
};

/// A modifier graph declaring one float input and one float output.
std::shared_ptr<ir::Graph> modifier_graph(const std::string& name, size_t n_inputs = 1) {
  auto g = std::make_shared<ir::Graph>();
  g->name = name;
  for (size_t i = 0; i < n_inputs; ++i) g->inputs.push_back(g->intern(name + "_in" + std::to_string(i)));
  g->outputs.push_back(g->intern(name + "_out"));
  return g;
}

struct Flex {
  std::vector<ir::Attribute> attrs;
  FakeModifiers runner;

  Flex& graph(const std::string& name, std::shared_ptr<ir::Graph> g, Body body) {
    runner.on(*g, std::move(body));
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::kGraph;
    a.g = std::move(g);
    attrs.push_back(std::move(a));
    return *this;
  }
  Flex& scale(float s) {
    ir::Attribute a;
    a.name = "scale";
    a.type = ir::AttrType::kFloat;
    a.f = s;
    attrs.push_back(std::move(a));
    return *this;
  }
  Tensor run(const Tensor& q, const Tensor& k, const Tensor& v) {
    ir::Node node;
    node.domain = "ai.onnx.preview";
    node.op_type = "FlexAttention";
    node.name = "flex";
    node.attributes = attrs;
    node.inputs = {0, 1, 2};
    node.outputs = {3};
    const Tensor* ptrs[] = {&q, &k, &v};
    return runtime::evaluate_node(node, 0, 1, ptrs, &runner).at(0);
  }
  std::optional<ErrorCode> error(const Tensor& q, const Tensor& k, const Tensor& v) {
    try {
      run(q, k, v);
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  }
};


// One query [1, 0] against keys [1, 0] and [0, 1] with values 2 and 4; default scale 1/sqrt(2).
const Tensor kQ = f32({1, 1, 1, 2}, {1, 0});
const Tensor kK = f32({1, 1, 2, 2}, {1, 0, 0, 1});
const Tensor kV = f32({1, 1, 2, 1}, {2, 4});

double expected_plain() {
  const double p0 = std::exp(1 / std::sqrt(2.0)) / (std::exp(1 / std::sqrt(2.0)) + 1);
  return 2 * p0 + 4 * (1 - p0);
}

TEST(FlexAttention, PlainAttention) {
  Flex f;
  const Tensor y = f.run(kQ, kK, kV);
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_NEAR(y.data<float>()[0], expected_plain(), 1e-6);
  // An explicit scale of 0 makes every score 0: the mean of the values.
  Flex zero;
  EXPECT_NEAR(zero.scale(0.0f).run(kQ, kK, kV).data<float>()[0], 3.0, 1e-6);
}

TEST(FlexAttention, ScoreModSeesScaledScoresAndCanMask) {
  Flex f;
  f.graph("score_mod", modifier_graph("mask_second"), [](const Tensor& s) {
    Tensor out = s.clone();
    out.data<float>()[1] = -INFINITY;
    return std::vector<Tensor>{out};
  });
  const Tensor y = f.run(kQ, kK, kV);
  EXPECT_FLOAT_EQ(y.data<float>()[0], 2.0f);  // all weight on the first key
  ASSERT_EQ(f.runner.seen.size(), 1u);
  const Tensor& scores = f.runner.seen[0];
  EXPECT_EQ(scores.dtype(), DType::kFloat32);
  EXPECT_EQ(scores.dims(), (std::vector<int64_t>{1, 1, 1, 2}));
  EXPECT_NEAR(scores.data<float>()[0], 1 / std::sqrt(2.0), 1e-6);
  EXPECT_EQ(scores.data<float>()[1], 0.0f);
}

TEST(FlexAttention, ProbModSeesProbabilities) {
  Flex f;
  f.graph("prob_mod", modifier_graph("halve"), [](const Tensor& p) {
    Tensor out = p.clone();
    for (float& x : out.span<float>()) x *= 0.5f;
    return std::vector<Tensor>{out};
  });
  const Tensor y = f.run(kQ, kK, kV);
  EXPECT_NEAR(y.data<float>()[0], expected_plain() / 2, 1e-6);
  ASSERT_EQ(f.runner.seen.size(), 1u);
  EXPECT_NEAR(f.runner.seen[0].data<float>()[0] + f.runner.seen[0].data<float>()[1], 1.0, 1e-6);
}

TEST(FlexAttention, GroupedQueryHeadsShareKeysAndValues) {
  // Two query heads over one K/V head: head 0 asks [1, 0], head 1 asks [0, 1]; scale 1 for round numbers.
  const Tensor q = f32({1, 2, 1, 2}, {1, 0, 0, 1});
  Flex f;
  const Tensor y = f.scale(1.0f).run(q, kK, kV);
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{1, 2, 1, 1}));
  const double e = std::exp(1.0);
  EXPECT_NEAR(y.data<float>()[0], (2 * e + 4) / (e + 1), 1e-6);
  EXPECT_NEAR(y.data<float>()[1], (2 + 4 * e) / (e + 1), 1e-6);
}

TEST(FlexAttention, DoubleComputesInDouble) {
  const Tensor q = Tensor::from_vector<double>({1, 1, 1, 2}, {1, 0});
  const Tensor k = Tensor::from_vector<double>({1, 1, 2, 2}, {1, 0, 0, 1});
  const Tensor v = Tensor::from_vector<double>({1, 1, 2, 1}, {2, 4});
  Flex f;
  const Tensor y = f.run(q, k, v);
  EXPECT_EQ(y.dtype(), DType::kFloat64);
  // sqrt(scale) is taken in float, as the definition says, so only float precision is promised.
  EXPECT_NEAR(y.data<double>()[0], expected_plain(), 1e-6);
}

TEST(FlexAttention, Errors) {
  // Rank 3 (the model's shapes are wrong); K/V heads that do not divide Q's; K and V of different lengths.
  EXPECT_EQ(Flex().error(f32({1, 1, 2}, {1, 0}), kK, kV), ErrorCode::kInvalidModel);
  EXPECT_EQ(Flex().error(f32({1, 3, 1, 2}, {1, 0, 1, 0, 1, 0}), f32({1, 2, 2, 2}, {1, 0, 0, 1, 1, 0, 0, 1}),
                         f32({1, 2, 2, 1}, {1, 2, 3, 4})),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Flex().error(kQ, kK, f32({1, 1, 3, 1}, {1, 2, 3})), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Flex().error(kQ, kK, Tensor::from_vector<double>({1, 1, 2, 1}, {2, 4})), ErrorCode::kInvalidModel);
  // A modifier with two inputs is no modifier.
  Flex two;
  two.graph("score_mod", modifier_graph("two", 2), [](const Tensor& s) { return std::vector<Tensor>{s}; });
  EXPECT_EQ(two.error(kQ, kK, kV), ErrorCode::kInvalidModel);
  // A modifier that changes the shape, or returns two values, breaks the op's rules.
  Flex reshape;
  reshape.graph("score_mod", modifier_graph("flat"), [](const Tensor& s) { return std::vector<Tensor>{s.reshaped({2})}; });
  EXPECT_EQ(reshape.error(kQ, kK, kV), ErrorCode::kInvalidArgument);
  Flex twice;
  twice.graph("prob_mod", modifier_graph("twice"), [](const Tensor& s) { return std::vector<Tensor>{s, s}; });
  EXPECT_EQ(twice.error(kQ, kK, kV), ErrorCode::kInvalidModel);
}

TEST(FlexAttention, InferenceKeepsSymbols) {
  ir::Node node;
  node.domain = "ai.onnx.preview";
  node.op_type = "FlexAttention";
  node.inputs = {0, 1, 2};
  node.outputs = {3};
  const ops::ValueInfo q{DType::kFloat16, Shape({Dim::symbol("b"), Dim(4), Dim::symbol("l"), Dim(8)})};
  const ops::ValueInfo k{DType::kFloat16, Shape({Dim::symbol("b"), Dim(2), Dim::symbol("s"), Dim(8)})};
  const ops::ValueInfo v{DType::kFloat16, Shape({Dim::symbol("b"), Dim(2), Dim::symbol("s"), Dim(16)})};
  const ops::ValueInfo* ins[] = {&q, &k, &v};
  std::vector<ops::ValueInfo> outs(1);
  ops::InferContext ctx(node, 0, 1, ins, outs);
  ops::find_op("ai.onnx.preview", "FlexAttention")->infer(ctx);
  EXPECT_EQ(outs[0].dtype, DType::kFloat16);
  EXPECT_EQ(outs[0].shape.str(), "[b,4,l,16]");
}

}  // namespace
