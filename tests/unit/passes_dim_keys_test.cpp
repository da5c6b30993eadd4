// ShapeFacts' dim keys: equal keys only where sizes are equal for every input, unknown equal to nothing.

#include <gtest/gtest.h>

#include "passes/shape_facts.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

std::string keys(const passes::ShapeFacts& f, int v) {
  const std::vector<passes::DimKey>* k = f.keys(v);
  if (!k) return "(rank unknown)";
  std::string s;
  for (const passes::DimKey& d : *k) {
    if (!s.empty()) s += ",";
    s += d.str();
  }
  return "[" + s + "]";
}

int conv(ModelBuilder& b, int x, int64_t k, int64_t stride, int64_t pad) {
  const int w = b.random_init(fmt::format("w{}", b.graph().values.size()), {4, 4, k, k});
  return b.node("Conv", {x, w}, {ints_attr("strides", {stride, stride}), ints_attr("pads", {pad, pad, pad, pad})});
}

}  // namespace

TEST(DimKeys, ConvolutionsOfTheSameGeometryAgreeAndOthersDoNot) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("n"), 4, Dim::symbol("h"), Dim::symbol("w")}));
  const int same = conv(b, x, 3, 1, 1);
  const int down3 = conv(b, x, 3, 2, 1);
  const int down1 = conv(b, x, 1, 2, 0);
  const int valid = conv(b, x, 3, 2, 0);
  const int pooled = b.node("MaxPool", {x}, {ints_attr("kernel_shape", {3, 3}), ints_attr("strides", {2, 2}),
                                             ints_attr("pads", {1, 1, 1, 1})});
  for (int v : {same, down3, down1, valid, pooled}) b.output(v);
  const ir::Model m = b.build();
  const passes::ShapeFacts f(m);
  ASSERT_TRUE(f.available());
  EXPECT_TRUE(f.same_shape(same, x)) << keys(f, same);
  EXPECT_TRUE(f.same_shape(down3, down1)) << keys(f, down3) << " vs " << keys(f, down1);
  EXPECT_TRUE(f.same_shape(down3, pooled));
  EXPECT_FALSE(f.same_shape(down3, valid)) << keys(f, valid);
  EXPECT_FALSE(f.same_shape(down3, same));
  EXPECT_EQ(keys(f, down3), "[$n,4,fl(($h-1)/2)+1,fl(($w-1)/2)+1]");
}

TEST(DimKeys, UnknownEqualsNothingAndHugeAttributesStayUnknown) {
  EXPECT_FALSE(passes::DimKey::unknown() == passes::DimKey::unknown());
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({1, 4, Dim(), Dim()}));  // unnamed unknown dims
  const int w = b.random_init("w", {4, 4, 1, 1});
  const int64_t huge = int64_t{1} << 62;
  const int y = b.node("Conv", {x, w}, {ints_attr("pads", {huge, huge, huge, huge})});
  b.output(y);
  b.output(b.node("Relu", {x}));
  const ir::Model m = b.build();
  const passes::ShapeFacts f(m);
  if (!f.available()) return;  // inference may refuse such pads; either way nothing overflows
  EXPECT_FALSE(f.same_shape(x, x));  // "?" dims: not even equal to themselves
  EXPECT_EQ(keys(f, y), "[1,4,?,?]");
}

TEST(DimKeys, SizeArithmeticThroughShapeGatherConcatReshape) {
  // x [batch, seq, 64] -> Reshape to [batch*4, seq, 16], as attention heads are split.
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("batch"), Dim::symbol("seq"), 64}));
  const int shape = b.node("Shape", {x});
  auto elem = [&](int64_t i) {
    return b.node("Gather", {shape, b.init(fmt::format("i{}", i), Tensor::scalar<int64_t>(i))});
  };
  auto unsq = [&](int v) { return b.node("Unsqueeze", {v, b.init(fmt::format("ax{}", v), Tensor::from_vector<int64_t>({1}, {0}))}); };
  const int heads = b.node("Mul", {elem(0), b.init("four", Tensor::scalar<int64_t>(4))});
  const int target = b.node("Concat", {unsq(heads), unsq(elem(1)), b.init("d", Tensor::from_vector<int64_t>({1}, {16}))},
                            {int_attr("axis", 0)});
  const int r = b.node("Reshape", {x, target});
  const int mask = b.input("mask", DType::kFloat32, Shape({Dim::symbol("batch"), 1, Dim::symbol("seq")}));
  const int rm = b.node("Reshape", {b.node("Expand", {b.node("Unsqueeze", {mask, b.init("one_ax", Tensor::from_vector<int64_t>({1}, {1}))}),
                                                        b.init("e", Tensor::from_vector<int64_t>({4}, {1, 4, 1, 1}))}),
                                    b.node("Concat", {unsq(heads), b.init("o", Tensor::from_vector<int64_t>({1}, {1})), unsq(elem(1))},
                                           {int_attr("axis", 0)})});
  b.output(r);
  b.output(rm);
  const ir::Model m = b.build();
  const passes::ShapeFacts f(m);
  ASSERT_TRUE(f.available());
  EXPECT_EQ(keys(f, r), "[($batch*4),$seq,16]");
  EXPECT_EQ(keys(f, rm), "[($batch*4),1,$seq]");
  const int scores = b.node("MatMul", {r, b.node("Transpose", {r}, {ints_attr("perm", {0, 2, 1})})});
  b.output(scores);
  const ir::Model m2 = b.build();
  const passes::ShapeFacts f2(m2);
  EXPECT_TRUE(f2.broadcasts_into(rm, scores)) << keys(f2, rm) << " into " << keys(f2, scores);
  EXPECT_FALSE(f2.broadcasts_into(scores, rm));
}

TEST(DimKeys, ACausalMaskCutFromABufferMatchesOnlyWhereTheGraphIsValid) {
  ModelBuilder b;
  const int x = b.input("x", DType::kFloat32, Shape({Dim::symbol("seq"), Dim::symbol("seq")}));
  const int buffer = b.random_init("causal", {128, 128});
  const int seq = b.node("Unsqueeze", {b.node("Gather", {b.node("Shape", {x}), b.init("zero", Tensor::scalar<int64_t>(0))}),
                                       b.init("ax", Tensor::from_vector<int64_t>({1}, {0}))});
  const int starts = b.init("starts", Tensor::from_vector<int64_t>({2}, {0, 0}));
  const int ends = b.node("Concat", {seq, seq}, {int_attr("axis", 0)});
  const int axes = b.init("axes", Tensor::from_vector<int64_t>({2}, {0, 1}));
  const int cut = b.node("Slice", {buffer, starts, ends, axes});
  b.output(cut);
  const ir::Model m = b.build();
  const passes::ShapeFacts f(m);
  ASSERT_TRUE(f.available());
  EXPECT_EQ(keys(f, cut), "[min($seq,128),min($seq,128)]");
  EXPECT_FALSE(f.broadcasts_into(cut, x));
  EXPECT_TRUE(f.broadcasts_into(cut, x, /*where_valid=*/true));
}
