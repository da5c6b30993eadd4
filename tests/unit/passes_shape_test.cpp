// The shape-simplifying passes (level 1, run after the fusions): constant Reshape targets from symbolic shape
// chains, no-op removal, Transpose as Reshape, merged reshapes, zero RNN states, common subexpressions. Each on
// small hand-built graphs: what it rewrites, what it must leave alone because the rewrite would not hold for
// every input size, and that outputs stay the same (at more than one batch size where a dim is symbolic).

#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes/shape_facts.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

int i64(ModelBuilder& b, const std::string& name, std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return b.init(name, Tensor::from_vector<int64_t>({n}, v));
}

// Dim `axis` of x as a 1-element 1-D value, the way PyTorch exports x.size(axis).
int dim_of(ModelBuilder& b, int x, int64_t axis) {
  static int count = 0;
  ++count;
  const int index = b.init(fmt::format("axis_{}", count), Tensor::scalar<int64_t>(axis));
  const int d = b.node("Gather", {b.node("Shape", {x}), index});
  return b.node("Unsqueeze", {d, i64(b, fmt::format("unsqueeze_axes_{}", count), {0})});
}

std::vector<int64_t> constant_input(const ir::Model& m, const ir::Node& n, size_t i) {
  auto it = m.graph->initializers.find(n.inputs.at(i));
  if (it == m.graph->initializers.end()) return {};
  return it->second.to_int64_vector();
}

// The rewritten model must also agree with the original at another size of its symbolic dims.
void expect_same_at(const ir::Model& original, const ir::Model& rewritten, const NamedTensors& feeds) {
  const NamedTensors want = run_unoptimized(original, feeds), got = run_unoptimized(rewritten, feeds);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].second.dims(), want[i].second.dims());
    EXPECT_LE(rel_l2(got[i].second, want[i].second), 1e-6);
  }
}

}  // namespace

TEST(FoldReshapeTargets, SymbolicDimsBecomeZeroOrMinusOneNeverTheirSize) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), 6, 8}));
  // view(batch, 6, 2, 4): batch is x's dim 0, so 0 copies it.
  const int split = b.node("Concat", {dim_of(b, x, 0), i64(b, "six", {6}), i64(b, "two", {2}), i64(b, "four", {4})},
                           {int_attr("axis", 0)});
  b.output(b.node("Reshape", {x, split}));
  // view(batch * 6, 8): no input dim equals batch*6, so -1 infers it.
  const int rows = b.node("Mul", {dim_of(b, x, 0), i64(b, "six_b", {6})});
  b.output(b.node("Reshape", {x, b.node("Concat", {rows, i64(b, "eight", {8})}, {int_attr("axis", 0)})}));
  const ir::Model m = b.build();
  const ir::Model r = apply_and_compare(passes::fold_reshape_targets_pass(), m, random_feed(5, {3, 6, 8}));
  std::vector<std::vector<int64_t>> targets;
  for (const ir::Node& n : r.graph->nodes)
    if (n.op_type == "Reshape") targets.push_back(constant_input(r, n, 1));
  EXPECT_EQ(targets, (std::vector<std::vector<int64_t>>{{0, 6, 2, 4}, {-1, 8}}));
  expect_same_at(m, r, random_feed(5, {5, 6, 8}));
}

TEST(FoldReshapeTargets, LeavesTwoUnknownElementsAndAllowzeroGetsNoCopies) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), Dim::symbol("seq"), 8}));
  // view(seq, batch, 8): neither symbolic element sits where x has it, and only one may be -1.
  b.output(b.node("Reshape", {x, b.node("Concat", {dim_of(b, x, 1), dim_of(b, x, 0), i64(b, "eight", {8})},
                                        {int_attr("axis", 0)})}));
  const ir::Model swapped = b.build();
  apply_and_compare(passes::fold_reshape_targets_pass(), swapped, random_feed(5, {3, 5, 8}), 1e-6, false);

  ModelBuilder z;
  const int y = z.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), 6}));
  z.output(z.node("Reshape", {y, z.node("Concat", {dim_of(z, y, 0), i64(z, "three", {3}), i64(z, "two", {2})},
                                        {int_attr("axis", 0)})},
                  {int_attr("allowzero", 1)}));
  const ir::Model r = apply_and_compare(passes::fold_reshape_targets_pass(), z.build(), random_feed(5, {4, 6}));
  EXPECT_EQ(constant_input(r, *find_node(*r.graph, "Reshape"), 1), (std::vector<int64_t>{-1, 3, 2}));
}

