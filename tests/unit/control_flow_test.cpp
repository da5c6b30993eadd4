// If, Loop and Scan with a fake SubgraphRunner: each body graph is only a declaration of its inputs and
// outputs, and the test supplies what running it returns. Expected values are worked out by hand from the
// ONNX operator definitions.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "op_test_util.h"
#include "ops/op.h"
#include "runtime/eval_node.h"

namespace kiln::testing {
namespace {

using Body = std::function<std::vector<Tensor>(std::span<const Tensor>)>;

class FakeRunner : public ops::SubgraphRunner {
 public:
  void on(const ir::Graph& g, Body body) { bodies_[&g] = std::move(body); }
  std::vector<Tensor> run(const ir::Graph& graph, std::span<const Tensor> inputs) override {
    calls.push_back(&graph);
    auto it = bodies_.find(&graph);
    if (it == bodies_.end()) throw Error(ErrorCode::kInternal, "fake runner: unknown graph " + graph.name);
    return it->second(inputs);
  }
  std::vector<const ir::Graph*> calls;

 private:
  std::map<const ir::Graph*, Body> bodies_;
};

struct Decl {
  std::string name;
  bool declared = true;
  DType dtype = DType::kFloat32;
  Shape shape = Shape::unknown_rank();
};

std::shared_ptr<ir::Graph> graph(const std::string& name, const std::vector<Decl>& ins, const std::vector<Decl>& outs) {
  auto g = std::make_shared<ir::Graph>();
  g->name = name;
  auto add = [&](const Decl& d, std::vector<int>& list) {
    const int id = g->intern(d.name);
    g->value(id).type.has_type = d.declared;
    g->value(id).type.dtype = d.declared ? d.dtype : DType::kUndefined;
    g->value(id).type.shape = d.declared ? d.shape : Shape::unknown_rank();
    list.push_back(id);
  };
  for (const Decl& d : ins) add(d, g->inputs);
  for (const Decl& d : outs) add(d, g->outputs);
  return g;
}

ir::Attribute graph_attr(const std::string& name, std::shared_ptr<ir::Graph> g) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kGraph;
  a.g = std::move(g);
  return a;
}
ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}
ir::Attribute int_attr(const std::string& name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

// Runs a node whose inputs are `inputs` (undefined: absent) and whose outputs are listed by `want`.
std::vector<Tensor> run(const std::string& op, int opset, std::vector<ir::Attribute> attrs,
                        const std::vector<Tensor>& inputs, const std::vector<bool>& want, FakeRunner& runner) {
  ir::Node node;
  node.op_type = op;
  node.attributes = std::move(attrs);
  std::vector<const Tensor*> ptrs;
  int next = 0;
  for (const Tensor& t : inputs) {
    node.inputs.push_back(t.defined() ? next++ : -1);
    ptrs.push_back(t.defined() ? &t : nullptr);
  }
  for (bool w : want) node.outputs.push_back(w ? next++ : -1);
  return runtime::evaluate_node(node, 0, opset, ptrs, &runner);
}

std::vector<ops::ValueInfo> infer(const std::string& op, int opset, std::vector<ir::Attribute> attrs,
                                  const std::vector<const ops::ValueInfo*>& ins, size_t n_out) {
  ir::Node node;
  node.op_type = op;
  node.attributes = std::move(attrs);
  for (size_t i = 0; i < ins.size(); ++i) node.inputs.push_back(ins[i] ? static_cast<int>(i) : -1);
  for (size_t i = 0; i < n_out; ++i) node.outputs.push_back(static_cast<int>(ins.size() + i));
  std::vector<ops::ValueInfo> outs(n_out);
  ops::InferContext ctx(node, 0, opset, ins, outs);
  ops::find_op("", op)->infer(ctx);
  return outs;
}

Tensor floats(std::vector<int64_t> dims, std::vector<float> v) { return Tensor::from_vector<float>(std::move(dims), v); }
std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

void expect_error(ErrorCode code, const std::function<void()>& f) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
  }
}

// ---- If ----

