// The cleanup and folding passes (level 1) and the pipeline itself, each on small hand-built graphs: what each
// rewrites, what it must leave alone, and that outputs stay the same.

#include <gtest/gtest.h>

#include "api/session_impl.h"
#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes/pipeline.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

}  // namespace

TEST(RemoveIdentity, ReadersReadTheInputAndGraphOutputsKeepTheirNames) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 4}));
  const int w = b.random_init("w", {4});
  const int wi = b.node("Identity", {w});           // exporters wrap shared weights like this
  const int r = b.node("Relu", {b.node("Identity", {x})});
  const int y = b.node("Add", {r, wi});
  const int out = b.node("Identity", {y});          // graph output behind an Identity
  b.output(out);
  ir::Model m = apply_and_compare(passes::remove_identity_pass(), b.build(), random_feed(3, {3, 4}));
  EXPECT_EQ(count_ops(*m.graph, "Identity"), 0u);
  EXPECT_EQ(m.graph->value(m.graph->outputs[0]).name, "Identity_4_out0");
  EXPECT_EQ(find_node(*m.graph, "Add")->outputs[0], m.graph->outputs[0]);  // the Add writes the output now
}

TEST(RemoveIdentity, KeepsAnInputPassedStraightToAnOutputAndTwoOutputsOfOneValue) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({2}));
  b.output(b.node("Identity", {x}));  // nothing else can write this output
  const int r = b.node("Relu", {x});
  b.output(b.node("Identity", {r}));
  b.output(b.node("Identity", {r}));  // the second output of the same value keeps its Identity
  ir::Model m = apply_and_compare(passes::remove_identity_pass(), b.build(), random_feed(3, {2}));
  EXPECT_EQ(count_ops(*m.graph, "Identity"), 2u);
}

TEST(RemoveIdentity, NeverTouchesAValueASubgraphReadsByName) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({2}));
  const int cond = b.init("cond", Tensor::scalar<bool>(true));
  const int id = b.node("Identity", {x});
  auto branch = std::make_shared<ir::Graph>();
  branch->name = "then";
  const int outer = branch->intern(b.graph().value(id).name);
  branch->outer_refs.push_back(outer);
  ir::Node relu;
  relu.op_type = "Relu";
  relu.inputs = {outer};
  relu.outputs = {branch->intern("then_out")};
  branch->nodes.push_back(relu);
  branch->outputs = {relu.outputs[0]};
  ir::Attribute then_branch, else_branch;
  then_branch.name = "then_branch";
  then_branch.type = ir::AttrType::kGraph;
  then_branch.g = branch;
  else_branch = then_branch;
  else_branch.name = "else_branch";
  b.output(b.node("If", {cond}, {then_branch, else_branch}));
  const ir::Model m = b.build();
  ir::Model copy = clone_model(m);
  EXPECT_FALSE(passes::remove_identity_pass().apply(copy));
  EXPECT_EQ(count_ops(*copy.graph, "Identity"), 1u);
}

TEST(RemoveDropout, RemovesInferenceDropoutKeepsTrainingAndReadMasks) {
  ModelBuilder b(13);
  const int x = b.input("x", DType::kFloat32, Shape({2, 3}));
  const int no = b.init("no", Tensor::scalar<bool>(false));
  const int ratio = b.scalar("ratio", 0.5f);
  const int d1 = b.node("Dropout", {x});
  const int d2 = b.node("Dropout", {d1, ratio, no});
  const std::vector<int> d3 = b.nodes("Dropout", {d2}, 2);  // its mask is a graph output: kept
  const int flag = b.input("training", DType::kBool, Shape(std::vector<Dim>{}));
  const int d4 = b.node("Dropout", {d3[0], ratio, flag});  // a fed flag: kept (the kernel refuses training)
  b.output(d4);
  b.output(d3[1]);
  NamedTensors feeds = random_feed(3, {2, 3});
  feeds.emplace_back("training", Tensor::scalar<bool>(false));
  ir::Model m = apply_and_compare(passes::remove_dropout_pass(), b.build(), feeds);
  EXPECT_EQ(count_ops(*m.graph, "Dropout"), 2u);
}

