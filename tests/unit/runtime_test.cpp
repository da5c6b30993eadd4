// Plan, memory planner and executor on hand-built graphs with two test-only ops (domain "kiln.test").

#include <gtest/gtest.h>

#include "api/session_impl.h"
#include "runtime/input_check.h"
#include "runtime/memory_planner.h"
#include "runtime/plan.h"

using namespace kiln;

namespace {

// AddOne: y = x + 1 (float). Counts kernel calls so tests can see what was folded.
int g_add_one_calls = 0;
void infer_add_one(ops::InferContext& ctx) { ctx.set_output(0, ctx.input_type(0), ctx.input_shape(0)); }
void compute_add_one(ops::KernelContext& ctx) {
  ++g_add_one_calls;
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  for (int64_t i = 0; i < x.numel(); ++i) y.data<float>()[i] = x.data<float>()[i] + 1;
}
KILN_REGISTER_OP(test_add_one, {"kiln.test", "AddOne", {1}, 0, infer_add_one, compute_add_one});

// Dims: reads only the input's dims and returns them as int64 (like Shape).
void infer_dims(ops::InferContext& ctx) {
  ctx.set_output(0, DType::kInt64, Shape({Dim(static_cast<int64_t>(ctx.input_shape(0).rank()))}));
}
void compute_dims(ops::KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  for (size_t i = 0; i < ctx.input(0).rank(); ++i) y.data<int64_t>()[i] = ctx.input(0).dim(i);
}
KILN_REGISTER_OP(test_dims, {"kiln.test", "Dims", {1}, 0, infer_dims, compute_dims, true});

// NeedsType: y = x, but inference refuses an input whose element type is not known (as MatMul does).
void infer_needs_type(ops::InferContext& ctx) {
  if (ctx.input_type(0) == DType::kUndefined) ctx.unsupported("the input's element type is not known");
  ctx.set_output(0, ctx.input_type(0), ctx.input_shape(0));
}
void compute_needs_type(ops::KernelContext& ctx) {
  for (int64_t i = 0; i < ctx.input(0).numel(); ++i) ctx.output(0).data<float>()[i] = ctx.input(0).data<float>()[i];
}
KILN_REGISTER_OP(test_needs_type, {"kiln.test", "NeedsType", {1}, 0, infer_needs_type, compute_needs_type});

ir::Model chain_model(int length) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}, {"kiln.test", 1}};
  m.graph = std::make_shared<ir::Graph>();
  ir::Graph& g = *m.graph;
  int x = g.intern("x");
  g.value(x).type = {ir::ValueKind::kTensor, DType::kFloat32, Shape({Dim::symbol("n")}), true, nullptr};
  g.inputs.push_back(x);
  int prev = x;
  for (int i = 0; i < length; ++i) {
    ir::Node node;
    node.op_type = "AddOne";
    node.domain = "kiln.test";
    node.name = "add" + std::to_string(i);
    node.inputs = {prev};
    prev = g.intern("v" + std::to_string(i));
    node.outputs = {prev};
    g.nodes.push_back(node);
  }
  g.outputs.push_back(prev);
  return m;
}

}  // namespace

TEST(MemoryPlanner, ReusesDeadBuffersAndNeverOverlapsLiveOnes) {
  // A chain: each buffer dies when the next is written, so two slots suffice.
  std::vector<runtime::BufferRequest> reqs;
  for (int s = 0; s < 6; ++s) reqs.push_back({1000, s, s + 1});
  runtime::MemoryPlan plan = runtime::plan_memory(reqs);
  EXPECT_LE(plan.arena_bytes, 2 * 1024u);
  for (size_t a = 0; a < reqs.size(); ++a)
    for (size_t b = a + 1; b < reqs.size(); ++b) {
      bool overlap_time = reqs[a].first_step <= reqs[b].last_step && reqs[b].first_step <= reqs[a].last_step;
      bool overlap_space = plan.offsets[a] < plan.offsets[b] + 1024 && plan.offsets[b] < plan.offsets[a] + 1024;
      EXPECT_FALSE(overlap_time && overlap_space) << a << " and " << b;
    }
}

TEST(Session, RunsAChainAndReportsPeakMemory) {
  auto impl = std::make_shared<Session::Impl>(chain_model(10), SessionOptions{});
  ASSERT_EQ(impl->inputs.size(), 1u);
  EXPECT_EQ(impl->inputs[0].shape.str(), "[n]");
  ir::Model m = chain_model(10);
  (void)m;
  std::unordered_map<int, ops::ValueInfo> fed{{0, {DType::kFloat32, Shape({Dim(1000)}), nullptr}}};
  auto plan = impl->plan_for(*impl->model.graph, fed, nullptr);
  // 9 intermediates of 4000 bytes each, alive two at a time.
  EXPECT_GE(plan->arena_bytes(), 2 * 4000u);
  EXPECT_LE(plan->arena_bytes(), 2 * 4032u);
}