TEST(RemoveNoOps, RemovesNeutralArithmeticSameTypeCastsAndIdentityMoves) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 4}));
  int v = b.node("Mul", {x, b.scalar("one", 1.0f)});
  v = b.node("Add", {b.init("zeros", Tensor::from_vector<float>({4}, {0, 0, 0, 0})), v});
  v = b.node("Div", {v, b.scalar("one_b", 1.0f, true)});
  v = b.node("Cast", {v}, {int_attr("to", 1)});
  v = b.node("Transpose", {v}, {ints_attr("perm", {0, 1})});
  v = b.node("Reshape", {v, b.node("Shape", {x})});  // to its own shape
  b.output(b.node("Relu", {v}));
  ir::Model r = apply_and_compare(passes::remove_no_ops_pass(), b.build(), random_feed(5, {3, 4}));
  EXPECT_EQ(r.graph->nodes.size(), 2u);  // Relu, and the Shape that fed the Reshape (dead now)
  EXPECT_EQ(find_node(*r.graph, "Relu")->inputs[0], r.graph->inputs[0]);
}

TEST(RemoveNoOps, KeepsWhatGrowsChangesTypeOrIsNotNeutral) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({1, 4}));
  b.output(b.node("Mul", {x, b.init("ones3", Tensor::from_vector<float>({2, 1, 4}, std::vector<float>(8, 1.0f)))}));
  b.output(b.node("Add", {x, b.init("zeros34", Tensor::from_vector<float>({3, 4}, std::vector<float>(12, 0.0f)))}));
  b.output(b.node("Div", {b.scalar("one", 1.0f), x}));       // 1 / x is not x
  b.output(b.node("Sub", {b.scalar("zero", 0.0f), x}));      // 0 - x neither
  b.output(b.node("Mul", {x, b.scalar("almost", 1.0001f)}));
  b.output(b.node("Cast", {x}, {int_attr("to", 11)}));       // to double
  b.output(b.node("Transpose", {x}, {ints_attr("perm", {1, 0})}));
  apply_and_compare(passes::remove_no_ops_pass(), b.build(), random_feed(5, {1, 4}), 1e-6, false);
}

TEST(TransposeToReshape, MovesOfSizeOneDimsOnly) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("seq"), 1, 5}));
  b.output(b.node("Transpose", {x}, {ints_attr("perm", {1, 0, 2})}));   // [1, seq, 5]: a reshape
  b.output(b.node("Transpose", {x}, {ints_attr("perm", {2, 1, 0})}));   // swaps seq and 5: stays
  const ir::Model m = b.build();
  const ir::Model r = apply_and_compare(passes::transpose_to_reshape_pass(), m, random_feed(5, {7, 1, 5}));
  EXPECT_EQ(count_ops(*r.graph, "Transpose"), 1u);
  EXPECT_EQ(constant_input(r, *find_node(*r.graph, "Reshape"), 1), (std::vector<int64_t>{1, -1, 5}));
  expect_same_at(m, r, random_feed(5, {2, 1, 5}));

  ModelBuilder u;  // dims whose sizes are not known may be > 1: no rewrite
  const int y = u.input("x", DType::kFloat32, Shape({Dim::symbol("a"), Dim::symbol("b"), 5}));
  u.output(u.node("Transpose", {y}, {ints_attr("perm", {1, 0, 2})}));
  apply_and_compare(passes::transpose_to_reshape_pass(), u.build(), random_feed(5, {1, 3, 5}), 1e-6, false);
}

TEST(MergeReshapes, JoinsChainsAndRewritesCopiedDims) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), 3, 4}));
  const int flat = b.node("Reshape", {x, i64(b, "t1", {0, 12})});
  b.output(b.node("Reshape", {flat, i64(b, "t2", {0, 2, 6})}));   // 0 copies the inner result's batch: x's too
  const int other = b.node("Flatten", {x}, {int_attr("axis", 1)});
  b.output(b.node("Reshape", {other, i64(b, "t3", {-1, 4, 3})}));
  const ir::Model m = b.build();
  const ir::Model r = apply_and_compare(passes::merge_reshapes_pass(), m, random_feed(5, {2, 3, 4}));
  EXPECT_EQ(r.graph->nodes.size(), 2u);
  for (const ir::Node& n : r.graph->nodes) EXPECT_EQ(n.inputs[0], r.graph->inputs[0]);
  expect_same_at(m, r, random_feed(5, {5, 3, 4}));

  ModelBuilder k;  // the inner result is read elsewhere too: both stay
  const int y = k.input("x", DType::kFloat32, Shape({2, 3, 4}));
  const int inner = k.node("Reshape", {y, i64(k, "t1", {6, 4})});
  k.output(k.node("Reshape", {inner, i64(k, "t2", {4, 6})}));
  k.output(k.node("Relu", {inner}));
  apply_and_compare(passes::merge_reshapes_pass(), k.build(), random_feed(5, {2, 3, 4}), 1e-6, false);
}

