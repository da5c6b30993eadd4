// fuse_inverted_residual and fuse_channel_scale on small hand-built mobile-net graphs after to_channels_last: which
// ConvNhwc chains become ai.kiln.InvertedResidualNhwc (expand + depthwise + project, or expand + depthwise where a
// squeeze-excitation reads the depthwise output), where the squeeze-excitation gate moves into the projection, what
// stays, and that every rewritten graph computes what the unfused one does (the fused ops' prepared kernels where
// they apply).

#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {


int relu6(ModelBuilder& b, int v) { return b.node("Clip", {v, b.scalar("lo", 0), b.scalar("hi", 6)}); }

// MobileNet-v2's block: 1x1 expand + ReLU6, kxk depthwise + ReLU6, 1x1 project (+ x).
int inverted_residual(ModelBuilder& b, int x, int64_t c, int64_t expand, int64_t k, int64_t stride, int64_t out) {
  const int e = relu6(b, same_padded_conv(b, x, c, expand, 1));
  const int d = relu6(b, same_padded_conv(b, e, expand, expand, k, stride, expand));
  const int p = same_padded_conv(b, d, expand, out, 1);
  return stride == 1 && c == out ? b.node("Add", {p, x}) : p;
}

// The graph as the pipeline hands it to fuse_inverted_residual: fuse_conv and to_channels_last applied.
ir::Model channels_last(const ModelBuilder& b) {
  ir::Model m = b.build();
  EXPECT_TRUE(passes::fuse_conv_pass().apply(m));
  EXPECT_TRUE(passes::to_channels_last_pass().apply(m));
  return m;
}

}  // namespace

TEST(FuseInvertedResidual, MobileNetV2BlocksFuseWhole) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 8, Dim::symbol("h"), Dim::symbol("w")}));
  int y = inverted_residual(b, x, 8, 24, 3, 1, 8);
  y = inverted_residual(b, y, 8, 30, 5, 2, 12);
  y = b.node("GlobalAveragePool", {y});
  b.output(b.node("Flatten", {y}));
  const ir::Model before = channels_last(b);
  EXPECT_EQ(count_ops(*before.graph, "ConvNhwc", "ai.kiln"), 6u);
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{2, 8, 9, 7}, {1, 8, 16, 16}}) {
    ir::Model m = apply_and_compare(passes::fuse_inverted_residual_pass(), before, random_feed(3, dims));
    EXPECT_EQ(count_ops(*m.graph, "InvertedResidualNhwc", "ai.kiln"), 2u);
    EXPECT_EQ(count_ops(*m.graph, "ConvNhwc", "ai.kiln"), 0u);
    const ir::Node* first = find_node(*m.graph, "InvertedResidualNhwc", "ai.kiln");
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->inputs.size(), 8u);  // X, We, Be, Wd, Bd, Wp, Bp and the residual
    EXPECT_NE(first->attr("expand_activation"), nullptr);
    EXPECT_NE(first->attr("depthwise_activation"), nullptr);
  }
}

TEST(FuseInvertedResidual, SqueezeExcitationKeepsTheProjectionOut) {
  // MobileNet-v3 / EfficientNet: the pool and the gate read the depthwise output, so only expand + depthwise fuse.
  ModelBuilder b(18);
  const int x = b.input("x", DType::kFloat32, Shape({1, 8, 11, 9}));
  const int e = b.node("HardSwish", {same_padded_conv(b, x, 8, 32, 1)});
  const int d = b.node("HardSwish", {same_padded_conv(b, e, 32, 32, 3, 1, 32)});
  int s = b.node("GlobalAveragePool", {d});
  s = b.node("Relu", {same_padded_conv(b, s, 32, 8, 1)});
  s = b.node("HardSigmoid", {same_padded_conv(b, s, 8, 32, 1)});
  const int p = same_padded_conv(b, b.node("Mul", {d, s}), 32, 8, 1);
  b.output(b.node("Add", {p, x}));
  ir::Model m = apply_and_compare(passes::fuse_inverted_residual_pass(), channels_last(b), random_feed(4, {1, 8, 11, 9}));
  EXPECT_EQ(count_ops(*m.graph, "InvertedResidualNhwc", "ai.kiln"), 1u);
  EXPECT_EQ(count_ops(*m.graph, "ConvNhwc", "ai.kiln"), 3u);  // the two FCs and the projection
  const ir::Node* block = find_node(*m.graph, "InvertedResidualNhwc", "ai.kiln");
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(block->inputs.size(), 5u);  // no projection
}

