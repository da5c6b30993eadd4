// fuse_conv on small hand-built graphs: what becomes FusedConv (bias, residual, every activation form), and
// what must stay as it is.

#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

const Shape kImage({Dim::symbol("n"), 4, Dim::symbol("h"), Dim::symbol("w")});

NamedTensors image(std::vector<int64_t> dims = {2, 4, 9, 7}) {
  std::mt19937 rng(5);
  return {{"x", random_tensor(std::move(dims), rng)}};
}

int conv(ModelBuilder& b, int x, int64_t out, int64_t k, int64_t stride, int64_t pad, bool bias = true) {
  const int64_t in = 4;
  std::vector<int> inputs = {x, b.random_init(fmt::format("w{}", b.graph().values.size()), {out, in, k, k}, -0.5, 0.5)};
  if (bias) inputs.push_back(b.random_init(fmt::format("b{}", b.graph().values.size()), {out}));
  return b.node("Conv", inputs, {ints_attr("strides", {stride, stride}), ints_attr("pads", {pad, pad, pad, pad})});
}

const ir::Node& fused(const ir::Model& m) {
  const ir::Node* n = find_node(*m.graph, "FusedConv", "ai.kiln");
  EXPECT_NE(n, nullptr);
  static const ir::Node none;
  return n ? *n : none;
}

}  // namespace

TEST(FuseConv, EveryActivationFormBecomesTheEpilogue) {
  ensure_kiln_test_ops();
  struct Case {
    const char* kind;
    std::function<int(ModelBuilder&, int)> act;
    std::vector<float> params;
  };
  const std::vector<Case> cases = {
      {"Relu", [](ModelBuilder& b, int y) { return b.node("Relu", {y}); }, {}},
      {"Clip", [](ModelBuilder& b, int y) { return b.node("Clip", {y, b.scalar("lo", 0), b.scalar("hi", 6)}); }, {0, 6}},
      {"Clip", [](ModelBuilder& b, int y) { return b.node("Clip", {y, -1, b.scalar("hi", 6)}); },
       {-std::numeric_limits<float>::infinity(), 6}},
      {"LeakyRelu", [](ModelBuilder& b, int y) { return b.node("LeakyRelu", {y}, {float_attr("alpha", 0.2f)}); }, {0.2f}},
      {"Sigmoid", [](ModelBuilder& b, int y) { return b.node("Sigmoid", {y}); }, {}},
      {"Tanh", [](ModelBuilder& b, int y) { return b.node("Tanh", {y}); }, {}},
      {"HardSigmoid", [](ModelBuilder& b, int y) { return b.node("HardSigmoid", {y}); }, {0.2f, 0.5f}},
      {"HardSwish", [](ModelBuilder& b, int y) { return b.node("HardSwish", {y}); }, {}},
      {"HardSwish", [](ModelBuilder& b, int y) {
         return b.node("Mul", {y, b.node("HardSigmoid", {y}, {float_attr("alpha", 1.0f / 6)})});
       }, {}},
      {"Silu", [](ModelBuilder& b, int y) { return b.node("Mul", {b.node("Sigmoid", {y}), y}); }, {}},
      {"GeluErf", [](ModelBuilder& b, int y) {
         const int h = b.node("Add", {b.node("Erf", {b.node("Div", {y, b.scalar("sqrt2", 1.4142135f)})}), b.scalar("one", 1)});
         return b.node("Mul", {b.node("Mul", {y, h}), b.scalar("half", 0.5f)});
       }, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.kind);
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, kImage);
    b.output(c.act(b, conv(b, x, 6, 3, 1, 1)));
    ir::Model m = apply_and_compare(passes::fuse_conv_pass(), b.build(), image());
    EXPECT_EQ(m.graph->nodes.size(), 1u);
    const ir::Node& f = fused(m);
    ASSERT_NE(f.attr("activation"), nullptr);
    EXPECT_EQ(f.attr("activation")->s, c.kind);
    if (c.params.empty()) EXPECT_EQ(f.attr("activation_params"), nullptr);
    else EXPECT_EQ(f.attr("activation_params")->floats, c.params);
    EXPECT_EQ(f.name, "Conv_0");
    EXPECT_NE(f.attr("pads"), nullptr);  // Conv's own attributes carried over
    EXPECT_EQ(m.opset("ai.kiln"), 1);
  }
}