TEST(RemoveZeroRnnState, DropsProvenZeroStatesAndKeepsOthers) {
  for (const float fill : {0.0f, 0.5f}) {
    SCOPED_TRACE(fill);
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, Shape({5, Dim::symbol("batch"), 4}));
    const int w = b.random_init("w", {1, 9, 4}), r = b.random_init("r", {1, 9, 3}), bias = b.random_init("b", {1, 18});
    const int shape =
        b.node("Concat", {i64(b, "dirs", {1}), dim_of(b, x, 1), i64(b, "hidden", {3})}, {int_attr("axis", 0)});
    std::vector<ir::Attribute> fill_attr;
    if (fill != 0.0f) {  // an explicit value: 0.5 is not the absent state
      ir::Attribute a;
      a.name = "value";
      a.type = ir::AttrType::kTensor;
      a.t = Tensor::from_vector<float>({1}, {fill});
      fill_attr.push_back(a);
    }
    const int h0 = b.node("ConstantOfShape", {shape}, fill_attr);
    const std::vector<int> outs = b.nodes("GRU", {x, w, r, bias, -1, h0}, 2, {int_attr("hidden_size", 3)});
    b.output(outs[0]);
    const ir::Model m = b.build();
    const ir::Model g = apply_and_compare(passes::remove_zero_rnn_state_pass(), m, random_feed(5, {5, 2, 4}), 1e-6, fill == 0.0f);
    EXPECT_EQ(find_node(*g.graph, "GRU")->inputs.size(), fill == 0.0f ? 4u : 6u);
  }
}

TEST(EliminateCommonSubexpressions, MergesEqualNodesAndEqualSmallConstants) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 4}));
  const int a1 = b.node("Add", {x, b.scalar("c1", 2.0f)});
  const int a2 = b.node("Add", {x, b.scalar("c2", 2.0f)});  // another copy of the same constant
  const int a3 = b.node("Add", {x, b.scalar("c3", 3.0f)});
  const int s1 = b.node("Softmax", {a1}, {int_attr("axis", 1)});
  const int s2 = b.node("Softmax", {a2}, {int_attr("axis", 1)});
  const int s3 = b.node("Softmax", {a2}, {int_attr("axis", 0)});  // another attribute
  b.output(b.node("Sum", {s1, s2, s3, a3}));
  const ir::Model r = apply_and_compare(passes::eliminate_common_subexpressions_pass(), b.build(), random_feed(5, {3, 4}));
  EXPECT_EQ(count_ops(*r.graph, "Add"), 2u);
  EXPECT_EQ(count_ops(*r.graph, "Softmax"), 2u);
}

TEST(EliminateCommonSubexpressions, KeepsRandomOpsGraphOutputsAndOverridableInitializers) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({4}));
  b.output(b.node("RandomUniformLike", {x}));
  b.output(b.node("RandomUniformLike", {x}));  // two draws differ
  b.output(b.node("Relu", {x}));
  b.output(b.node("Relu", {x}));               // each graph output keeps its own writer
  const int c1 = b.scalar("c1", 2.0f), c2 = b.scalar("c2", 2.0f);
  b.graph().inputs.push_back(c2);              // the caller may replace c2
  b.output(b.node("Add", {b.node("Mul", {x, c1}), b.node("Mul", {x, c2})}));
  ir::Model m = b.build();
  ir::Model copy = clone_model(m);
  EXPECT_FALSE(passes::eliminate_common_subexpressions_pass().apply(copy));
  EXPECT_EQ(copy.graph->nodes.size(), m.graph->nodes.size());
}