TEST(Session, FoldsShapeOnlyChainsAtPlanTime) {
  ir::Model m = chain_model(0);
  ir::Graph& g = *m.graph;
  ir::Node dims;
  dims.op_type = "Dims";
  dims.domain = "kiln.test";
  dims.inputs = {g.find("x")};
  dims.outputs = {g.intern("d")};
  g.nodes.push_back(dims);
  g.outputs = {g.find("d")};
  auto impl = std::make_shared<Session::Impl>(std::move(m), SessionOptions{});
  std::unordered_map<int, ops::ValueInfo> fed{{0, {DType::kFloat32, Shape({Dim(7)}), nullptr}}};
  auto plan = impl->plan_for(*impl->model.graph, fed, nullptr);
  EXPECT_EQ(plan->steps().size(), 0u);
  ASSERT_NE(plan->constant(impl->model.graph->find("d")), nullptr);
  EXPECT_EQ(plan->constant(impl->model.graph->find("d"))->data<int64_t>()[0], 7);
}

namespace {

// A branch graph that declares nothing: `adds` AddOne nodes on the outer value x.
std::shared_ptr<ir::Graph> untyped_branch(const std::string& name, int adds) {
  auto b = std::make_shared<ir::Graph>();
  b->name = name;
  int prev = b->intern("x");
  b->outer_refs.push_back(prev);
  for (int i = 0; i < adds; ++i) {
    ir::Node n;
    n.op_type = "AddOne";
    n.domain = "kiln.test";
    n.inputs = {prev};
    prev = b->intern(name + std::to_string(i));
    n.outputs = {prev};
    b->nodes.push_back(n);
  }
  b->outputs = {prev};
  return b;
}

// z = NeedsType(If(cond, then: x + 1, else: x + 2)), with cond a constant or a graph input.
ir::Model untyped_if_model(bool cond_is_input) {
  ir::Model m = chain_model(0);
  ir::Graph& g = *m.graph;
  const int cond = g.intern("cond");
  if (cond_is_input) {
    g.value(cond).type = {ir::ValueKind::kTensor, DType::kBool, Shape(std::vector<Dim>{}), true, nullptr};
    g.inputs.push_back(cond);
  } else {
    g.initializers[cond] = Tensor::scalar<bool>(true);
  }
  ir::Node node_if;
  node_if.op_type = "If";
  node_if.name = "if";
  node_if.inputs = {cond};
  node_if.outputs = {g.intern("y")};
  for (auto [attr, branch] : {std::pair{"then_branch", untyped_branch("then", 1)}, {"else_branch", untyped_branch("else", 2)}}) {
    ir::Attribute a;
    a.name = attr;
    a.type = ir::AttrType::kGraph;
    a.g = branch;
    node_if.attributes.push_back(a);
  }
  g.nodes.push_back(node_if);
  ir::Node strict;
  strict.op_type = "NeedsType";
  strict.domain = "kiln.test";
  strict.inputs = {g.find("y")};
  strict.outputs = {g.intern("z")};
  g.nodes.push_back(strict);
  g.outputs = {g.find("z")};
  return m;
}

}  // namespace

TEST(Session, InfersUntypedIfBranchesAtPlanTime) {
  for (bool cond_is_input : {false, true}) {
    auto impl = std::make_shared<Session::Impl>(untyped_if_model(cond_is_input), SessionOptions{});
    const ir::Graph& g = *impl->model.graph;
    std::unordered_map<int, ops::ValueInfo> fed{{g.find("x"), {DType::kFloat32, Shape({Dim(3)}), nullptr}}};
    if (cond_is_input) fed[g.find("cond")] = {DType::kBool, Shape(std::vector<Dim>{}), nullptr};
    auto plan = impl->plan_for(g, fed, nullptr);
    const ops::ValueInfo& y = plan->infos()[static_cast<size_t>(g.find("y"))];
    EXPECT_EQ(y.dtype, DType::kFloat32) << cond_is_input;
    EXPECT_EQ(y.shape, Shape({Dim(3)})) << cond_is_input;

    Session s(impl);
    NamedTensors feeds{{"x", Tensor::from_vector<float>({3}, {1, 2, 3})}};
    if (cond_is_input) feeds.emplace_back("cond", Tensor::scalar<bool>(false));
    NamedTensors out = s.run(feeds);
    const float first = cond_is_input ? 3 : 2;  // else adds 2, then adds 1
    EXPECT_EQ(out[0].second.data<float>()[0], first) << cond_is_input;
    EXPECT_EQ(out[0].second.data<float>()[2], first + 2) << cond_is_input;
  }
}