TEST(FoldConstants, FoldsChainsOfAnySizeIntoInitializers) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 300}));
  const int w = b.random_init("w", {400, 300});  // stored [out, in]: Transpose at load, as some exports do
  const int wt = b.node("Transpose", {w}, {ints_attr("perm", {1, 0})});
  const int two = b.scalar("two", 2.0f);
  const int w2 = b.node("Mul", {wt, two});
  b.output(b.node("MatMul", {x, w2}));
  ir::Model m = apply_and_compare(passes::fold_constants_pass(), b.build(), random_feed(3, {2, 300}));
  ASSERT_EQ(m.graph->nodes.size(), 1u);  // 120000 elements: far above the plan's own folding limit
  const int folded = m.graph->nodes[0].inputs[1];
  ASSERT_TRUE(m.graph->initializers.count(folded));
  EXPECT_EQ(m.graph->initializers.at(folded).dims(), (std::vector<int64_t>{300, 400}));
}

TEST(FoldConstants, LeavesRandomOpsOverridableInitializersGraphOutputsAndGrowth) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({2, 2}));
  const int r = b.node("RandomUniform", {}, {ints_attr("shape", {2, 2}), int_attr("dtype", 1)});
  const int k = b.random_init("k", {2, 2});
  b.graph().inputs.push_back(k);  // an initializer the caller may replace
  const int kk = b.node("Neg", {k});
  const int big_shape = b.init("shape", Tensor::from_vector<int64_t>({2}, {1024, 1024}));
  const int big = b.node("ConstantOfShape", {big_shape});  // 4 MiB from 16 bytes
  const int c = b.random_init("c", {2, 2});
  const int out_c = b.node("Neg", {c});  // a graph output: stays a node
  b.output(b.node("Add", {b.node("Add", {x, r}), kk}));
  b.output(b.node("ReduceSum", {big}, {int_attr("keepdims", 0)}));
  b.output(out_c);
  ir::Model m = b.build();
  EXPECT_FALSE(passes::fold_constants_pass().apply(m));
}

TEST(FoldConstants, ConstantNodesBecomeInitializersAndBadNodesStayForTheirError) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({3}));
  ir::Attribute value;
  value.name = "value";
  value.type = ir::AttrType::kTensor;
  value.t = Tensor::from_vector<float>({3}, {1, 2, 3});
  const int c = b.node("Constant", {}, {value});
  const int bad_shape = b.init("bad_shape", Tensor::from_vector<int64_t>({1}, {5}));
  const int bad = b.node("Reshape", {c, bad_shape});  // 3 elements into 5: the run reports it, naming the node
  b.output(b.node("Add", {x, c}));
  b.output(bad);
  ir::Model m = b.build();
  EXPECT_TRUE(passes::fold_constants_pass().apply(m));
  EXPECT_EQ(count_ops(*m.graph, "Constant"), 0u);
  EXPECT_EQ(count_ops(*m.graph, "Reshape"), 1u);
}

TEST(EliminateDeadNodes, RemovesUnreadChainsAndTheirInitializers) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({4}));
  const int w = b.random_init("w", {4});
  b.node("Relu", {b.node("Mul", {x, w})});  // read by nothing
  b.output(b.node("Sigmoid", {x}));
  ir::Model m = apply_and_compare(passes::eliminate_dead_nodes_pass(), b.build(), random_feed(3, {4}));
  EXPECT_EQ(m.graph->nodes.size(), 1u);
  EXPECT_TRUE(m.graph->initializers.empty());
}

