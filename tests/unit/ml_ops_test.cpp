// ai.onnx.ml ops: Binarizer, ArrayFeatureExtractor, LabelEncoder (1, 2, 4) and TreeEnsemble (5). Expected
// values are worked out by hand from the operator definitions.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ops/op.h"
#include "runtime/eval_node.h"

using namespace kiln;

namespace {

/// One ai.onnx.ml node with attributes, run through inference and its kernel.
class MlCall {
 public:
  MlCall(std::string op, int opset) : opset_(opset) {
    node_.op_type = std::move(op);
    node_.domain = "ai.onnx.ml";
    node_.name = "ml_" + node_.op_type;
  }
  MlCall& i(const std::string& n, int64_t v) { return add(n, ir::AttrType::kInt, [&](auto& a) { a.i = v; }); }
  MlCall& f(const std::string& n, float v) { return add(n, ir::AttrType::kFloat, [&](auto& a) { a.f = v; }); }
  MlCall& s(const std::string& n, std::string v) { return add(n, ir::AttrType::kString, [&](auto& a) { a.s = v; }); }
  MlCall& ints(const std::string& n, std::vector<int64_t> v) {
    return add(n, ir::AttrType::kInts, [&](auto& a) { a.ints = v; });
  }
  MlCall& floats(const std::string& n, std::vector<float> v) {
    return add(n, ir::AttrType::kFloats, [&](auto& a) { a.floats = v; });
  }
  MlCall& strings(const std::string& n, std::vector<std::string> v) {
    return add(n, ir::AttrType::kStrings, [&](auto& a) { a.strings = v; });
  }
  MlCall& tensor(const std::string& n, Tensor v) { return add(n, ir::AttrType::kTensor, [&](auto& a) { a.t = v; }); }

