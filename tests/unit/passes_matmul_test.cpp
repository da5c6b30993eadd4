// fuse_gemm, fuse_matmul_add, fuse_matmul_activation and fuse_gelu on small hand-built graphs.

#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

const Shape kTokens({Dim::symbol("batch"), Dim::symbol("seq"), 8});

NamedTensors tokens(std::vector<int64_t> dims = {2, 5, 8}) {
  std::mt19937 rng(9);
  return {{"x", random_tensor(std::move(dims), rng)}};
}

const ir::Node& only_fused(const ir::Model& m, const char* op = "FusedMatMul") {
  EXPECT_EQ(count_ops(*m.graph, op, "ai.kiln"), 1u);
  const ir::Node* n = find_node(*m.graph, op, "ai.kiln");
  static const ir::Node none;
  return n ? *n : none;
}

// The GELU forms exporters write, on `x`.
enum class Gelu { kErfDivFirst, kErfHalfFirst, kErfHalfLast, kErfMulScale, kTanhPow, kTanhCube };

int gelu(ModelBuilder& b, int x, Gelu form) {
  auto c = [&](float v) { return b.scalar(fmt::format("c{}", b.graph().values.size()), v); };
  if (form == Gelu::kTanhPow || form == Gelu::kTanhCube) {
    const int cube = form == Gelu::kTanhPow ? b.node("Pow", {x, c(3)}) : b.node("Mul", {x, b.node("Mul", {x, x})});
    const int inner = b.node("Mul", {c(0.7978845608f), b.node("Add", {x, b.node("Mul", {c(0.044715f), cube})})});
    const int h = b.node("Add", {c(1), b.node("Tanh", {inner})});
    return b.node("Mul", {c(0.5f), b.node("Mul", {x, h})});
  }
  const int scaled = form == Gelu::kErfMulScale ? b.node("Mul", {x, c(0.70710678f)}) : b.node("Div", {x, c(1.4142135f)});
  const int h = b.node("Add", {b.node("Erf", {scaled}), c(1)});
  switch (form) {
    case Gelu::kErfHalfFirst: return b.node("Mul", {b.node("Mul", {x, c(0.5f)}), h});
    case Gelu::kErfHalfLast: return b.node("Mul", {x, b.node("Mul", {h, c(0.5f)})});
    default: return b.node("Mul", {b.node("Mul", {x, h}), c(0.5f)});
  }
}

}  // namespace

TEST(FuseGemm, LinearLayersBecomeFusedMatMul) {
  // nn.Linear: Gemm(x, W[N,K], b[N], transB=1).
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), 8}));
  const int y = b.node("Gemm", {x, b.random_init("w", {6, 8}), b.random_init("b", {6})}, {int_attr("transB", 1)});
  // alpha and beta with a [1, N] constant C: the bias becomes beta * C.
  const int z = b.node("Gemm", {y, b.random_init("w2", {6, 3}), b.random_init("c", {1, 3})},
                       {float_attr("alpha", 0.5f), float_attr("beta", 2.0f)});
  b.output(z);
  NamedTensors feeds = {{"x", Tensor()}};
  std::mt19937 rng(1);
  feeds[0].second = random_tensor({4, 8}, rng);
  ir::Model m = apply_and_compare(passes::fuse_gemm_pass(), b.build(), feeds);
  ASSERT_EQ(count_ops(*m.graph, "FusedMatMul", "ai.kiln"), 2u);
  const ir::Node& first = m.graph->nodes[0];
  EXPECT_EQ(first.attr("transB")->i, 1);
  EXPECT_EQ(first.inputs.size(), 3u);
  EXPECT_EQ(m.graph->nodes[1].attr("alpha")->f, 0.5f);
}

TEST(FuseGemm, ResidualCAndWhatCannotBeExpressed) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({4, 8}));
  const int r = b.input("r", DType::kFloat32, Shape({4, 6}));
  b.output(b.node("Gemm", {x, b.random_init("w", {8, 6}), r}));  // C of Y's shape: the residual
  b.output(b.node("Gemm", {b.node("Transpose", {x}), b.random_init("w2", {8, 6})}, {int_attr("transA", 1)}));
  b.output(b.node("Gemm", {x, b.random_init("w3", {8, 6}), b.random_init("col", {4, 1})}));  // per-row C
  std::mt19937 rng(2);
  NamedTensors feeds = {{"x", random_tensor({4, 8}, rng)}, {"r", random_tensor({4, 6}, rng)}};
  ir::Model m = apply_and_compare(passes::fuse_gemm_pass(), b.build(), feeds);
  EXPECT_EQ(count_ops(*m.graph, "Gemm"), 2u);
  EXPECT_EQ(only_fused(m).inputs.size(), 4u);
}

TEST(FuseMatMulAdd, BiasThenResidualAsATransformerWritesThem) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kTokens);
  const int mm = b.node("MatMul", {x, b.random_init("w", {8, 8})});
  const int biased = b.node("Add", {b.random_init("bias", {8}), mm});  // bias first, as PyTorch exports it
  b.output(b.node("Add", {x, biased}));                                   // the skip connection
  ir::Model m = apply_and_compare(passes::fuse_matmul_add_pass(), b.build(), tokens());
  ASSERT_EQ(m.graph->nodes.size(), 1u);
  const ir::Node& f = only_fused(m);
  EXPECT_EQ(f.inputs.size(), 4u);
  EXPECT_EQ(b.graph().value(f.inputs[3]).name, "x");
  EXPECT_EQ(f.name, "MatMul_0");
}

