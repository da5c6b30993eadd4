// TreeEnsemble (ai.onnx.ml opset 5): decision trees over the features of each row of X [N, F], whose leaf
// weights are aggregated per target into Y [N, n_targets], then optionally transformed.
//
// The trees come as parallel attribute arrays: nodes_* describe interior nodes (a comparison of one feature
// with a split value or, for BRANCH_MEMBER, a set), each branch naming either another node or a leaf, and
// leaf_* give each leaf's weight and target. Everything is checked once when the node is read (lengths,
// every index in range, no tree reaching a node twice), so that walking a tree cannot leave the arrays or
// loop forever.

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum Mode : int { kLeq, kLt, kGte, kGt, kEq, kNeq, kMember };
enum Aggregate : int { kAverage, kSum, kMin, kMax };
enum PostTransform : int { kNone, kSoftmax, kLogistic, kSoftmaxZero, kProbit };

struct TreeNode {
  Mode mode = kLeq;
  int64_t feature = 0;
  double split = 0;
  bool missing_goes_true = false;
  int64_t next[2] = {0, 0};     ///< false branch, true branch
  bool is_leaf[2] = {false, false};
  std::vector<double> members;  ///< BRANCH_MEMBER's set
};

struct Ensemble {
  std::vector<TreeNode> nodes;
  std::vector<double> leaf_weight;
  std::vector<int64_t> leaf_target;
  std::vector<int64_t> roots;
  int64_t n_targets = 0;
  int64_t max_feature = -1;
  Aggregate aggregate = kSum;
  PostTransform post = kNone;
};

std::vector<double> tensor_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.double_at(i);
  return v;
}

/// Fails unless every tree is a tree: from its root, no node is reached twice (which also rules out cycles).
void check_acyclic(const NodeContext& ctx, const Ensemble& e) {
  std::vector<int64_t> seen_in(e.nodes.size(), -1);  // the tree that last reached each node
  std::vector<int64_t> todo;
  for (size_t t = 0; t < e.roots.size(); ++t) {
    todo.assign(1, e.roots[t]);
    while (!todo.empty()) {
      const int64_t n = todo.back();
      todo.pop_back();
      if (seen_in[static_cast<size_t>(n)] == static_cast<int64_t>(t))
        ctx.fail("tree {} (root node {}) reaches node {} twice; the nodes_* branches must form trees", t,
                 e.roots[t], n);
      seen_in[static_cast<size_t>(n)] = static_cast<int64_t>(t);
      const TreeNode& node = e.nodes[static_cast<size_t>(n)];
      for (int b = 0; b < 2; ++b)
        if (!node.is_leaf[b]) todo.push_back(node.next[b]);
    }
  }
}