TEST(If, RunsTheChosenBranchOnly) {
  auto then_g = graph("then", {}, {{"a", true, DType::kFloat32, Shape::from({3})}});
  auto else_g = graph("else", {}, {{"b", true, DType::kFloat32, Shape::from({3})}});
  FakeRunner r;
  r.on(*then_g, [](std::span<const Tensor> in) {
    EXPECT_TRUE(in.empty());
    return std::vector<Tensor>{floats({3}, {1, 2, 3})};
  });
  r.on(*else_g, [](std::span<const Tensor>) { return std::vector<Tensor>{floats({3}, {4, 5, 6})}; });
  const auto attrs = [&] { return std::vector<ir::Attribute>{graph_attr("then_branch", then_g), graph_attr("else_branch", else_g)}; };
  auto out = run("If", 13, attrs(), {Tensor::scalar<bool>(true)}, {true}, r);
  EXPECT_EQ(values(out[0]), (std::vector<float>{1, 2, 3}));
  out = run("If", 13, attrs(), {Tensor::from_vector<bool>({1}, {false})}, {true}, r);
  EXPECT_EQ(values(out[0]), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(r.calls, (std::vector<const ir::Graph*>{then_g.get(), else_g.get()}));
}

TEST(If, BranchesOfDifferentShapes) {
  auto then_g = graph("then", {}, {{"a", true, DType::kFloat32, Shape::from({2})}, {"c", false}});
  auto else_g = graph("else", {}, {{"b", true, DType::kFloat32, Shape::from({3})}, {"d", false}});
  const std::vector<ir::Attribute> attrs{graph_attr("then_branch", then_g), graph_attr("else_branch", else_g)};
  const ops::ValueInfo cond(DType::kBool, Shape::from({}));
  auto infos = infer("If", 13, attrs, {&cond}, 2);
  EXPECT_EQ(infos[0].dtype, DType::kFloat32);
  EXPECT_EQ(infos[0].shape, Shape({Dim()}));
  EXPECT_FALSE(infos[1].shape.rank_known);  // undeclared in both branches
  // A known cond picks one branch's declaration.
  const Tensor f = Tensor::scalar<bool>(false);
  const ops::ValueInfo known(DType::kBool, Shape::from({}), &f);
  infos = infer("If", 13, attrs, {&known}, 2);
  EXPECT_EQ(infos[0].shape, Shape::from({3}));

  FakeRunner r;
  r.on(*else_g, [](std::span<const Tensor>) {
    return std::vector<Tensor>{floats({3}, {7, 8, 9}), Tensor::scalar<int64_t>(5)};
  });
  // The second output is absent from the node: only the first is set.
  auto out = run("If", 16, attrs, {Tensor::scalar<bool>(false)}, {true, false}, r);
  EXPECT_EQ(values(out[0]), (std::vector<float>{7, 8, 9}));
  EXPECT_FALSE(out[1].defined());
  out = run("If", 16, attrs, {Tensor::scalar<bool>(false)}, {true, true}, r);
  EXPECT_EQ(out[1].int_at(0), 5);
}

TEST(If, Refusals) {
  auto then_g = graph("then", {}, {{"a", true, DType::kFloat32, Shape::from({2})}});
  auto else_g = graph("else", {}, {{"b", true, DType::kFloat32, Shape::from({2})}});
  auto two_out = graph("else2", {}, {{"b", false}, {"c", false}});
  FakeRunner r;
  r.on(*then_g, [](std::span<const Tensor>) { return std::vector<Tensor>{floats({3}, {1, 2, 3})}; });  // not [2]
  const std::vector<ir::Attribute> attrs{graph_attr("then_branch", then_g), graph_attr("else_branch", else_g)};
  expect_error(ErrorCode::kInvalidModel, [&] { run("If", 13, attrs, {Tensor::scalar<bool>(true)}, {true}, r); });
  expect_error(ErrorCode::kInvalidModel, [&] { run("If", 13, attrs, {Tensor::scalar<float>(1)}, {true}, r); });
  expect_error(ErrorCode::kInvalidArgument,
               [&] { run("If", 13, attrs, {Tensor::from_vector<bool>({2}, {true, true})}, {true}, r); });
  const std::vector<ir::Attribute> mismatched{graph_attr("then_branch", then_g), graph_attr("else_branch", two_out)};
  expect_error(ErrorCode::kInvalidModel, [&] { run("If", 13, mismatched, {Tensor::scalar<bool>(true)}, {true}, r); });
  expect_error(ErrorCode::kInvalidModel, [&] { run("If", 13, {graph_attr("then_branch", then_g)}, {Tensor::scalar<bool>(true)}, {true}, r); });
}

// ---- Loop ----

// body(i, cond, x) -> (cond, x + i, 10 * x): x is float [2].
std::shared_ptr<ir::Graph> counting_body(bool declare_scan) {
  return graph("body",
               {{"i", true, DType::kInt64, Shape::from({})}, {"cond_in", true, DType::kBool, Shape::from({})},
                {"x_in", true, DType::kFloat32, Shape::from({2})}},
               {{"cond_out", true, DType::kBool, Shape::from({})}, {"x_out", true, DType::kFloat32, Shape::from({2})},
                {"scan", declare_scan, DType::kFloat32, Shape::from({2})}});
}

std::vector<Tensor> counting_step(std::span<const Tensor> in, std::vector<int64_t>& seen) {
  const int64_t i = in[0].int_at(0);
  seen.push_back(i);
  EXPECT_EQ(in[1].dtype(), DType::kBool);
  const Tensor& x = in[2];
  return {in[1], floats({2}, {x.data<float>()[0] + i, x.data<float>()[1] + i}),
          floats({2}, {10 * x.data<float>()[0], 10 * x.data<float>()[1]})};
}

TEST(Loop, ForLoopWithTripCount) {
  auto body = counting_body(true);
  FakeRunner r;
  std::vector<int64_t> seen;
  r.on(*body, [&](std::span<const Tensor> in) { return counting_step(in, seen); });
  auto out = run("Loop", 13, {graph_attr("body", body)}, {Tensor::scalar<int64_t>(4), Tensor(), floats({2}, {1, 2})},
                 {true, true}, r);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(values(out[0]), (std::vector<float>{7, 8}));  // 1+0+1+2+3, 2+0+1+2+3
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{10, 20, 10, 20, 20, 30, 40, 50}));
}