TEST(FuseMatMulAdd, ConstantBiasOfRankTwoIsReshapedAndBroadcastsAreLeft) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kTokens);
  const int w = b.random_init("w", {8, 8});
  b.output(b.node("Add", {b.node("MatMul", {x, w}), b.random_init("bias", {1, 1, 8})}));
  const int pos = b.input("pos", DType::kFloat32, Shape({Dim::symbol("seq"), 8}));  // broadcasts over batch
  b.output(b.node("Add", {b.node("MatMul", {x, w}), pos}));
  const int row = b.random_init("row", {5, 1});  // varies along rows, not a bias
  b.output(b.node("Add", {b.node("MatMul", {x, w}), row}));
  NamedTensors feeds = tokens();
  std::mt19937 rng(4);
  feeds.emplace_back("pos", random_tensor({5, 8}, rng));
  ir::Model m = apply_and_compare(passes::fuse_matmul_add_pass(), b.build(), feeds);
  const ir::Node& f = only_fused(m);
  EXPECT_EQ(f.inputs.size(), 3u);
  EXPECT_EQ(m.graph->initializers.at(f.inputs[2]).dims(), std::vector<int64_t>{8});
  EXPECT_EQ(count_ops(*m.graph, "Add"), 2u);
}

TEST(FuseMatMulAdd, LeavesIntermediatesReadElsewhereAndVectorOperands) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kTokens);
  const int mm = b.node("MatMul", {x, b.random_init("w", {8, 8})});
  b.output(b.node("Add", {mm, b.random_init("bias", {8})}));
  b.output(mm);  // a graph output in the middle
  const int v = b.input("v", DType::kFloat32, Shape({8}));
  b.output(b.node("Add", {b.node("MatMul", {v, b.random_init("w2", {8, 8})}), b.random_init("b2", {8})}));
  ir::Model m = b.build();
  ensure_kiln_test_ops();
  EXPECT_FALSE(passes::fuse_matmul_add_pass().apply(m));
}

TEST(FuseMatMulActivation, GeluFormsAndReluCloseTheEpilogue) {
  for (Gelu form : {Gelu::kErfDivFirst, Gelu::kErfHalfFirst, Gelu::kErfHalfLast, Gelu::kErfMulScale, Gelu::kTanhPow,
                    Gelu::kTanhCube}) {
    SCOPED_TRACE(static_cast<int>(form));
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, kTokens);
    const int h = b.node("Add", {b.node("MatMul", {x, b.random_init("w", {8, 16})}), b.random_init("b", {16})});
    b.output(gelu(b, h, form));
    ir::Model m = b.build();
    ir::Model biased = apply_and_compare(passes::fuse_matmul_add_pass(), m, tokens());
    ir::Model done = apply_and_compare(passes::fuse_matmul_activation_pass(), biased, tokens());
    ASSERT_EQ(done.graph->nodes.size(), 1u);
    const bool tanh = form == Gelu::kTanhPow || form == Gelu::kTanhCube;
    EXPECT_EQ(only_fused(done).attr("activation")->s, tanh ? "GeluTanh" : "GeluErf");
  }
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kTokens);
  b.output(b.node("Relu", {b.node("MatMul", {x, b.random_init("w", {8, 4})})}));
  ir::Model m = apply_and_compare(passes::fuse_matmul_activation_pass(), b.build(), tokens());
  EXPECT_EQ(only_fused(m).attr("activation")->s, "Relu");
}

TEST(FuseGelu, StandaloneSubgraphsBecomeOneNode) {
  for (Gelu form : {Gelu::kErfDivFirst, Gelu::kErfHalfFirst, Gelu::kErfHalfLast, Gelu::kErfMulScale, Gelu::kTanhPow,
                    Gelu::kTanhCube}) {
    SCOPED_TRACE(static_cast<int>(form));
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, kTokens);
    b.output(b.node("Sigmoid", {gelu(b, b.node("Neg", {x}), form)}));
    ir::Model m = apply_and_compare(passes::fuse_gelu_pass(), b.build(), tokens());
    EXPECT_EQ(m.graph->nodes.size(), 3u);
    const ir::Node& g = only_fused(m, "Gelu");
    const bool tanh = form == Gelu::kTanhPow || form == Gelu::kTanhCube;
    EXPECT_EQ(g.attr("approximate")->s, tanh ? "tanh" : "none");
  }
}

TEST(FuseGelu, LeavesLookalikes) {
  ensure_kiln_test_ops();
  {  // 0.49 is not 0.5
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, kTokens);
    const int h = b.node("Add", {b.node("Erf", {b.node("Div", {x, b.scalar("s", 1.4142135f)})}), b.scalar("one", 1)});
    b.output(b.node("Mul", {b.node("Mul", {x, h}), b.scalar("half", 0.49f)}));
    ir::Model m = b.build();
    EXPECT_FALSE(passes::fuse_gelu_pass().apply(m));
  }
  {  // the Erf's output is also a graph output
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, kTokens);
    const int e = b.node("Erf", {b.node("Div", {x, b.scalar("s", 1.4142135f)})});
    b.output(b.node("Mul", {b.node("Mul", {x, b.node("Add", {e, b.scalar("one", 1)})}), b.scalar("half", 0.5f)}));
    b.output(e);
    ir::Model m = b.build();
    EXPECT_FALSE(passes::fuse_gelu_pass().apply(m));
  }
}

TEST(FuseGelu, TheInputMayHaveOtherReaders) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kTokens);
  const int y = b.node("Neg", {x});
  b.output(gelu(b, y, Gelu::kTanhCube));
  b.output(b.node("Relu", {y}));
  ir::Model m = apply_and_compare(passes::fuse_gelu_pass(), b.build(), tokens());
  EXPECT_EQ(m.graph->nodes.size(), 3u);
  EXPECT_EQ(only_fused(m, "Gelu").inputs[0], y);
}