TEST(Session, RefusesUnknownOpsListingEveryNode) {
  ir::Model m = chain_model(3);
  m.graph->nodes[0].op_type = "NoSuchOp";
  m.graph->nodes[2].op_type = "NoSuchOp";
  try {
    Session::Impl impl(std::move(m), SessionOptions{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    std::string msg = e.what();
    EXPECT_NE(msg.find("NoSuchOp x2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'add0'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'add2'"), std::string::npos) << msg;
  }
}

TEST(Session, RunChecksFeedsAndComputes) {
  Session s(std::make_shared<Session::Impl>(chain_model(5), SessionOptions{}));
  Tensor x = Tensor::from_vector<float>({3}, {1, 2, 3});
  RunStats stats;
  NamedTensors out = s.run({{"x", x}}, {}, &stats);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first, "v4");
  EXPECT_EQ(out[0].second.data<float>()[0], 6);
  EXPECT_EQ(out[0].second.data<float>()[2], 8);
  EXPECT_FALSE(stats.plan_reused);
  EXPECT_EQ(stats.steps, 5u);
  s.run({{"x", x}}, {}, &stats);
  EXPECT_TRUE(stats.plan_reused);

  try {
    s.run({{"x", Tensor::from_vector<int64_t>({3}, {1, 2, 3})}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expects element type float but was fed int64"), std::string::npos);
  }
  try {
    s.run({});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x'"), std::string::npos) << e.what();
  }
  try {
    s.run({{"y", x}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'y' is not an input"), std::string::npos) << e.what();
  }
}

TEST(Session, CancelledRunStops) {
  Session s(std::make_shared<Session::Impl>(chain_model(5), SessionOptions{}));
  std::atomic<bool> cancel{true};
  RunOptions opts;
  opts.cancel = &cancel;
  try {
    s.run({{"x", Tensor::from_vector<float>({1}, {0})}}, opts);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
}

TEST(InputCheck, FixedDimExplainsDynamicAxes) {
  ir::Value v;
  v.name = "inputs";
  v.type = {ir::ValueKind::kTensor, DType::kFloat32, Shape({Dim(1), Dim(3), Dim(960), Dim(960)}), true, nullptr};
  runtime::SymbolBindings sym;
  try {
    runtime::check_input(v, DType::kFloat32, {1, 3, 3680, 960}, sym);
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("input 'inputs' dim 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("960"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3680"), std::string::npos) << msg;
    EXPECT_NE(msg.find("dynamic_axes"), std::string::npos) << msg;
  }
}

TEST(InputCheck, MissingParametersExplainExportParams) {
  ir::Graph g;
  for (const char* n : {"input", "conv1.weight", "conv1.bias", "bn1.running_mean"}) g.inputs.push_back(g.intern(n));
  try {
    runtime::report_missing_inputs(g, {1, 2, 3});
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("export_params=False"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 graph inputs"), std::string::npos) << msg;
    EXPECT_NE(msg.find("conv1.weight"), std::string::npos) << msg;
  }
}

namespace {

// Appends node `op` (of `domain`) reading the values named `in` and writing a new value `out` (also its name).
ir::Node& add_node(ir::Graph& g, std::string op, std::string domain, const std::vector<std::string>& in,
                   const std::string& out) {
  ir::Node n;
  n.op_type = std::move(op);
  n.domain = std::move(domain);
  n.name = out;
  for (const auto& i : in) n.inputs.push_back(g.find(i));
  n.outputs = {g.intern(out)};
  g.nodes.push_back(n);
  return g.nodes.back();
}

// x[n] -> a = AddOne(x) -> b = Flatten(a) (a view) ; c = AddOne(x) ; d = AddOne(b) ; out = AddOne(d), c kept too.
// Without the view keeping a's memory alive until b's last reader, c could be written over a before d reads b.
ir::Model view_model() {
  ir::Model m = chain_model(0);
  ir::Graph& g = *m.graph;
  g.value(g.find("x")).type.shape = Shape({Dim::symbol("n"), Dim(1)});
  auto node = [&](std::string op, std::string domain, std::vector<std::string> in, std::string out) -> ir::Node& {
    return add_node(g, std::move(op), std::move(domain), in, out);
  };
  node("AddOne", "kiln.test", {"x"}, "a");
  node("Flatten", "", {"a"}, "b");
  node("AddOne", "kiln.test", {"x"}, "c");
  node("AddOne", "kiln.test", {"b"}, "d");
  node("AddOne", "kiln.test", {"d"}, "out");
  node("AddOne", "kiln.test", {"c"}, "out2");
  g.outputs = {g.find("out"), g.find("out2")};
  return m;
}

// x[n, 3, 4] -> a = AddOne(x) -> b = Transpose(a, perm [1, 0, 2]) -> out = AddOne(b); c = AddOne(a) read after b.
ir::Model transpose_view_model() {
  ir::Model m = chain_model(0);
  ir::Graph& g = *m.graph;
  g.value(g.find("x")).type.shape = Shape({Dim::symbol("n"), Dim(3), Dim(4)});
  auto node = [&](std::string op, std::string domain, std::vector<std::string> in, std::string out) -> ir::Node& {
    return add_node(g, std::move(op), std::move(domain), in, out);
  };
  node("AddOne", "kiln.test", {"x"}, "a");
  ir::Attribute perm;
  perm.name = "perm";
  perm.type = ir::AttrType::kInts;
  perm.ints = {1, 0, 2};
  node("Transpose", "", {"a"}, "b").attributes.push_back(perm);
  node("AddOne", "kiln.test", {"b"}, "out");
  node("AddOne", "kiln.test", {"a"}, "out2");
  g.outputs = {g.find("out"), g.find("out2")};
  return m;
}

}  // namespace

TEST(Session, TransposeOfSizeOneDimsIsAViewOthersCopy) {
  // perm [1, 0, 2] of [1, 3, 4] keeps the elements in order: the step views its input (no memory, no copy);
  // of [2, 3, 4] it moves them. Both runs give the transposed values, also in a second run on the same state.
  Session s(std::make_shared<Session::Impl>(transpose_view_model(), SessionOptions{}));
  for (int64_t n : {1, 2, 1}) {
    Tensor x(DType::kFloat32, {n, 3, 4});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i);
    for (int run = 0; run < 2; ++run) {
      NamedTensors out = s.run({{"x", x}});
      ASSERT_EQ(out.size(), 2u);
      ASSERT_EQ(out[0].second.dims(), (std::vector<int64_t>{3, n, 4}));
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t k = 0; k < 4; ++k)
            ASSERT_EQ(out[0].second.data<float>()[(i * n + j) * 4 + k], static_cast<float>((j * 3 + i) * 4 + k + 2))
                << "n " << n << " run " << run;
      for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(out[1].second.data<float>()[i], static_cast<float>(i + 2));
    }
    std::unordered_map<int, ops::ValueInfo> fed{{0, {DType::kFloat32, Shape({Dim(n), Dim(3), Dim(4)}), nullptr}}};
    const Session::Impl& impl = s.impl();
    auto plan = const_cast<Session::Impl&>(impl).plan_for(*impl.model.graph, fed, nullptr);
    int views = 0;
    for (const auto& step : plan->steps()) views += step.view_of_input;
    EXPECT_EQ(views, n == 1 ? 1 : 0) << "n " << n;
    if (n == 1) EXPECT_LT(plan->arena_offset(impl.model.graph->find("b")), 0) << "a view has no memory of its own";
  }
}

TEST(Session, ReshapeLikeStepsViewTheirInputAndKeepItAlive) {
  Session s(std::make_shared<Session::Impl>(view_model(), SessionOptions{}));
  Tensor x(DType::kFloat32, {1000, 1});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i);
  for (int run = 0; run < 2; ++run) {  // the second run reuses the first run's state and views
    NamedTensors out = s.run({{"x", x}});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].second.dims(), (std::vector<int64_t>{1000, 1}));
    for (int64_t i = 0; i < 1000; ++i) {
      ASSERT_EQ(out[0].second.data<float>()[i], static_cast<float>(i + 3)) << "run " << run << " element " << i;
      ASSERT_EQ(out[1].second.data<float>()[i], static_cast<float>(i + 2)) << "run " << run << " element " << i;
    }
  }
  std::unordered_map<int, ops::ValueInfo> fed{{0, {DType::kFloat32, Shape({Dim(1000), Dim(1)}), nullptr}}};
  const Session::Impl& impl = s.impl();
  auto plan = const_cast<Session::Impl&>(impl).plan_for(*impl.model.graph, fed, nullptr);
  int views = 0;
  for (const auto& step : plan->steps()) views += step.view_of_input;
  EXPECT_EQ(views, 1) << "the Flatten step should be a view";
  EXPECT_LT(plan->arena_offset(impl.model.graph->find("b")), 0) << "a view has no memory of its own";
}