Ensemble read_ensemble(const NodeContext& ctx) {
  Ensemble e;
  const std::vector<int64_t> features = ctx.attr_ints("nodes_featureids");
  const std::vector<int64_t> true_ids = ctx.attr_ints("nodes_truenodeids");
  const std::vector<int64_t> false_ids = ctx.attr_ints("nodes_falsenodeids");
  const std::vector<int64_t> true_leafs = ctx.attr_ints("nodes_trueleafs");
  const std::vector<int64_t> false_leafs = ctx.attr_ints("nodes_falseleafs");
  const std::vector<int64_t> missing = ctx.attr_ints("nodes_missing_value_tracks_true");
  const std::vector<double> splits = tensor_doubles(ctx.attr_tensor("nodes_splits"));
  const Tensor& modes = ctx.attr_tensor("nodes_modes");
  const size_t n = features.size();
  if (modes.dtype() != DType::kUInt8) ctx.fail("nodes_modes must be a uint8 tensor, not {}", dtype_name(modes.dtype()));
  for (const auto& [name, size] : {std::pair{"nodes_truenodeids", true_ids.size()}, {"nodes_falsenodeids", false_ids.size()},
                                   {"nodes_trueleafs", true_leafs.size()}, {"nodes_falseleafs", false_leafs.size()},
                                   {"nodes_splits", splits.size()}, {"nodes_modes", static_cast<size_t>(modes.numel())}})
    if (size != n) ctx.fail("{} has {} entries but nodes_featureids has {}: every nodes_* must be as long", name, size, n);
  if (!missing.empty() && missing.size() != n)
    ctx.fail("nodes_missing_value_tracks_true has {} entries for {} nodes", missing.size(), n);

  e.leaf_weight = tensor_doubles(ctx.attr_tensor("leaf_weights"));
  e.leaf_target = ctx.attr_ints("leaf_targetids");
  if (e.leaf_target.size() != e.leaf_weight.size())
    ctx.fail("leaf_targetids has {} entries but leaf_weights {}", e.leaf_target.size(), e.leaf_weight.size());
  e.n_targets = ctx.attr_int("n_targets");
  if (e.n_targets <= 0) ctx.fail("n_targets must be positive, not {}", e.n_targets);
  for (size_t i = 0; i < e.leaf_target.size(); ++i)
    if (e.leaf_target[i] < 0 || e.leaf_target[i] >= e.n_targets)
      ctx.fail("leaf {} targets {}, outside [0, n_targets={})", i, e.leaf_target[i], e.n_targets);

  const int64_t agg = ctx.attr_int("aggregate_function", kSum);
  if (agg < kAverage || agg > kMax) ctx.fail("aggregate_function must be 0..3 (AVERAGE, SUM, MIN, MAX), not {}", agg);
  e.aggregate = static_cast<Aggregate>(agg);
  const int64_t post = ctx.attr_int("post_transform", kNone);
  if (post < kNone || post > kProbit)
    ctx.fail("post_transform must be 0..4 (NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT), not {}", post);
  e.post = static_cast<PostTransform>(post);

  // Set members come in node order, one NaN-terminated run per BRANCH_MEMBER node.
  std::vector<double> members;
  if (ctx.has_attr("membership_values")) members = tensor_doubles(ctx.attr_tensor("membership_values"));
  size_t member_at = 0;
  e.nodes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    TreeNode& node = e.nodes[i];
    const uint8_t mode = modes.data<uint8_t>()[i];
    if (mode > kMember) ctx.fail("node {} has mode {}; modes are 0..6 (BRANCH_LEQ .. BRANCH_MEMBER)", i, mode);
    node.mode = static_cast<Mode>(mode);
    node.feature = features[i];
    if (node.feature < 0) ctx.fail("node {} reads feature {}, which is negative", i, node.feature);
    e.max_feature = std::max(e.max_feature, node.feature);
    node.split = splits[i];
    node.missing_goes_true = !missing.empty() && missing[i] != 0;
    node.next[0] = false_ids[i];
    node.next[1] = true_ids[i];
    node.is_leaf[0] = false_leafs[i] != 0;
    node.is_leaf[1] = true_leafs[i] != 0;
    for (int b = 0; b < 2; ++b) {
      const size_t limit = node.is_leaf[b] ? e.leaf_weight.size() : n;
      if (node.next[b] < 0 || static_cast<size_t>(node.next[b]) >= limit)
        ctx.fail("node {}'s {} branch points at {} {}, outside [0, {})", i, b ? "true" : "false",
                 node.is_leaf[b] ? "leaf" : "node", node.next[b], limit);
    }
    if (node.mode == kMember) {
      if (member_at >= members.size())
        ctx.fail("node {} is BRANCH_MEMBER but membership_values has no set left for it", i);
      while (member_at < members.size() && !std::isnan(members[member_at])) node.members.push_back(members[member_at++]);
      ++member_at;  // the NaN closing the set
    }
  }
  e.roots = ctx.attr_ints("tree_roots");
  if (e.roots.empty()) ctx.fail("tree_roots is empty: the ensemble has no trees");
  for (int64_t r : e.roots)
    if (r < 0 || static_cast<size_t>(r) >= n) ctx.fail("tree root {} is outside the {} nodes", r, n);
  check_acyclic(ctx, e);
  return e;
}

bool goes_true(const TreeNode& node, double x) {
  if (std::isnan(x) && node.missing_goes_true) return true;
  switch (node.mode) {
    case kLeq: return x <= node.split;
    case kLt: return x < node.split;
    case kGte: return x >= node.split;
    case kGt: return x > node.split;
    case kEq: return x == node.split;
    case kNeq: return x != node.split;
    case kMember:
      for (double m : node.members)
        if (x == m) return true;
      return false;
  }
  return false;
}

/// The leaf that row `x` reaches in the tree rooted at `root` (check_acyclic bounds the walk).
int64_t find_leaf(const Ensemble& e, int64_t root, const double* x) {
  int64_t at = root;
  while (true) {
    const TreeNode& node = e.nodes[static_cast<size_t>(at)];
    const int b = goes_true(node, x[node.feature]) ? 1 : 0;
    if (node.is_leaf[b]) return node.next[b];
    at = node.next[b];
  }
}

/// sqrt(2) * erfinv(2p - 1): the inverse of the standard normal distribution, refined by Newton's method
/// on std::erf from a closed-form first guess.
double probit(double p) {
  if (!(p > 0) || !(p < 1)) return p == 0 ? -std::numeric_limits<double>::infinity()
                                          : p == 1 ? std::numeric_limits<double>::infinity()
                                                   : std::numeric_limits<double>::quiet_NaN();
  const double y = 2 * p - 1;
  const double a = 0.147, ln = std::log(1 - y * y), t = 2 / (std::numbers::pi * a) + ln / 2;
  double z = std::copysign(std::sqrt(std::sqrt(t * t - ln / a) - t), y);  // erfinv(y), roughly
  for (int i = 0; i < 3; ++i) z -= (std::erf(z) - y) / (2 / std::sqrt(std::numbers::pi) * std::exp(-z * z));
  return std::numbers::sqrt2 * z;
}