TEST(Loop, WhileLoopStopsOnTheBodysCond) {
  // body(i, cond, x) -> (2x < 10, 2x, 2x) starting at x = 1: x = 2, 4, 8, 16, the last with cond false.
  auto body = graph("body", {{"i", false}, {"c", false}, {"x", false}}, {{"c2", false}, {"x2", false}, {"s", false}});
  FakeRunner r;
  r.on(*body, [](std::span<const Tensor> in) {
    const float x = 2 * in[2].data<float>()[0];
    return std::vector<Tensor>{Tensor::scalar<bool>(x < 10), Tensor::scalar<float>(x), Tensor::scalar<float>(x)};
  });
  auto out = run("Loop", 13, {graph_attr("body", body)}, {Tensor(), Tensor::scalar<bool>(true), Tensor::scalar<float>(1)},
                 {true, true}, r);
  EXPECT_EQ(out[0].data<float>()[0], 16.f);
  EXPECT_EQ(values(out[1]), (std::vector<float>{2, 4, 8, 16}));
  // M and cond together: whichever ends first.
  out = run("Loop", 13, {graph_attr("body", body)},
            {Tensor::scalar<int64_t>(2), Tensor::scalar<bool>(true), Tensor::scalar<float>(1)}, {true, true}, r);
  EXPECT_EQ(values(out[1]), (std::vector<float>{2, 4}));
  // cond false at the start: no iteration.
  out = run("Loop", 13, {graph_attr("body", body)}, {Tensor(), Tensor::scalar<bool>(false), Tensor::scalar<float>(3)},
            {true, false}, r);
  EXPECT_EQ(out[0].data<float>()[0], 3.f);
}

