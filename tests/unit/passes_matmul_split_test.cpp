// fuse_matmul_split on small hand-built graphs: the Q/K/V cuts transformers write after one projection.

#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

const Shape kTokens({Dim::symbol("batch"), Dim::symbol("seq"), 8});

int ints(ModelBuilder& b, const std::string& name, std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  Tensor t(DType::kInt64, {n});
  for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = v[static_cast<size_t>(i)];
  return b.init(name, std::move(t));
}

// x[..., start:end] through a Slice on the last axis (as torch's MultiheadAttention exports its in-projection cut).
int slice_last(ModelBuilder& b, int x, int64_t start, int64_t end) {
  const std::string s = std::to_string(b.graph().values.size());
  return b.node("Slice", {x, ints(b, "s" + s, {start}), ints(b, "e" + s, {end}), ints(b, "a" + s, {-1})});
}

// The model built so far, importing ai.kiln (its graph holds a FusedMatMul already).
ir::Model with_kiln_domain(const ModelBuilder& b) {
  ir::Model m = b.build();
  passes::import_kiln_domain(m);
  return m;
}

const ir::Node& only_fused(const ir::Model& m) {
  EXPECT_EQ(count_ops(*m.graph, "FusedMatMul", "ai.kiln"), 1u);
  const ir::Node* n = find_node(*m.graph, "FusedMatMul", "ai.kiln");
  static const ir::Node none;
  return n ? *n : none;
}

}  // namespace

TEST(FuseMatMulSplit, SlicesOfABiasedProjectionInAnyOrder) {
  // FusedMatMul (bias, transB as a Gemm gives it) cut into three parts; the Slices listed out of order, the last
  // with an end past N (clamped) and a negative start.
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kTokens);
  const int y = b.node("FusedMatMul", {x, b.random_init("w", {12, 8}), b.random_init("bias", {12})},
                       {int_attr("transB", 1)}, "ai.kiln");
  const int k = slice_last(b, y, 4, 8);
  const int q = slice_last(b, y, 0, 4);
  const int v = slice_last(b, y, -4, 1000);
  b.output(b.node("Mul", {q, k}));
  b.output(v);
  ir::Model m = apply_and_compare(passes::fuse_matmul_split_pass(), with_kiln_domain(b), random_feed(3, {2, 5, 8}));
  EXPECT_EQ(count_ops(*m.graph, "Slice"), 0u);
  const ir::Node& f = only_fused(m);
  EXPECT_EQ(f.attr("split")->ints, (std::vector<int64_t>{4, 4, 4}));
  ASSERT_EQ(f.outputs.size(), 3u);
  EXPECT_EQ(f.outputs[0], q);
  EXPECT_EQ(f.outputs[1], k);
  EXPECT_EQ(f.outputs[2], v);
  EXPECT_EQ(f.inputs.size(), 3u);
}

TEST(FuseMatMulSplit, SplitOfAPlainMatMulWithUnequalSizes) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kTokens);
  const int y = b.node("MatMul", {x, b.random_init("w", {8, 10})});
  const std::vector<int> parts = b.nodes("Split", {y, ints(b, "sizes", {3, 7})}, 2, {int_attr("axis", 2)});
  b.output(b.node("Relu", {parts[0]}));
  b.output(parts[1]);
  ir::Model m = apply_and_compare(passes::fuse_matmul_split_pass(), b.build(), random_feed(4, {1, 3, 8}));
  EXPECT_EQ(count_ops(*m.graph, "Split"), 0u);
  EXPECT_EQ(count_ops(*m.graph, "MatMul"), 0u);
  const ir::Node& f = only_fused(m);
  EXPECT_EQ(f.attr("split")->ints, (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(f.attr("transB")->i, 0);
}

TEST(FuseMatMulSplit, LeavesCutsThatDoNotCoverOrAreNotAlone) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, kTokens);
  const int w = b.random_init("w", {8, 12});
  // A gap: [0, 4) and [6, 12).
  const int y1 = b.node("MatMul", {x, w});
  b.output(slice_last(b, y1, 0, 4));
  b.output(slice_last(b, y1, 6, 12));
  // Overlapping parts.
  const int y2 = b.node("MatMul", {x, w});
  b.output(slice_last(b, y2, 0, 8));
  b.output(slice_last(b, y2, 4, 12));
  // Another reader of the whole result.
  const int y3 = b.node("MatMul", {x, w});
  b.output(slice_last(b, y3, 0, 6));
  b.output(slice_last(b, y3, 6, 12));
  b.output(b.node("Relu", {y3}));
  // A cut on another axis.
  const int y4 = b.node("MatMul", {x, w});
  b.output(b.node("Slice", {y4, ints(b, "s1", {0}), ints(b, "e1", {2}), ints(b, "a1", {1})}));
  b.output(b.node("Slice", {y4, ints(b, "s2", {2}), ints(b, "e2", {5}), ints(b, "a2", {1})}));
  // B computed at run time (nothing to pack per part).
  const int wx = b.input("wx", DType::kFloat32, Shape({8, 12}));
  const int y5 = b.node("MatMul", {x, wx});
  b.output(slice_last(b, y5, 0, 6));
  b.output(slice_last(b, y5, 6, 12));
  NamedTensors feeds = random_feed(5, {2, 5, 8});
  std::mt19937 rng(6);
  feeds.emplace_back("wx", random_tensor({8, 12}, rng));
  apply_and_compare(passes::fuse_matmul_split_pass(), b.build(), feeds, 1e-5, /*expect_change=*/false);
}

TEST(FuseMatMulSplit, ResidualOrAGraphOutputKeepTheCuts) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({4, 8}));
  const int y = b.node("FusedMatMul", {x, b.random_init("w", {8, 8}), b.random_init("bias", {8}), x}, {}, "ai.kiln");
  b.output(slice_last(b, y, 0, 4));
  b.output(slice_last(b, y, 4, 8));
  const int y2 = b.node("MatMul", {x, b.random_init("w2", {8, 8})});
  b.output(slice_last(b, y2, 0, 4));
  b.output(slice_last(b, y2, 4, 8));
  b.output(y2);
  apply_and_compare(passes::fuse_matmul_split_pass(), with_kiln_domain(b), random_feed(7, {4, 8}), 1e-5, false);
}