  Tensor run(const std::vector<Tensor>& inputs) {
    std::vector<const Tensor*> ptrs;
    node_.inputs.clear();
    for (size_t k = 0; k < inputs.size(); ++k) {
      ptrs.push_back(&inputs[k]);
      node_.inputs.push_back(static_cast<int>(k));
    }
    node_.outputs = {static_cast<int>(inputs.size())};
    return runtime::evaluate_node(node_, 0, opset_, ptrs).at(0);
  }
  std::optional<ErrorCode> error(const std::vector<Tensor>& inputs) {
    try {
      run(inputs);
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  }

 private:
  template <typename F> MlCall& add(const std::string& n, ir::AttrType type, F set) {
    ir::Attribute a;
    a.name = n;
    a.type = type;
    set(a);
    std::erase_if(node_.attributes, [&](const ir::Attribute& old) { return old.name == n; });  // replace
    node_.attributes.push_back(std::move(a));
    return *this;
  }
  ir::Node node_;
  int opset_;
};

template <typename T> std::vector<T> values(const Tensor& t) { return {t.data<T>(), t.data<T>() + t.numel()}; }
Tensor strs(std::vector<std::string> v) { return Tensor::from_vector<std::string>({static_cast<int64_t>(v.size())}, v); }

TEST(MlBinarizer, GreaterThanThresholdIsOne) {
  const Tensor x = Tensor::from_vector<float>({2, 2}, {0.5f, 1.0f, 1.5f, NAN});
  const Tensor y = MlCall("Binarizer", 1).f("threshold", 1.0f).run({x});
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 0, 1, 0}));
  const Tensor yi = MlCall("Binarizer", 1).run({Tensor::from_vector<int64_t>({3}, {-1, 0, 7})});
  EXPECT_EQ(values<int64_t>(yi), (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(MlCall("Binarizer", 1).error({strs({"a"})}), ErrorCode::kInvalidModel);
}

TEST(MlArrayFeatureExtractor, SelectsAlongTheLastAxis) {
  const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor z = MlCall("ArrayFeatureExtractor", 1).run({x, Tensor::from_vector<int64_t>({3}, {2, 0, 2})});
  EXPECT_EQ(z.dims(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values<float>(z), (std::vector<float>{3, 1, 3, 6, 4, 6}));
  // A 1-D X gives one row.
  const Tensor row = MlCall("ArrayFeatureExtractor", 1).run({strs({"a", "b", "c"}), Tensor::from_vector<int64_t>({1}, {1})});
  EXPECT_EQ(row.dims(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(values<std::string>(row), (std::vector<std::string>{"b"}));
  // Indices outside the last axis are bad input, never a read out of bounds.
  EXPECT_EQ(MlCall("ArrayFeatureExtractor", 1).error({x, Tensor::from_vector<int64_t>({1}, {3})}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(MlCall("ArrayFeatureExtractor", 1).error({x, Tensor::from_vector<int64_t>({1}, {-1})}),
            ErrorCode::kInvalidArgument);
}

TEST(MlLabelEncoder, StringsToIntsWithDefault) {
  const Tensor x = strs({"a", "c", "z", "b"});
  const Tensor y = MlCall("LabelEncoder", 2)
                       .strings("keys_strings", {"a", "b", "c"})
                       .ints("values_int64s", {10, 11, 12})
                       .i("default_int64", 42)
                       .run({x});
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{10, 12, 42, 11}));
  // Without default_int64 the spec's default, -1.
  const Tensor y2 =
      MlCall("LabelEncoder", 2).strings("keys_strings", {"a"}).ints("values_int64s", {5}).run({x});
  EXPECT_EQ(values<int64_t>(y2), (std::vector<int64_t>{5, -1, -1, -1}));
}

TEST(MlLabelEncoder, FloatKeysMatchNaNAndLastRepeatWins) {
  const Tensor x = Tensor::from_vector<float>({4}, {NAN, 1.0f, -0.0f, 2.0f});
  const Tensor y = MlCall("LabelEncoder", 4)
                       .floats("keys_floats", {NAN, 1.0f, 1.0f, 0.0f})
                       .strings("values_strings", {"nan", "first", "second", "zero"})
                       .run({x});
  EXPECT_EQ(values<std::string>(y), (std::vector<std::string>{"nan", "second", "zero", "_Unused"}));
}

TEST(MlLabelEncoder, TensorAttributes) {
  const Tensor y = MlCall("LabelEncoder", 4)
                       .tensor("keys_tensor", strs({"a", "b"}))
                       .tensor("values_tensor", Tensor::from_vector<int16_t>({2}, {7, 8}))
                       .tensor("default_tensor", Tensor::from_vector<int16_t>({1}, {-5}))
                       .run({strs({"b", "q", "a"})});
  EXPECT_EQ(y.dtype(), DType::kInt16);
  EXPECT_EQ(values<int16_t>(y), (std::vector<int16_t>{8, -5, 7}));
  // int32 keys to double values; the default for float values is -0.0.
  const Tensor d = MlCall("LabelEncoder", 4)
                       .tensor("keys_tensor", Tensor::from_vector<int32_t>({1}, {3}))
                       .tensor("values_tensor", Tensor::from_vector<double>({1}, {0.5}))
                       .run({Tensor::from_vector<int32_t>({2}, {3, 4})});
  EXPECT_EQ(values<double>(d)[0], 0.5);
  EXPECT_TRUE(std::signbit(values<double>(d)[1]));
}

TEST(MlLabelEncoder, VersionOneMapsBothWays) {
  const Tensor ids = MlCall("LabelEncoder", 1).strings("classes_strings", {"x", "y"}).run({strs({"y", "x", "w"})});
  EXPECT_EQ(values<int64_t>(ids), (std::vector<int64_t>{1, 0, -1}));
  const Tensor names = MlCall("LabelEncoder", 1)
                           .strings("classes_strings", {"x", "y"})
                           .s("default_string", "?")
                           .run({Tensor::from_vector<int64_t>({3}, {1, 5, 0})});
  EXPECT_EQ(values<std::string>(names), (std::vector<std::string>{"y", "?", "x"}));
}

TEST(MlLabelEncoder, Errors) {
  const Tensor x = strs({"a"});
  // Keys and values of different lengths; two keys_* attributes; X of another type than the keys.
  EXPECT_EQ(MlCall("LabelEncoder", 2).strings("keys_strings", {"a", "b"}).ints("values_int64s", {1}).error({x}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(MlCall("LabelEncoder", 2)
                .strings("keys_strings", {"a"})
                .ints("keys_int64s", {1})
                .ints("values_int64s", {1})
                .error({x}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(MlCall("LabelEncoder", 2).ints("keys_int64s", {1}).ints("values_int64s", {1}).error({x}),
            ErrorCode::kInvalidModel);
  // default_tensor of another type than the values.
  EXPECT_EQ(MlCall("LabelEncoder", 4)
                .strings("keys_strings", {"a"})
                .tensor("values_tensor", Tensor::from_vector<int16_t>({1}, {1}))
                .tensor("default_tensor", Tensor::from_vector<int64_t>({1}, {1}))
                .error({x}),
            ErrorCode::kInvalidModel);
}

// One tree: node 0 tests feature 0 <= 1 (true: leaf 0, false: node 1); node 1 tests feature 1 in {2, 3}
// (true: leaf 1, false: leaf 2). Leaves 0 and 2 feed target 0, leaf 1 target 1.
MlCall small_tree(int64_t aggregate, int64_t post = 0) {
  MlCall c("TreeEnsemble", 5);
  c.i("n_targets", 2)
      .i("aggregate_function", aggregate)
      .i("post_transform", post)
      .ints("tree_roots", {0})
      .ints("nodes_featureids", {0, 1})
      .tensor("nodes_modes", Tensor::from_vector<uint8_t>({2}, {0, 6}))
      .tensor("nodes_splits", Tensor::from_vector<float>({2}, {1, 0}))
      .ints("nodes_truenodeids", {0, 1})
      .ints("nodes_trueleafs", {1, 1})
      .ints("nodes_falsenodeids", {1, 2})
      .ints("nodes_falseleafs", {0, 1})
      .tensor("membership_values", Tensor::from_vector<float>({3}, {2, 3, NAN}))
      .ints("leaf_targetids", {0, 1, 0})
      .tensor("leaf_weights", Tensor::from_vector<float>({3}, {10, 20, 30}));
  return c;
}

TEST(MlTreeEnsemble, WalksTheTreeAndAggregatesPerTarget) {
  const Tensor x = Tensor::from_vector<float>({3, 2}, {0, 0, 5, 3, 5, 4});
  const Tensor y = small_tree(1).run({x});
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{10, 0, 0, 20, 30, 0}));
  // MAX leaves a target no tree reached at the type's lowest value.
  const Tensor m = small_tree(3).run({x});
  EXPECT_EQ(values<float>(m)[1], -std::numeric_limits<float>::max());
  // LOGISTIC post transform.
  const Tensor l = small_tree(1, 2).run({x});
  EXPECT_NEAR(values<float>(l)[0], 1 / (1 + std::exp(-10.0)), 1e-6);
  EXPECT_NEAR(values<float>(l)[1], 0.5, 1e-6);
}

TEST(MlTreeEnsemble, MissingValuesFollowTheirTrack) {
  const Tensor x = Tensor::from_vector<float>({1, 2}, {NAN, 0});
  EXPECT_EQ(values<float>(small_tree(1).run({x}))[0], 30);  // NaN <= 1 is false: node 1, then leaf 2
  MlCall c = small_tree(1);
  c.ints("nodes_missing_value_tracks_true", {1, 0});
  EXPECT_EQ(values<float>(c.run({x}))[0], 10);  // NaN follows the true branch of node 0
}

TEST(MlTreeEnsemble, RejectsMalformedTrees) {
  const Tensor x = Tensor::from_vector<float>({1, 2}, {0, 0});
  // A branch that points back at its own node is a cycle, not a tree.
  MlCall cycle("TreeEnsemble", 5);
  cycle.i("n_targets", 1)
      .ints("tree_roots", {0})
      .ints("nodes_featureids", {0})
      .tensor("nodes_modes", Tensor::from_vector<uint8_t>({1}, {0}))
      .tensor("nodes_splits", Tensor::from_vector<float>({1}, {1}))
      .ints("nodes_truenodeids", {0})
      .ints("nodes_trueleafs", {0})
      .ints("nodes_falsenodeids", {0})
      .ints("nodes_falseleafs", {1})
      .ints("leaf_targetids", {0})
      .tensor("leaf_weights", Tensor::from_vector<float>({1}, {1}));
  EXPECT_EQ(cycle.error({x}), ErrorCode::kInvalidModel);
  // A leaf index past leaf_weights; a target past n_targets; a feature X does not have.
  EXPECT_EQ(small_tree(1).ints("leaf_targetids", {0, 1, 2}).error({x}), ErrorCode::kInvalidModel);
  MlCall far = small_tree(1);
  far.ints("nodes_falsenodeids", {1, 3});
  EXPECT_EQ(far.error({x}), ErrorCode::kInvalidModel);
  EXPECT_EQ(small_tree(1).run({x}).numel(), 2);
  EXPECT_NE(small_tree(1).error({Tensor::from_vector<float>({1, 1}, {0})}), std::nullopt);
}

}  // namespace