TEST(FoldConvBatchNorm, FoldsIntoNewWeightsAndLeavesTheOriginalsUntouched) {
  for (bool conv_bias : {false, true}) {
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 3, Dim::symbol("h"), Dim::symbol("w")}));
    const int w = b.random_init("w", {8, 3, 3, 3});
    std::vector<int> conv_in = {x, w};
    if (conv_bias) conv_in.push_back(b.random_init("b", {8}));
    const int y = b.node("Conv", conv_in, {ints_attr("pads", {1, 1, 1, 1})});
    const int bn = b.node("BatchNormalization", {y, b.random_init("s", {8}, 0.5, 2), b.random_init("bb", {8}),
                                                 b.random_init("m", {8}), b.random_init("v", {8}, 0.1, 2)},
                          {float_attr("epsilon", 1e-3f)});
    b.output(b.node("Relu", {bn}));
    const ir::Model before = b.build();
    const Tensor original_w = before.graph->initializers.at(w).clone();
    ir::Model m = apply_and_compare(passes::fold_conv_batchnorm_pass(), before, random_feed(3, {2, 3, 7, 6}));
    EXPECT_EQ(count_ops(*m.graph, "BatchNormalization"), 0u);
    ASSERT_NE(find_node(*m.graph, "Conv"), nullptr);
    EXPECT_EQ(find_node(*m.graph, "Conv")->name, "Conv_0");  // errors still name the user's node
    EXPECT_EQ(rel_l2(before.graph->initializers.at(w), original_w), 0.0);
  }
}

// ConvTranspose's weight is [C_in, C_out/group, k...]: output channel c's weights are W[i, c % (C_out/group)] for
// the input channels i of c's group, which a fold that scaled W[c] (as for Conv) would get wrong.
TEST(FoldConvBatchNorm, FoldsIntoAGroupedConvTranspose) {
  for (int64_t group : {1, 2}) {
    ModelBuilder b;
    const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 4, Dim::symbol("h"), Dim::symbol("w")}));
    const int w = b.random_init("w", {4, 3, 3, 3});  // C_in 4, C_out/group 3: C_out = 3 * group
    const int64_t out = 3 * group;
    const int y = b.node("ConvTranspose", {x, w, b.random_init("b", {out})},
                         {ints_attr("strides", {2, 2}), ints_attr("pads", {1, 1, 1, 1}), int_attr("group", group)});
    const int bn = b.node("BatchNormalization", {y, b.random_init("s", {out}, 0.5, 2), b.random_init("bb", {out}),
                                                 b.random_init("m", {out}), b.random_init("v", {out}, 0.1, 2)});
    b.output(b.node("Relu", {bn}));
    ir::Model m = apply_and_compare(passes::fold_conv_batchnorm_pass(), b.build(), random_feed(3, {2, 4, 5, 6}));
    EXPECT_EQ(count_ops(*m.graph, "BatchNormalization"), 0u) << "group " << group;
    EXPECT_NE(find_node(*m.graph, "ConvTranspose"), nullptr);
  }
}

TEST(FoldConvBatchNorm, KeepsBatchNormWhenTheConvOutputIsReadElsewhereOrStatisticsAreNotConstant) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({1, 2, 4, 4}));
  const int w = b.random_init("w", {2, 2, 1, 1});
  const int y = b.node("Conv", {x, w});
  const int s = b.random_init("s", {2}), bb = b.random_init("bb", {2}), mean = b.random_init("m", {2});
  const int v = b.random_init("v", {2}, 0.5, 1);
  b.output(b.node("BatchNormalization", {y, s, bb, mean, v}));
  b.output(y);  // the conv output is also a graph output
  const int y2 = b.node("Conv", {x, w});
  const int fed_var = b.input("var", DType::kFloat32, Shape({2}));  // not a constant
  b.output(b.node("BatchNormalization", {y2, s, bb, mean, fed_var}));
  ir::Model m = b.build();
  EXPECT_FALSE(passes::fold_conv_batchnorm_pass().apply(m));
}

