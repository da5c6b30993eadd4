#pragma once
// Helpers for the graph-pass tests: a small model builder, deep copies, a check that re-validates the graph and
// re-runs inference after every pass, and running a model with passes off to compare outputs. The fused ops the
// passes produce run through their registered kernels (prepared fast paths included), so every comparison is
// end to end.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "api/session_impl.h"
#include "nn_test_util.h"
#include "ir/graph.h"
#include "passes/pipeline.h"
#include "passes/rewrite_util.h"

namespace kiln::testing {

class ModelBuilder {
 public:
  explicit ModelBuilder(int opset = 17);
  /// A graph input with a declared type.
  int input(const std::string& name, DType t, Shape shape);
  /// An initializer (a constant the caller cannot replace).
  int init(const std::string& name, Tensor t);
  /// A float32 initializer with uniform values in [lo, hi).
  int random_init(const std::string& name, std::vector<int64_t> dims, float lo = -1, float hi = 1);
  /// A scalar float32 initializer.
  int scalar(const std::string& name, float v, bool rank1 = false);
  /// Adds a node and returns its output ids (named "<node name>_out<i>").
  std::vector<int> nodes(const std::string& op, std::vector<int> inputs, size_t outputs,
                         std::vector<ir::Attribute> attrs = {}, const std::string& domain = "");
  /// Adds a one-output node and returns its output id.
  int node(const std::string& op, std::vector<int> inputs, std::vector<ir::Attribute> attrs = {},
           const std::string& domain = "") {
    return nodes(op, std::move(inputs), 1, std::move(attrs), domain).at(0);
  }
  void output(int v) { model_.graph->outputs.push_back(v); }
  ir::Graph& graph() { return *model_.graph; }
  /// A deep copy of the model built so far.
  ir::Model build() const;

 private:
  ir::Model model_;
  std::mt19937 rng_{7};
  int counter_ = 0;
};

/// A copy that shares no graph with `m` (passes edit graphs in place).
ir::Model clone_model(const ir::Model& m);
/// Nodes of `op_type` in `domain` in the top-level graph.
size_t count_ops(const ir::Graph& g, const std::string& op_type, const std::string& domain = "");
/// The first node of `op_type` in `domain`, or nullptr.
const ir::Node* find_node(const ir::Graph& g, const std::string& op_type, const std::string& domain = "");

/// One input `name` of random floats of `dims`, from a generator seeded with `seed` (the same feed every call).
inline NamedTensors random_feed(uint32_t seed, std::vector<int64_t> dims, const std::string& name = "x") {
  std::mt19937 rng(seed);
  return {{name, random_tensor(std::move(dims), rng)}};
}

/// Validates the graph, checks node names are unique, and plans it (full inference) at the shapes of `feeds`;
/// fails the test on any error.
void expect_valid_and_inferable(const ir::Model& m, const NamedTensors& feeds, const std::string& what);
/// Pipeline options whose after_each runs expect_valid_and_inferable after every pass.
passes::PipelineOptions checked_pipeline(const NamedTensors& feeds);

/// Runs `m` as it is (no passes) on `feeds`.
NamedTensors run_unoptimized(const ir::Model& m, const NamedTensors& feeds);
/// Runs `pass` alone on a copy of `m`, checks the graph after it, and expects every output within the relative
/// L2 error `tol` of the original's. Returns the rewritten model for structural checks.
ir::Model apply_and_compare(const passes::Pass& pass, const ir::Model& m, const NamedTensors& feeds,
                            double tol = 1e-5, bool expect_change = true);
/// Relative L2 error ||got - want|| / max(||want||, tiny) (integers compared the same way, as doubles).
double rel_l2(const Tensor& got, const Tensor& want);

ir::Attribute ints_attr(const std::string& name, std::vector<int64_t> v);
ir::Attribute int_attr(const std::string& name, int64_t v);
/// A Conv of x with random weights [out, in / group, k, k] and a bias, stride `stride`, pads k / 2.
int same_padded_conv(ModelBuilder& b, int x, int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t group = 1);
ir::Attribute float_attr(const std::string& name, float v);
ir::Attribute string_attr(const std::string& name, const std::string& v);

}  // namespace kiln::testing
