// to_channels_last on small hand-built graphs: which runs of convolutions move to NHWC, where the transposes go,
// how constants and graph outputs keep their meaning, and what stays NCHW. Every case runs the rewritten graph
// (ai.kiln.ConvNhwc's prepared kernels where they apply) against the original.

#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {


// An inverted residual block of MobileNet-v2: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project (+ x).
int inverted_residual(ModelBuilder& b, int x, int64_t c, int64_t expand, int64_t stride, int64_t out) {
  auto relu6 = [&](int v) { return b.node("Clip", {v, b.scalar("lo", 0), b.scalar("hi", 6)}); };
  const int e = relu6(same_padded_conv(b, x, c, expand, 1));
  const int d = relu6(same_padded_conv(b, e, expand, expand, 3, stride, expand));
  const int p = same_padded_conv(b, d, expand, out, 1);
  return stride == 1 && c == out ? b.node("Add", {p, x}) : p;
}

}  // namespace

TEST(ToChannelsLast, MobileNetBlocksRunNhwcBetweenTwoTransposes) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 8, Dim::symbol("h"), Dim::symbol("w")}));
  int y = inverted_residual(b, x, 8, 24, 1, 8);
  y = inverted_residual(b, y, 8, 24, 2, 16);
  y = b.node("GlobalAveragePool", {y});
  b.output(b.node("Flatten", {y}));
  for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{2, 8, 9, 7}, {1, 8, 16, 16}}) {
    ir::Model m = apply_and_compare(passes::to_channels_last_pass(), b.build(), random_feed(3, dims));
    EXPECT_EQ(count_ops(*m.graph, "ConvNhwc", "ai.kiln"), 6u);
    EXPECT_EQ(count_ops(*m.graph, "Conv"), 0u);
    EXPECT_EQ(count_ops(*m.graph, "Transpose"), 2u);  // x in, the pooled [n, 1, 1, 16] out
    EXPECT_EQ(count_ops(*m.graph, "ReduceMean"), 1u);
    EXPECT_EQ(count_ops(*m.graph, "GlobalAveragePool"), 0u);
  }
}

TEST(ToChannelsLast, SqueezeExcitationAndConstantsArePermuted) {
  ModelBuilder b(18);  // ReduceMean takes its axes as an input from opset 18
  const int x = b.input("x", DType::kFloat32, Shape({1, 8, 5, 7}));
  int y = same_padded_conv(b, x, 8, 16, 1);
  y = same_padded_conv(b, y, 16, 16, 5, 1, 16);
  // squeeze-excitation: pool, two 1x1 FCs, a gate multiplied into every pixel
  int s = b.node("GlobalAveragePool", {y});
  s = b.node("Relu", {same_padded_conv(b, s, 16, 4, 1)});
  s = b.node("HardSigmoid", {same_padded_conv(b, s, 4, 16, 1)});
  y = b.node("Mul", {y, s});
  y = b.node("Add", {y, b.random_init("per_channel", {16, 1, 1})});  // [C, 1, 1] -> [1, 1, 1, C]
  y = b.node("Mul", {y, b.random_init("per_column", {7})});          // along W: [7] -> [1, 1, 7, 1]
  y = b.node("Sub", {b.scalar("one", 1.0f), y});
  const int mid = same_padded_conv(b, y, 16, 8, 1);
  b.output(mid);  // a region value that is a graph output stays NCHW under its name
  b.output(same_padded_conv(b, same_padded_conv(b, mid, 8, 8, 3, 2, 8), 8, 4, 1));
  ir::Model m = apply_and_compare(passes::to_channels_last_pass(), b.build(), random_feed(4, {1, 8, 5, 7}));
  EXPECT_EQ(count_ops(*m.graph, "ConvNhwc", "ai.kiln"), 7u);
  EXPECT_EQ(count_ops(*m.graph, "Transpose"), 3u);  // x in; mid and the last conv out
  const ir::Node* mean = find_node(*m.graph, "ReduceMean");
  ASSERT_NE(mean, nullptr);
  EXPECT_EQ(mean->inputs.size(), 2u);  // axes as an input
}

TEST(ToChannelsLast, ReduceMeanTakesAxesAsAttributeBeforeOpset18) {
  ModelBuilder b(13);
  const int x = b.input("x", DType::kFloat32, Shape({2, 4, 6, 6}));
  int y = same_padded_conv(b, same_padded_conv(b, same_padded_conv(b, same_padded_conv(b, x, 4, 8, 1), 8, 8, 3, 1, 8), 8, 8, 1), 8, 8, 3, 2, 8);
  b.output(b.node("GlobalAveragePool", {y}));
  ir::Model m = apply_and_compare(passes::to_channels_last_pass(), b.build(), random_feed(5, {2, 4, 6, 6}));
  const ir::Node* mean = find_node(*m.graph, "ReduceMean");
  ASSERT_NE(mean, nullptr);
  EXPECT_EQ(mean->inputs.size(), 1u);
  ASSERT_NE(mean->attr("axes"), nullptr);
  EXPECT_EQ(mean->attr("axes")->ints, (std::vector<int64_t>{1, 2}));
}

TEST(ToChannelsLast, NetsWithoutDepthwiseRunsStayNchw) {
  // A ResNet-style stack: full 3x3 convolutions and 1x1s, no depthwise: transposes would only cost.
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({1, 8, 10, 10}));
  int y = b.node("Relu", {same_padded_conv(b, x, 8, 8, 1)});
  y = b.node("Relu", {same_padded_conv(b, y, 8, 8, 3)});
  y = b.node("Add", {same_padded_conv(b, y, 8, 8, 1), x});
  b.output(b.node("GlobalAveragePool", {same_padded_conv(b, y, 8, 8, 1)}));
  apply_and_compare(passes::to_channels_last_pass(), b.build(), random_feed(6, {1, 8, 10, 10}), 1e-5, false);

  // A depthwise convolution with too few others around it (one 1x1): not worth the two transposes either.
  ModelBuilder small;
  const int x2 = small.input("x", DType::kFloat32, Shape({1, 8, 10, 10}));
  small.output(same_padded_conv(small, same_padded_conv(small, x2, 8, 8, 3, 1, 8), 8, 8, 1));
  apply_and_compare(passes::to_channels_last_pass(), small.build(), random_feed(7, {1, 8, 10, 10}), 1e-5, false);
}