TEST(FuseInvertedResidual, ChainsReadElsewhereOrWithoutExpansionStay) {
  // A block without an expansion (MobileNet-v2's first: depthwise then project) has nothing to fuse; an expanded
  // value that is also a graph output must be written, so its chain stays too.
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({1, 8, 10, 10}));
  const int e = same_padded_conv(b, relu6(b, same_padded_conv(b, x, 8, 8, 3, 1, 8)), 8, 16, 1);
  b.output(e);
  b.output(same_padded_conv(b, relu6(b, same_padded_conv(b, e, 16, 16, 3, 1, 16)), 16, 8, 1));
  ir::Model m = channels_last(b);
  EXPECT_EQ(count_ops(*m.graph, "ConvNhwc", "ai.kiln"), 4u);
  EXPECT_FALSE(passes::fuse_inverted_residual_pass().apply(m));
  EXPECT_EQ(count_ops(*m.graph, "ConvNhwc", "ai.kiln"), 4u);
}

namespace {

// MobileNet-v3's block with squeeze-excitation on input x [n, 8, h, w].
int se_block(ModelBuilder& b, int x) {
  const int e = b.node("HardSwish", {same_padded_conv(b, x, 8, 32, 1)});
  const int d = b.node("HardSwish", {same_padded_conv(b, e, 32, 32, 3, 1, 32)});
  int s = b.node("GlobalAveragePool", {d});
  s = b.node("Relu", {same_padded_conv(b, s, 32, 8, 1)});
  s = b.node("HardSigmoid", {same_padded_conv(b, s, 8, 32, 1)});
  const int p = same_padded_conv(b, b.node("Mul", {d, s}), 32, 8, 1);
  return b.node("Add", {p, x});
}

}  // namespace

TEST(FuseChannelScale, SqueezeExcitationGateMovesIntoTheProjection) {
  // Fixed and symbolic batch: the gate's [N, 1, 1, C] is proven through the dim keys of the NHWC ops.
  for (const bool symbolic : {false, true}) {
    ModelBuilder b(18);
    const Dim n = symbolic ? Dim::symbol("n") : Dim(2);
    const int x = b.input("x", DType::kFloat32, Shape({n, 8, Dim::symbol("h"), Dim::symbol("w")}));
    b.output(se_block(b, x));
    ir::Model m = channels_last(b);
    ASSERT_TRUE(passes::fuse_inverted_residual_pass().apply(m));
    ir::Model fused = apply_and_compare(passes::fuse_channel_scale_pass(), m, random_feed(5, {2, 8, 11, 9}));
    EXPECT_EQ(count_ops(*fused.graph, "Mul"), 0u);
    size_t scaled = 0;
    for (const ir::Node& node : fused.graph->nodes) scaled += node.op_type == "ConvNhwc" && node.inputs.size() == 5;
    EXPECT_EQ(scaled, 1u);
  }
}

TEST(FuseChannelScale, OtherProductsStay) {
  // A Mul of two feature maps (not a per-channel gate) and a gate whose product is also read elsewhere.
  ModelBuilder b(18);
  const int x = b.input("x", DType::kFloat32, Shape({1, 8, 10, 10}));
  const int d = same_padded_conv(b, relu6(b, same_padded_conv(b, relu6(b, same_padded_conv(b, x, 8, 16, 1)), 16, 16, 3, 1, 16)), 16, 16, 1);
  const int sq = b.node("Mul", {d, d});
  const int y = same_padded_conv(b, relu6(b, same_padded_conv(b, sq, 16, 16, 3, 1, 16)), 16, 8, 1);
  const int g = b.node("Mul", {y, b.node("HardSigmoid", {same_padded_conv(b, b.node("GlobalAveragePool", {y}), 8, 8, 1)})});
  b.output(g);
  b.output(same_padded_conv(b, g, 8, 4, 1));
  ir::Model m = channels_last(b);
  EXPECT_FALSE(passes::fuse_channel_scale_pass().apply(m));
  EXPECT_EQ(count_ops(*m.graph, "Mul"), 2u);
}
