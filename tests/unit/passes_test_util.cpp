#include "passes_test_util.h"

#include <cmath>
#include <unordered_set>

#include "nn_test_util.h"
#include "runtime/plan.h"

namespace kiln::testing {

ModelBuilder::ModelBuilder(int opset) {
  model_.ir_version = 8;
  model_.opsets = {{"", opset}};
  model_.graph = std::make_shared<ir::Graph>();
  model_.graph->name = "test";
}

int ModelBuilder::input(const std::string& name, DType t, Shape shape) {
  ir::Graph& g = *model_.graph;
  const int id = g.intern(name);
  g.value(id).type = {ir::ValueKind::kTensor, t, std::move(shape), true, nullptr};
  g.inputs.push_back(id);
  return id;
}

int ModelBuilder::init(const std::string& name, Tensor t) {
  ir::Graph& g = *model_.graph;
  const int id = g.intern(name);
  g.value(id).type = {ir::ValueKind::kTensor, t.dtype(), Shape::from(t.dims()), true, nullptr};
  g.initializers[id] = std::move(t);
  return id;
}

int ModelBuilder::random_init(const std::string& name, std::vector<int64_t> dims, float lo, float hi) {
  Tensor t(DType::kFloat32, std::move(dims));
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng_);
  return init(name, std::move(t));
}

int ModelBuilder::scalar(const std::string& name, float v, bool rank1) {
  return init(name, rank1 ? Tensor::from_vector<float>({1}, {v}) : Tensor::scalar<float>(v));
}

std::vector<int> ModelBuilder::nodes(const std::string& op, std::vector<int> inputs, size_t outputs,
                                     std::vector<ir::Attribute> attrs, const std::string& domain) {
  ir::Graph& g = *model_.graph;
  ir::Node n;
  n.name = op + "_" + std::to_string(counter_++);
  n.op_type = op;
  n.domain = domain;
  n.inputs = std::move(inputs);
  n.attributes = std::move(attrs);
  for (size_t i = 0; i < outputs; ++i) n.outputs.push_back(g.intern(n.name + "_out" + std::to_string(i)));
  std::vector<int> outs = n.outputs;
  g.nodes.push_back(std::move(n));
  return outs;
}

ir::Model ModelBuilder::build() const { return clone_model(model_); }

ir::Model clone_model(const ir::Model& m) {
  ir::Model c = m;
  if (m.graph) c.graph = std::make_shared<ir::Graph>(*m.graph);
  return c;
}

size_t count_ops(const ir::Graph& g, const std::string& op_type, const std::string& domain) {
  size_t n = 0;
  for (const ir::Node& node : g.nodes) n += node.op_type == op_type && node.domain == domain;
  return n;
}

const ir::Node* find_node(const ir::Graph& g, const std::string& op_type, const std::string& domain) {
  for (const ir::Node& node : g.nodes)
    if (node.op_type == op_type && node.domain == domain) return &node;
  return nullptr;
}

void expect_valid_and_inferable(const ir::Model& m, const NamedTensors& feeds, const std::string& what) {
  try {
    ir::validate(*m.graph);
    runtime::OpsetTable opsets{m.opsets};
    std::unordered_map<int, ops::ValueInfo> fed;
    for (const auto& [name, t] : feeds) fed[m.graph->find(name)] = ops::ValueInfo::of(t, false);
    auto plan = runtime::Plan::build(*m.graph, opsets, fed, runtime::Limits{});
    for (int o : m.graph->outputs)
      if (!plan->constant(o) && plan->infos()[static_cast<size_t>(o)].dtype == DType::kUndefined)
        ADD_FAILURE() << what << ": output '" << m.graph->value(o).name << "' has no inferred type";
    // ONNX (and ONNX Runtime, which loads kiln optimize's output) wants node names unique.
    std::unordered_set<std::string> names;
    for (const ir::Node& n : m.graph->nodes)
      if (!n.name.empty() && !names.insert(n.name).second) ADD_FAILURE() << what << ": two nodes named " << n.name;
  } catch (const Error& e) {
    ADD_FAILURE() << what << ": " << e.what();
  }
}

passes::PipelineOptions checked_pipeline(const NamedTensors& feeds) {
  passes::PipelineOptions o;
  o.after_each = [feeds](const passes::Pass& pass, const ir::Model& m) {
    expect_valid_and_inferable(m, feeds, "after pass " + std::string(pass.name()));
  };
  return o;
}

NamedTensors run_unoptimized(const ir::Model& m, const NamedTensors& feeds) {
  SessionOptions options;
  options.graph_optimization_level = 0;
  Session s(std::make_shared<Session::Impl>(clone_model(m), options));
  return s.run(feeds);
}

double rel_l2(const Tensor& got, const Tensor& want) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double w = want.double_at(i), d = got.double_at(i) - w;
    diff += d * d;
    norm += w * w;
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

ir::Model apply_and_compare(const passes::Pass& pass, const ir::Model& m, const NamedTensors& feeds, double tol,
                            bool expect_change) {
  ir::Model rewritten = clone_model(m);
  const bool changed = pass.apply(rewritten);
  EXPECT_EQ(changed, expect_change) << pass.name();
  expect_valid_and_inferable(rewritten, feeds, std::string(pass.name()));
  if (::testing::Test::HasFailure()) return rewritten;
  const NamedTensors want = run_unoptimized(m, feeds);
  const NamedTensors got = run_unoptimized(rewritten, feeds);
  EXPECT_EQ(got.size(), want.size());
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.dims(), want[i].second.dims()) << want[i].first;
    EXPECT_EQ(got[i].second.dtype(), want[i].second.dtype()) << want[i].first;
    if (got[i].second.dims() == want[i].second.dims()) {
      EXPECT_LE(rel_l2(got[i].second, want[i].second), tol) << "output " << want[i].first << " after " << pass.name();
    }
  }
  return rewritten;
}

ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v) { return passes::attr_ints(name, std::move(v)); }
ir::Attribute int_attr(const std::string& name, int64_t v) { return passes::attr_int(name, v); }
ir::Attribute float_attr(const std::string& name, float v) { return passes::attr_float(name, v); }
ir::Attribute string_attr(const std::string& name, const std::string& v) { return passes::attr_string(name, v); }

int same_padded_conv(ModelBuilder& b, int x, int64_t in, int64_t out, int64_t k, int64_t stride, int64_t group) {
  const std::string id = std::to_string(b.graph().values.size());
  const int w = b.random_init("w" + id, {out, in / group, k, k}, -0.5, 0.5);
  const int bias = b.random_init("b" + id, {out});
  const int64_t p = k / 2;
  return b.node("Conv", {x, w, bias},
                {ints_attr("strides", {stride, stride}), ints_attr("pads", {p, p, p, p}), int_attr("group", group)});
}

}  // namespace kiln::testing