TEST(ScalarizeConstantFills, AFillTheOtherOperandsCoverBecomesAScalar) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 4}));
  const int mask = b.node("Greater", {x, b.scalar("zero", 0.0f)});
  const int zeros = b.node("ConstantOfShape", {b.node("Shape", {mask})});  // as attention exports write it
  b.output(b.node("Where", {mask, b.scalar("minus_inf", -1e30f), zeros}));
  // Grows the result: x is [n, 4], the fill [3, n, 4]; stays.
  const int grown = b.node("ConstantOfShape", {b.node("Concat", {i64(b, "three", {3}), b.node("Shape", {x})},
                                                          {int_attr("axis", 0)})});
  b.output(b.node("Add", {x, grown}));
  const ir::Model m = b.build();
  const ir::Model r = apply_and_compare(passes::scalarize_constant_fills_pass(), m, random_feed(5, {3, 4}));
  const ir::Node* where = find_node(*r.graph, "Where");
  ASSERT_TRUE(r.graph->initializers.count(where->inputs[2]));
  EXPECT_EQ(r.graph->initializers.at(where->inputs[2]).dims().size(), 0u);
  EXPECT_FALSE(r.graph->initializers.count(find_node(*r.graph, "Add")->inputs[1]));
  expect_same_at(m, r, random_feed(5, {6, 4}));
}

TEST(ShortenShapeChains, RebuildsAnExpandSizeFromAShapeSliceOfTheInput) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), 4}));
  const int token = b.random_init("token", {1, 1, 3});
  // PyTorch's token.expand(x.size(0), -1, -1): Where(Equal(sizes, -1), 1, sizes).
  const int sizes = b.node("Reshape", {b.node("Concat", {dim_of(b, x, 0), i64(b, "m1", {-1}), i64(b, "m1b", {-1})},
                                              {int_attr("axis", 0)}),
                                       i64(b, "flat", {-1})});
  const int keep = b.node("Equal", {sizes, i64(b, "minus_ones", {-1, -1, -1})});
  b.output(b.node("Expand", {token, b.node("Where", {keep, i64(b, "ones", {1, 1, 1}), sizes})}));
  // batch * 2 is not a dim of an input: that chain stays.
  const int twice = b.node("Mul", {dim_of(b, x, 0), i64(b, "two", {2})});
  b.output(b.node("Expand", {token, b.node("Concat", {twice, i64(b, "one", {1}), i64(b, "three", {3})},
                                              {int_attr("axis", 0)})}));
  const ir::Model m = b.build();
  ir::Model r = apply_and_compare(passes::shorten_shape_chains_pass(), m, random_feed(5, {2, 4}));
  passes::eliminate_dead_nodes_pass().apply(r);
  EXPECT_EQ(count_ops(*r.graph, "Where"), 0u);
  EXPECT_EQ(count_ops(*r.graph, "Mul"), 1u);
  const ir::Node* slice = find_node(*r.graph, "Shape");
  ASSERT_NE(slice, nullptr);
  EXPECT_EQ(slice->inputs[0], r.graph->inputs[0]);
  EXPECT_EQ(passes::get_int(*slice, "end", 0), 1);
  expect_same_at(m, r, random_feed(5, {5, 4}));
}

TEST(ShapeFactsContents, EqualAndWhereOnSizesClaimOnlyWhatHoldsForEverySize) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), 4}));
  auto expand_sizes = [&](int first) {  // Where(Equal(sizes, -1), 1, sizes) over [first, -1, 4]
    const int sizes = b.node("Concat", {first, i64(b, fmt::format("m1_{}", first), {-1}),
                                        i64(b, fmt::format("four_{}", first), {4})},
                             {int_attr("axis", 0)});
    const int keep = b.node("Equal", {sizes, i64(b, fmt::format("minus_ones_{}", first), {-1, -1, -1})});
    return b.node("Where", {keep, i64(b, fmt::format("ones_{}", first), {1, 1, 1}), sizes});
  };
  const int plain = expand_sizes(dim_of(b, x, 0));
  // batch - 1 is -1 when batch is 0: whether it equals -1 is not known.
  const int less = expand_sizes(b.node("Sub", {dim_of(b, x, 0), i64(b, "one", {1})}));
  b.output(b.node("Expand", {b.random_init("t", {1, 4}), plain}));
  b.output(b.node("Expand", {b.random_init("u", {1, 4}), less}));
  const ir::Model m = b.build();
  const passes::ShapeFacts facts(m);
  ASSERT_TRUE(facts.available());
  const std::vector<passes::DimKey>* p = facts.contents(plain);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[0].str(), "$batch");
  EXPECT_EQ((*p)[1].str(), "1");
  EXPECT_EQ((*p)[2].str(), "4");
  const std::vector<passes::DimKey>* q = facts.contents(less);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE((*q)[0].is_unknown());
  EXPECT_EQ((*q)[1].str(), "1");
}