TEST(Pipeline, LevelsDisabledPassesAndUnknownNames) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({4}));
  b.output(b.node("Relu", {b.node("Identity", {x})}));
  const ir::Model m = b.build();
  ir::Model none = clone_model(m);
  passes::PipelineOptions off;
  off.level = passes::Level::kNone;
  EXPECT_TRUE(passes::optimize(none, off).empty());
  EXPECT_EQ(none.graph->nodes.size(), 2u);
  ir::Model disabled = clone_model(m);
  passes::PipelineOptions some;
  some.disabled = {"remove_identity"};
  passes::optimize(disabled, some);
  EXPECT_EQ(disabled.graph->nodes.size(), 2u);
  ir::Model typo = clone_model(m);
  passes::PipelineOptions bad;
  bad.disabled = {"remove_identiy"};
  try {
    passes::optimize(typo, bad);
    ADD_FAILURE() << "an unknown pass name was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("remove_identity"), std::string::npos) << e.what();
  }
  ir::Model all = clone_model(m);
  passes::optimize(all, checked_pipeline(random_feed(3, {4})));
  EXPECT_EQ(all.graph->nodes.size(), 1u);
}

TEST(Pipeline, EveryPassHasANameAReasonAndAnExplanation) {
  for (const passes::PipelineEntry& e : passes::pipeline()) {
    EXPECT_FALSE(e.pass->name().empty());
    EXPECT_FALSE(e.pass->why().empty()) << e.pass->name();
    EXPECT_FALSE(e.reason.empty()) << e.pass->name();
    EXPECT_EQ(passes::find_pass(e.pass->name()), e.pass);
  }
}

TEST(SessionPasses, OptionsReachThePipelineAndBadModelsAreRefusedAsBefore) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({4}));
  b.output(b.node("Identity", {b.node("Relu", {b.node("Identity", {x})})}));
  SessionOptions o;
  auto optimized = std::make_shared<Session::Impl>(b.build(), o);
  EXPECT_EQ(optimized->model.graph->nodes.size(), 1u);
  EXPECT_EQ(optimized->outputs[0].name, "Identity_2_out0");
  o.graph_optimization_level = 0;
  EXPECT_EQ(std::make_shared<Session::Impl>(b.build(), o)->model.graph->nodes.size(), 3u);
  o.graph_optimization_level = 2;
  o.disabled_passes = {"no_such_pass"};
  EXPECT_THROW(std::make_shared<Session::Impl>(b.build(), o), Error);
  // An unsupported op is refused by name before any pass runs.
  ModelBuilder bad;
  const int y = bad.input("y", DType::kFloat32, Shape({4}));
  bad.output(bad.node("NoSuchOp", {bad.node("Identity", {y})}));
  try {
    std::make_shared<Session::Impl>(bad.build(), SessionOptions{});
    ADD_FAILURE() << "an unsupported op was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NoSuchOp"), std::string::npos) << e.what();
  }
}

TEST(FoldConstants, ShapeArithmeticOnFixedDimsFoldsAndSymbolicDimsStay) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), 5, 64}));
  const int shape = b.node("Shape", {x});
  auto dim = [&](int64_t i) { return b.node("Gather", {shape, b.init(fmt::format("i{}", i), Tensor::scalar<int64_t>(i))}); };
  const int width = b.node("Cast", {dim(2)}, {int_attr("to", 1)});  // 64: fixed by the model
  const int scale = b.node("Pow", {width, b.scalar("neg_half", -0.5f)});
  const int batch = b.node("Cast", {dim(0)}, {int_attr("to", 1)});   // symbolic: stays
  b.output(b.node("Mul", {b.node("Mul", {x, scale}), batch}));
  ir::Model m = apply_and_compare(passes::fold_constants_pass(), b.build(), random_feed(3, {3, 5, 64}));
  EXPECT_EQ(count_ops(*m.graph, "Pow"), 0u);
  EXPECT_EQ(count_ops(*m.graph, "Gather"), 1u);  // the batch dim's
  const int folded = find_node(*m.graph, "Mul")->inputs[1];
  ASSERT_TRUE(m.graph->initializers.count(folded));
  EXPECT_FLOAT_EQ(m.graph->initializers.at(folded).data<float>()[0], 0.125f);
}