void transform_row(PostTransform post, double* v, int64_t n) {
  switch (post) {
    case kNone: return;
    case kLogistic:
      for (int64_t i = 0; i < n; ++i) v[i] = 1 / (1 + std::exp(-v[i]));
      return;
    case kProbit:
      for (int64_t i = 0; i < n; ++i) v[i] = probit(v[i]);
      return;
    case kSoftmax:
    case kSoftmaxZero: {  // SOFTMAX_ZERO leaves zeros at zero and spreads the mass over the other values
      const bool skip_zero = post == kSoftmaxZero;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < n; ++i)
        if (!(skip_zero && v[i] == 0)) mx = std::max(mx, v[i]);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        v[i] = skip_zero && v[i] == 0 ? 0 : std::exp(v[i] - mx);
        sum += v[i];
      }
      for (int64_t i = 0; i < n; ++i) v[i] = sum == 0 ? 0 : v[i] / sum;
      return;
    }
  }
}

/// The largest finite value of float type T.
template <typename T> double largest() {
  if constexpr (std::is_same_v<T, Float16>) return 65504.0;
  else if constexpr (std::is_same_v<T, BFloat16>) return 3.3895313892515355e38;
  else return static_cast<double>(std::numeric_limits<T>::max());
}

void infer_tree_ensemble(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (t != DType::kUndefined && t != DType::kFloat32 && t != DType::kFloat64 && t != DType::kFloat16)
    ctx.fail("X must be float, double or float16, not {}", dtype_name(t));
  const Ensemble e = read_ensemble(ctx);
  const Shape& x = ctx.input_shape(0);
  if (x.rank_known && x.rank() != 2) ctx.fail("X must be 2-D [batch, features], but it is {}", x.str());
  if (x.rank_known && x.dims[1].is_known() && e.max_feature >= x.dims[1].value())
    ctx.fail("the trees read feature {}, but X {} has {} features", e.max_feature, x.str(), x.dims[1].value());
  ctx.set_output(0, t, Shape({x.rank_known ? x.dims[0] : Dim(), Dim(e.n_targets)}));
}

void compute_tree_ensemble(KernelContext& ctx) {
  const Ensemble e = read_ensemble(ctx);
  const Tensor& x = ctx.input(0);
  if (x.rank() != 2) ctx.bad_input("X must be 2-D [batch, features], but it is {}", dims_str(x.dims()));
  const int64_t rows = x.dim(0), features = x.dim(1);
  if (e.max_feature >= features)
    ctx.bad_input("the trees read feature {}, but X {} has {} features", e.max_feature, dims_str(x.dims()), features);
  const double start = e.aggregate == kMin   ? std::numeric_limits<double>::infinity()
                       : e.aggregate == kMax ? -std::numeric_limits<double>::infinity()
                                             : 0.0;
  const auto trees = static_cast<double>(e.roots.size());
  std::vector<double> row(static_cast<size_t>(features)), out(static_cast<size_t>(e.n_targets));
  std::vector<char> reached(static_cast<size_t>(e.n_targets));
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* res = y.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t f = 0; f < features; ++f) row[static_cast<size_t>(f)] = to_double(in[r * features + f]);
      std::fill(out.begin(), out.end(), start);
      std::fill(reached.begin(), reached.end(), 0);
      for (int64_t root : e.roots) {
        const auto leaf = static_cast<size_t>(find_leaf(e, root, row.data()));
        const auto target = static_cast<size_t>(e.leaf_target[leaf]);
        const double w = e.leaf_weight[leaf];
        reached[target] = 1;
        switch (e.aggregate) {
          case kSum: out[target] += w; break;
          case kAverage: out[target] += w / trees; break;
          case kMin: out[target] = std::min(out[target], w); break;
          case kMax: out[target] = std::max(out[target], w); break;
        }
      }
      // A target no tree reached stays 0 for SUM and AVERAGE; for MIN and MAX it keeps the extreme of the
      // output type, as the reference fills it.
      for (size_t k = 0; k < out.size(); ++k)
        if (!reached[k] && (e.aggregate == kMin || e.aggregate == kMax))
          out[k] = e.aggregate == kMin ? largest<T>() : -largest<T>();
      transform_row(e.post, out.data(), e.n_targets);
      for (int64_t k = 0; k < e.n_targets; ++k) res[r * e.n_targets + k] = from_double<T>(out[static_cast<size_t>(k)]);
    }
  }, "TreeEnsemble");
}

}  // namespace

KILN_REGISTER_OP(ml_tree_ensemble, {"ai.onnx.ml", "TreeEnsemble", {5}, 0, infer_tree_ensemble, compute_tree_ensemble});

}  // namespace kiln::ops