TEST(FuseConv, ResidualsOfProvablyTheSameShapeWithSymbolicImageSizes) {
  // A ResNet downsampling block: 3x3/2 -> relu -> 3x3/1, shortcut 1x1/2, add, relu. With symbolic h and w,
  // inference knows neither branch's size; dim keys prove both are floor((h-1)/2)+1.
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kImage);
  const int main1 = b.node("Relu", {conv(b, x, 4, 3, 2, 1)});
  const int main2 = conv(b, main1, 4, 3, 1, 1);
  const int shortcut = conv(b, x, 4, 1, 2, 0);
  b.output(b.node("Relu", {b.node("Add", {main2, shortcut})}));
  for (auto dims : {std::vector<int64_t>{1, 4, 9, 7}, std::vector<int64_t>{2, 4, 8, 8}}) {
    ir::Model m = apply_and_compare(passes::fuse_conv_pass(), b.build(), image(dims));
    EXPECT_EQ(m.graph->nodes.size(), 3u);
    EXPECT_EQ(count_ops(*m.graph, "FusedConv", "ai.kiln"), 2u);
    bool with_residual = false;
    for (const ir::Node& n : m.graph->nodes)
      if (n.op_type == "FusedConv" && n.inputs.size() == 4) {
        with_residual = true;
        EXPECT_EQ(n.attr("activation")->s, "Relu");
      }
    EXPECT_TRUE(with_residual);
  }
}

TEST(FuseConv, PerChannelConstantAddsGoIntoTheBias) {
  for (bool conv_bias : {true, false}) {
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, kImage);
    const int shift = b.random_init("shift", {1, 6, 1, 1});
    b.output(b.node("Relu", {b.node("Add", {conv(b, x, 6, 3, 1, 1, conv_bias), shift})}));
    ir::Model m = apply_and_compare(passes::fuse_conv_pass(), b.build(), image());
    ASSERT_EQ(m.graph->nodes.size(), 1u);
    EXPECT_EQ(fused(m).inputs.size(), 3u);
  }
}

TEST(FuseConv, LeavesWhatItMustNotFuse) {
  auto unchanged = [](const ir::Model& m) {
    ir::Model copy = clone_model(m);
    ensure_kiln_test_ops();
    EXPECT_FALSE(passes::fuse_conv_pass().apply(copy));
  };
  {  // the conv output is read twice
    ModelBuilder b;
    const int y = conv(b, b.input("x", DType::kFloat32, kImage), 4, 3, 1, 1);
    b.output(b.node("Relu", {y}));
    b.output(b.node("Sigmoid", {y}));
    unchanged(b.build());
  }
  {  // the conv output is a graph output
    ModelBuilder b;
    const int y = conv(b, b.input("x", DType::kFloat32, kImage), 4, 3, 1, 1);
    b.output(b.node("Relu", {y}));
    b.output(y);
    unchanged(b.build());
  }
  {  // the other Add operand broadcasts into the output: not a residual of exactly its shape
    ModelBuilder b;
    const int y = conv(b, b.input("x", DType::kFloat32, kImage), 4, 3, 1, 1);
    const int s = b.input("s", DType::kFloat32, Shape({Dim::symbol("n"), 4, 1, 1}));
    b.output(b.node("Add", {y, s}));
    unchanged(b.build());
  }
  {  // a residual whose spatial size is not provably the conv's (stride 2 vs 1)
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, kImage);
    b.output(b.node("Add", {conv(b, x, 4, 3, 2, 1), conv(b, x, 4, 3, 1, 1)}));
    unchanged(b.build());
  }
  {  // float64
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat64, kImage);
    ir::Attribute pads = ints_attr("pads", {1, 1, 1, 1});
    Tensor w(DType::kFloat64, {4, 4, 3, 3});
    for (int64_t i = 0; i < w.numel(); ++i) w.data<double>()[i] = 0.01 * static_cast<double>(i % 7);
    b.output(b.node("Relu", {b.node("Conv", {x, b.init("w", w)}, {pads})}));
    unchanged(b.build());
  }
  {  // an activation after the residual's Add is read elsewhere too: only the Add fuses
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, Shape({1, 4, 5, 5}));
    const int sum = b.node("Add", {conv(b, x, 4, 3, 1, 1), x});
    b.output(b.node("Relu", {sum}));
    b.output(sum);
    ir::Model m = apply_and_compare(passes::fuse_conv_pass(), b.build(), image({1, 4, 5, 5}));
    EXPECT_EQ(fused(m).inputs.size(), 4u);
    EXPECT_EQ(fused(m).attr("activation"), nullptr);
  }
}
