// fuse_layer_norm and fuse_attention on hand-built graphs shaped like PyTorch's exports.

#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

std::mt19937 g_rng(11);

// ---- LayerNorm ----

struct LnForm {
  bool mul_square = false;   // Mul(d, d) instead of Pow(d, 2)
  bool reciprocal = false;   // d * Reciprocal(sqrt) instead of d / sqrt
  bool affine = true;        // Mul(scale), Add(bias)
  bool axes_input = false;   // ReduceMean-18: axes as an input
  std::vector<int64_t> axes = {-1};
};

int layer_norm(ModelBuilder& b, int x, const LnForm& f, std::vector<int64_t> normalized) {
  auto reduce = [&](int v) {
    if (f.axes_input)
      return b.node("ReduceMean", {v, b.init(fmt::format("axes{}", b.graph().values.size()),
                                             Tensor::from_vector<int64_t>({static_cast<int64_t>(f.axes.size())}, f.axes))});
    return b.node("ReduceMean", {v}, {ints_attr("axes", f.axes)});
  };
  const int d = b.node("Sub", {x, reduce(x)});
  const int sq = f.mul_square ? b.node("Mul", {d, d}) : b.node("Pow", {d, b.scalar("two", 2)});
  const int sd = b.node("Sqrt", {b.node("Add", {reduce(sq), b.scalar("eps", 1e-5f)})});
  int y = f.reciprocal ? b.node("Mul", {d, b.node("Reciprocal", {sd})}) : b.node("Div", {d, sd});
  if (f.affine) {
    y = b.node("Mul", {y, b.random_init("gamma", normalized)});
    y = b.node("Add", {b.random_init("beta", normalized), y});
  }
  return y;
}

NamedTensors hidden(std::vector<int64_t> dims = {2, 5, 16}) { return {{"x", random_tensor(std::move(dims), g_rng)}}; }

}  // namespace

TEST(FuseLayerNorm, ExportedFormsBecomeOneNode) {
  const std::vector<LnForm> forms = {{}, {true}, {false, true}, {false, false, false}, {false, false, true, true},
                                     {true, true, true, false, {-2, -1}}};
  for (size_t i = 0; i < forms.size(); ++i) {
    SCOPED_TRACE(i);
    const LnForm& f = forms[i];
    ModelBuilder b(f.axes_input ? 18 : 14);
    const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), 5, 16}));
    std::vector<int64_t> normalized = f.axes.size() == 2 ? std::vector<int64_t>{5, 16} : std::vector<int64_t>{16};
    b.output(b.node("Relu", {layer_norm(b, b.node("Neg", {x}), f, normalized)}));
    ir::Model m = apply_and_compare(passes::fuse_layer_norm_pass(), b.build(), hidden());
    ASSERT_EQ(m.graph->nodes.size(), 3u);
    const ir::Node* ln = find_node(*m.graph, "LayerNormalization", "ai.kiln");
    ASSERT_NE(ln, nullptr);
    EXPECT_EQ(ln->attr("axis")->i, f.axes.size() == 2 ? 1 : 2);
    EXPECT_FLOAT_EQ(ln->attr("epsilon")->f, 1e-5f);
    EXPECT_EQ(ln->inputs.size(), f.affine ? 3u : 2u);
  }
}

TEST(FuseLayerNorm, LeavesReductionsThatAreNotALayerNorm) {
  ensure_kiln_test_ops();
  auto unchanged = [](const ir::Model& m) {
    ir::Model copy = clone_model(m);
    EXPECT_FALSE(passes::fuse_layer_norm_pass().apply(copy));
  };
  {  // a leading axis is not a trailing normalization
    ModelBuilder b(14);
    const int x = b.input("x", DType::kFloat32, Shape({2, 5, 16}));
    LnForm f;
    f.axes = {1};
    b.output(layer_norm(b, x, f, {5, 1}));
    unchanged(b.build());
  }
  {  // the centered value is read elsewhere
    ModelBuilder b(14);
    const int x = b.input("x", DType::kFloat32, Shape({2, 5, 16}));
    b.output(layer_norm(b, x, {}, {16}));
    b.output(b.graph().nodes[1].outputs[0]);  // the Sub
    unchanged(b.build());
  }
  {  // epsilon fed at run time
    ModelBuilder b(14);
    const int x = b.input("x", DType::kFloat32, Shape({2, 5, 16}));
    const int eps = b.input("eps", DType::kFloat32, Shape(std::vector<Dim>{}));
    const int d = b.node("Sub", {x, b.node("ReduceMean", {x}, {ints_attr("axes", {-1})})});
    const int var = b.node("ReduceMean", {b.node("Pow", {d, b.scalar("two", 2)})}, {ints_attr("axes", {-1})});
    b.output(b.node("Div", {d, b.node("Sqrt", {b.node("Add", {var, eps})})}));
    unchanged(b.build());
  }
}