TEST(Loop, ZeroIterations) {
  auto body = counting_body(true);
  FakeRunner r;
  std::vector<int64_t> seen;
  r.on(*body, [&](std::span<const Tensor> in) { return counting_step(in, seen); });
  auto out = run("Loop", 13, {graph_attr("body", body)}, {Tensor::scalar<int64_t>(0), Tensor(), floats({2}, {1, 2})},
                 {true, true}, r);
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(values(out[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{0, 2}));  // the body's declared element shape
  auto undeclared = counting_body(false);
  r.on(*undeclared, [&](std::span<const Tensor> in) { return counting_step(in, seen); });
  expect_error(ErrorCode::kUnsupported, [&] {
    run("Loop", 13, {graph_attr("body", undeclared)}, {Tensor::scalar<int64_t>(0), Tensor(), floats({2}, {1, 2})},
        {true, true}, r);
  });
}

TEST(Loop, Inference) {
  const std::vector<ir::Attribute> attrs{graph_attr("body", counting_body(true))};
  const Tensor m = Tensor::scalar<int64_t>(3);
  const ops::ValueInfo mi(DType::kInt64, Shape::from({}), &m), ci(DType::kBool, Shape::from({}));
  const ops::ValueInfo x(DType::kFloat32, Shape::from({2}));
  auto outs = infer("Loop", 13, attrs, {&mi, nullptr, &x}, 2);
  EXPECT_EQ(outs[0].shape, Shape::from({2}));
  EXPECT_EQ(outs[1].shape, Shape::from({3, 2}));  // M known, no cond: exactly M iterations
  outs = infer("Loop", 13, attrs, {&mi, &ci, &x}, 2);
  EXPECT_EQ(outs[1].shape, Shape({Dim(), Dim(2)}));
  EXPECT_EQ(outs[1].dtype, DType::kFloat32);
  const std::vector<ir::Attribute> undeclared{graph_attr("body", counting_body(false))};
  outs = infer("Loop", 13, undeclared, {&mi, &ci, &x}, 2);
  EXPECT_FALSE(outs[1].shape.rank_known);
}

TEST(Loop, Refusals) {
  auto body = graph("body", {{"i", false}, {"c", false}, {"x", false}}, {{"c2", false}, {"x2", false}, {"s", false}});
  FakeRunner r;
  int calls = 0;
  r.on(*body, [&](std::span<const Tensor> in) {
    ++calls;
    // The scan output grows each iteration: not allowed.
    return std::vector<Tensor>{in[1], in[2], Tensor(DType::kFloat32, {calls})};
  });
  const std::vector<ir::Attribute> attrs{graph_attr("body", body)};
  expect_error(ErrorCode::kInvalidArgument,
               [&] { run("Loop", 13, attrs, {Tensor::scalar<int64_t>(3), Tensor(), Tensor::scalar<float>(0)}, {true, true}, r); });
  expect_error(ErrorCode::kInvalidModel,
               [&] { run("Loop", 13, attrs, {Tensor::scalar<int32_t>(3), Tensor(), Tensor::scalar<float>(0)}, {true, true}, r); });
  expect_error(ErrorCode::kInvalidModel,  // three outputs listed, body gives one carried and one scan
               [&] { run("Loop", 13, attrs, {Tensor::scalar<int64_t>(1), Tensor(), Tensor::scalar<float>(0)}, {true, true, true}, r); });
  // No M and no cond: the loop runs until the runtime stops it (here the runner, after 50 runs).
  auto forever = graph("forever", {{"i", false}, {"c", false}}, {{"c2", false}});
  int runs = 0;
  r.on(*forever, [&](std::span<const Tensor> in) {
    if (++runs > 50) throw Error(ErrorCode::kLimitExceeded, "too many iterations");
    return std::vector<Tensor>{Tensor::scalar<bool>(false)};  // ignored without a cond input
  });
  expect_error(ErrorCode::kLimitExceeded, [&] { run("Loop", 13, {graph_attr("body", forever)}, {Tensor(), Tensor()}, {}, r); });
  EXPECT_EQ(runs, 51);
}

// ---- Scan ----

// body(s, x) -> (s + x, s + x): a running sum over the scanned axis.
std::shared_ptr<ir::Graph> sum_body(Shape elem) {
  return graph("sum", {{"s", true, DType::kFloat32, elem}, {"x", true, DType::kFloat32, elem}},
               {{"s2", true, DType::kFloat32, elem}, {"y", true, DType::kFloat32, elem}});
}
std::vector<Tensor> sum_step(std::span<const Tensor> in) {
  Tensor s(DType::kFloat32, in[0].dims());
  for (int64_t i = 0; i < s.numel(); ++i) s.data<float>()[i] = in[0].data<float>()[i] + in[1].data<float>()[i];
  return {s, s};
}

TEST(Scan, RunningSumForward) {
  auto body = sum_body(Shape::from({2}));
  FakeRunner r;
  r.on(*body, sum_step);
  auto out = run("Scan", 9, {graph_attr("body", body), int_attr("num_scan_inputs", 1)},
                 {floats({2}, {0, 0}), floats({3, 2}, {1, 2, 3, 4, 5, 6})}, {true, true}, r);
  EXPECT_EQ(values(out[0]), (std::vector<float>{9, 12}));
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{1, 2, 4, 6, 9, 12}));
}