TEST(FuseLayerNorm, AScaleOfLargerRankIsLeftOutOfTheFusion) {
  ModelBuilder b(14);
  const int x = b.input("x", DType::kFloat32, Shape({2, 5, 16}));
  LnForm f;
  f.affine = false;
  const int y = layer_norm(b, x, f, {16});
  b.output(b.node("Mul", {y, b.random_init("gamma", {3, 1, 1, 16})}));  // broadcasts x up to rank 4
  ir::Model m = apply_and_compare(passes::fuse_layer_norm_pass(), b.build(), hidden());
  EXPECT_EQ(m.graph->nodes.size(), 2u);  // LayerNorm (scale of ones) + the Mul
}

namespace {

// ---- Attention ----

enum class Key { kTransposeOfLayout, kTransposeOfK, kAlreadyTransposed };
enum class Mask { kNone, kAdd, kWhere };

struct AttnForm {
  Key key = Key::kTransposeOfLayout;
  Mask mask = Mask::kAdd;
  bool scale_q = true;       // Div(Q, sqrt d) before the MatMul (torch's MultiheadAttention)
  bool scale_scores = true;  // Mul(scores, c) after it
};

// Q, V: [b, h, s, d]; K given as [b, s, h, d] (the layout before heads are moved), [b, h, s, d] or [b, h, d, s].
ir::Model attention(const AttnForm& f, int opset = 14, int64_t softmax_axis = -1) {
  ModelBuilder b(opset);
  const Shape q_shape({Dim::symbol("b"), 2, Dim::symbol("s"), 8});
  const int q = b.input("q", DType::kFloat32, q_shape);
  const int v = b.input("v", DType::kFloat32, q_shape);
  int kt;
  if (f.key == Key::kTransposeOfLayout) {
    const int k = b.input("k", DType::kFloat32, Shape({Dim::symbol("b"), Dim::symbol("s"), 2, 8}));
    kt = b.node("Transpose", {k}, {ints_attr("perm", {0, 2, 3, 1})});
  } else if (f.key == Key::kTransposeOfK) {
    kt = b.node("Transpose", {b.input("k", DType::kFloat32, q_shape)}, {ints_attr("perm", {0, 1, 3, 2})});
  } else {
    kt = b.input("k", DType::kFloat32, Shape({Dim::symbol("b"), 2, 8, Dim::symbol("s")}));
  }
  const int qs = f.scale_q ? b.node("Div", {q, b.scalar("sqrt_d", 2.828427f)}) : q;
  int s = b.node("MatMul", {qs, kt});
  if (f.scale_scores) s = b.node("Mul", {s, b.scalar("one", 0.75f)});
  if (f.mask == Mask::kAdd) {
    s = b.node("Add", {s, b.input("mask", DType::kFloat32, Shape({Dim::symbol("b"), 1, 1, Dim::symbol("s")}))});
  } else if (f.mask == Mask::kWhere) {
    const int cond = b.input("cond", DType::kBool, Shape({1, 1, Dim::symbol("s"), Dim::symbol("s")}));
    s = b.node("Where", {cond, b.scalar("ninf", -std::numeric_limits<float>::infinity()), s});
  }
  const int p = b.node("Softmax", {s}, softmax_axis == -100 ? std::vector<ir::Attribute>{}
                                                           : std::vector<ir::Attribute>{int_attr("axis", softmax_axis)});
  b.output(b.node("Transpose", {b.node("MatMul", {p, v})}, {ints_attr("perm", {0, 2, 1, 3})}));
  return b.build();
}

NamedTensors attention_feeds(const AttnForm& f, int64_t batch = 2, int64_t seq = 5) {
  NamedTensors feeds = {{"q", random_tensor({batch, 2, seq, 8}, g_rng)}, {"v", random_tensor({batch, 2, seq, 8}, g_rng)}};
  if (f.key == Key::kTransposeOfLayout) feeds.emplace_back("k", random_tensor({batch, seq, 2, 8}, g_rng));
  else if (f.key == Key::kTransposeOfK) feeds.emplace_back("k", random_tensor({batch, 2, seq, 8}, g_rng));
  else feeds.emplace_back("k", random_tensor({batch, 2, 8, seq}, g_rng));
  if (f.mask == Mask::kAdd) {
    Tensor m(DType::kFloat32, {batch, 1, 1, seq});
    for (int64_t i = 0; i < m.numel(); ++i) m.data<float>()[i] = i % seq == seq - 1 && i > seq ? -1e9f : 0.0f;
    feeds.emplace_back("mask", m);
  } else if (f.mask == Mask::kWhere) {
    Tensor c(DType::kBool, {1, 1, seq, seq});
    for (int64_t i = 0; i < seq; ++i)
      for (int64_t j = 0; j < seq; ++j) c.data<bool>()[i * seq + j] = j > i;  // causal: future keys masked
    feeds.emplace_back("cond", c);
  }
  return feeds;
}

}  // namespace