TEST(Scan, AxesAndDirections) {
  // X [2, 3] scanned along axis 1 from the end: elements [3,6], [2,5], [1,4]; sums [3,6], [5,11], [6,15].
  // Output along axis 1, prepended: columns in reverse iteration order.
  auto body = sum_body(Shape::from({2}));
  FakeRunner r;
  r.on(*body, sum_step);
  auto out = run("Scan", 11,
                 {graph_attr("body", body), int_attr("num_scan_inputs", 1), ints_attr("scan_input_axes", {-1}),
                  ints_attr("scan_input_directions", {1}), ints_attr("scan_output_axes", {1}),
                  ints_attr("scan_output_directions", {1})},
                 {floats({2}, {0, 0}), floats({2, 3}, {1, 2, 3, 4, 5, 6})}, {true, true}, r);
  EXPECT_EQ(values(out[0]), (std::vector<float>{6, 15}));
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{6, 5, 3, 15, 11, 6}));
}

TEST(Scan, InferenceKeepsTheSequenceSymbol) {
  const std::vector<ir::Attribute> attrs{graph_attr("body", sum_body(Shape::from({2}))), int_attr("num_scan_inputs", 1),
                                         ints_attr("scan_output_axes", {1})};
  const ops::ValueInfo s(DType::kFloat32, Shape::from({2}));
  const ops::ValueInfo x(DType::kFloat32, Shape({Dim::symbol("seq"), Dim(2)}));
  auto outs = infer("Scan", 9, attrs, {&s, &x}, 2);
  EXPECT_EQ(outs[0].shape, Shape::from({2}));
  EXPECT_EQ(outs[1].shape, Shape({Dim(2), Dim::symbol("seq")}));
}

TEST(Scan, StringsAndZeroLength) {
  // body(x) -> (x): a scan output of strings, with no state.
  auto body = graph("id", {{"x", true, DType::kString, Shape::from({})}}, {{"y", true, DType::kString, Shape::from({})}});
  FakeRunner r;
  r.on(*body, [](std::span<const Tensor> in) { return std::vector<Tensor>{in[0]}; });
  const std::vector<ir::Attribute> attrs{graph_attr("body", body), int_attr("num_scan_inputs", 1),
                                         ints_attr("scan_input_directions", {1})};
  auto out = run("Scan", 9, attrs, {Tensor::from_vector<std::string>({3}, {"a", "b", "c"})}, {true}, r);
  EXPECT_EQ(out[0].data<std::string>()[0], "c");
  EXPECT_EQ(out[0].data<std::string>()[2], "a");
  out = run("Scan", 9, attrs, {Tensor(DType::kString, {0})}, {true}, r);
  EXPECT_EQ(out[0].dims(), (std::vector<int64_t>{0}));
}