TEST(FuseAttention, ExportedFormsBecomeOneNode) {
  const std::vector<AttnForm> forms = {
      {}, {Key::kTransposeOfK, Mask::kWhere, false, true}, {Key::kAlreadyTransposed, Mask::kNone, true, false},
      {Key::kTransposeOfLayout, Mask::kWhere, true, true}, {Key::kTransposeOfK, Mask::kAdd, false, false}};
  for (size_t i = 0; i < forms.size(); ++i) {
    SCOPED_TRACE(i);
    const AttnForm& f = forms[i];
    ir::Model m = apply_and_compare(passes::fuse_attention_pass(), attention(f), attention_feeds(f));
    const ir::Node* sdpa = find_node(*m.graph, "ScaledDotProductAttention", "ai.kiln");
    ASSERT_NE(sdpa, nullptr);
    const float scale = (f.scale_q ? 1 / 2.828427f : 1.0f) * (f.scale_scores ? 0.75f : 1.0f);
    EXPECT_NEAR(sdpa->attr("scale")->f, scale, 1e-6);
    EXPECT_EQ(sdpa->inputs.size(), f.mask == Mask::kNone ? 3u : 4u);
    EXPECT_EQ(count_ops(*m.graph, "Softmax"), 0u);
    EXPECT_EQ(count_ops(*m.graph, "MatMul"), 0u);
    // K^T from a transpose of K itself needs no transpose at all; other layouts keep one.
    EXPECT_EQ(count_ops(*m.graph, "Transpose"), f.key == Key::kTransposeOfK ? 1u : 2u);
    if (f.mask == Mask::kWhere) {
      EXPECT_EQ(count_ops(*m.graph, "Where"), 1u);
    }
    apply_and_compare(passes::fuse_attention_pass(), attention(f), attention_feeds(f, 1, 9));
  }
}

TEST(FuseAttention, LeavesWhatIsNotAttention) {
  ensure_kiln_test_ops();
  auto unchanged = [](const ir::Model& m) {
    ir::Model copy = clone_model(m);
    EXPECT_FALSE(passes::fuse_attention_pass().apply(copy));
  };
  unchanged(attention({}, 14, 2));     // softmax over the query axis
  unchanged(attention({}, 11, -100));  // Softmax-11 without axis flattens from axis 1
  {  // the probabilities are also a graph output
    ir::Model m = attention({});
    const ir::Node* softmax = find_node(*m.graph, "Softmax");
    m.graph->outputs.push_back(softmax->outputs[0]);
    unchanged(m);
  }
  {  // a mask with more leading dims than the scores would grow the output
    ModelBuilder b;
    const Shape s({2, 5, 8});
    const int q = b.input("q", DType::kFloat32, s), k = b.input("k", DType::kFloat32, s), v = b.input("v", DType::kFloat32, s);
    const int kt = b.node("Transpose", {k}, {ints_attr("perm", {0, 2, 1})});
    const int mask = b.input("mask", DType::kFloat32, Shape({3, 2, 5, 5}));
    b.output(b.node("MatMul", {b.node("Softmax", {b.node("Add", {b.node("MatMul", {q, kt}), mask})}), v}));
    unchanged(b.build());
  }
  {  // V broadcast over the heads (rank 3 against rank 4)
    ModelBuilder b;
    const int q = b.input("q", DType::kFloat32, Shape({2, 2, 5, 8}));
    const int k = b.input("k", DType::kFloat32, Shape({2, 2, 5, 8}));
    const int v = b.input("v", DType::kFloat32, Shape({2, 5, 8}));
    const int kt = b.node("Transpose", {k}, {ints_attr("perm", {0, 1, 3, 2})});
    b.output(b.node("MatMul", {b.node("Softmax", {b.node("MatMul", {q, kt})}), v}));
    unchanged(b.build());
  }
}