// Scan-8: batch axis 0 everywhere, each batch entry scanned for its own sequence_lens; scan outputs are
// zero past an entry's length.
TEST(Scan, Scan8RunsEachBatchEntryForItsLength) {
  auto body = graph("sum8", {{"s", false}, {"x", false}}, {{"s2", false}, {"y", false}});
  FakeRunner r;
  r.on(*body, [](std::span<const Tensor> in) {
    Tensor y(DType::kFloat32, in[0].dims());
    for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] = in[0].data<float>()[i] + in[1].data<float>()[i];
    return std::vector<Tensor>{y, y};
  });
  const std::vector<ir::Attribute> attrs{graph_attr("body", body), int_attr("num_scan_inputs", 1)};
  const Tensor x = floats({2, 3, 2}, {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60});
  auto out = run("Scan", 8, attrs, {Tensor::from_vector<int64_t>({2}, {3, 1}), floats({2, 2}, {0, 0, 0, 0}), x},
                 {true, true}, r);
  EXPECT_EQ(values(out[0]), (std::vector<float>{9, 12, 10, 20}));
  EXPECT_EQ(out[1].dims(), (std::vector<int64_t>{2, 3, 2}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{1, 2, 4, 6, 9, 12, 10, 20, 0, 0, 0, 0}));
  // Without sequence_lens every entry runs the whole sequence; directions reverses a scan input.
  out = run("Scan", 8, {graph_attr("body", body), int_attr("num_scan_inputs", 1), ints_attr("directions", {1})},
            {Tensor(), floats({2, 2}, {0, 0, 0, 0}), x}, {true, true}, r);
  EXPECT_EQ(values(out[0]), (std::vector<float>{9, 12, 90, 120}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{5, 6, 8, 10, 9, 12, 50, 60, 80, 100, 90, 120}));
  expect_error(ErrorCode::kInvalidArgument, [&] {  // a length past the sequence
    run("Scan", 8, attrs, {Tensor::from_vector<int64_t>({2}, {4, 1}), floats({2, 2}, {0, 0, 0, 0}), x}, {true, true}, r);
  });
}

TEST(Scan, Refusals) {
  auto body = graph("sum2", {{"s", false}, {"x", false}, {"z", false}}, {{"s2", false}, {"y", false}});
  FakeRunner r;
  r.on(*body, [](std::span<const Tensor> in) { return std::vector<Tensor>{in[0], in[1]}; });
  const std::vector<ir::Attribute> attrs{graph_attr("body", body), int_attr("num_scan_inputs", 2)};
  expect_error(ErrorCode::kInvalidModel, [&] {  // scan inputs of lengths 3 and 2 (inference sees it first)
    run("Scan", 9, attrs, {floats({1}, {0}), floats({3}, {1, 2, 3}), floats({2}, {1, 2})}, {true, true}, r);
  });
  expect_error(ErrorCode::kInvalidModel, [&] {  // Scan-8: the first input is sequence_lens, so one input short
    run("Scan", 8, attrs, {floats({1}, {0}), floats({3}, {1, 2, 3}), floats({3}, {1, 2, 3})}, {true, true}, r);
  });
  expect_error(ErrorCode::kInvalidModel, [&] {
    run("Scan", 9, {graph_attr("body", body), int_attr("num_scan_inputs", 5)},
        {floats({1}, {0}), floats({3}, {1, 2, 3}), floats({3}, {1, 2, 3})}, {true, true}, r);
  });
  expect_error(ErrorCode::kInvalidModel, [&] {
    run("Scan", 9, {graph_attr("body", body), int_attr("num_scan_inputs", 2), ints_attr("scan_input_axes", {0, 3})},
        {floats({1}, {0}), floats({3}, {1, 2, 3}), floats({3}, {1, 2, 3})}, {true, true}, r);
  });
  // A state whose shape changes between iterations.
  auto grow = graph("grow", {{"s", false}, {"x", false}}, {{"s2", false}});
  r.on(*grow, [](std::span<const Tensor> in) { return std::vector<Tensor>{Tensor(DType::kFloat32, {in[0].numel() + 1})}; });
  expect_error(ErrorCode::kInvalidArgument, [&] {
    run("Scan", 9, {graph_attr("body", grow), int_attr("num_scan_inputs", 1)}, {floats({1}, {0}), floats({3}, {1, 2, 3})},
        {true}, r);
  });
}

}  // namespace
}  // namespace kiln::testing
