// Symbolic inference of the data-movement ops: dims named by the model (batch, seq) must survive the
// Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains that PyTorch exports write, and unknown values
// must give unknown dims, never an error. Expected shapes follow from the ONNX spec, by hand.

#include <gtest/gtest.h>

#include "tensor_op_test_util.h"

namespace kiln::testing {
namespace {

using ops::ValueInfo;

Shape S(std::vector<Dim> d) { return Shape(std::move(d)); }

TEST(ShapeInference, ReshapeCopiesZeroAndSolvesMinusOneAroundASymbol) {
  Tensor target = i64({0, -1});
  auto out = infer_op("Reshape", 14, {}, {info(DType::kFloat32, S({sym("batch"), 3, 4})), info_of(target)});
  EXPECT_EQ(out[0].shape.str(), "[batch,12]");
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
}

TEST(ShapeInference, ReshapeMinusOneBecomesTheLeftoverSymbol) {
  Tensor target = i64({-1, 3, 4});
  auto out = infer_op("Reshape", 14, {}, {info(DType::kFloat32, S({sym("batch"), 12})), info_of(target)});
  EXPECT_EQ(out[0].shape.str(), "[batch,3,4]");
}

TEST(ShapeInference, ReshapeWithUnknownValueKeepsTheTargetLength) {
  auto out = infer_op("Reshape", 14, {},
                      {info(DType::kFloat32, S({sym("batch"), 3})), info(DType::kInt64, S({3}))});
  EXPECT_EQ(out[0].shape.str(), "[?,?,?]");
  auto unknown = infer_op("Reshape", 14, {},
                          {info(DType::kFloat32, S({sym("batch"), 3})), info(DType::kInt64, S({Dim()}))});
  EXPECT_FALSE(unknown[0].shape.rank_known);
}

TEST(ShapeInference, ReshapeCannotSolveMinusOneAgainstTwoSymbols) {
  Tensor target = i64({-1, 4});
  auto out = infer_op("Reshape", 14, {}, {info(DType::kFloat32, S({sym("a"), sym("b"), 4})), info_of(target)});
  EXPECT_EQ(out[0].shape.str(), "[?,4]");
}

TEST(ShapeInference, ShapeOfSymbolicInputHasKnownLengthAndSymbolicContent) {
  auto out = infer_op("Shape", 13, {}, {info(DType::kFloat32, S({sym("batch"), 3, 224}))});
  EXPECT_EQ(out[0].shape.str(), "[3]");
  EXPECT_EQ(out[0].dtype, DType::kInt64);
  EXPECT_EQ(out[0].value, nullptr);  // not a constant: batch is only known at run time
  EXPECT_EQ(partial_str(out[0]), "batch,3,224");
}

TEST(ShapeInference, ShapeOfConcreteInputIsAConstant) {
  auto out = infer_op("Shape", 15, {attr_int("start", 1)}, {info(DType::kFloat32, S({2, 3, 4}))});
  ASSERT_NE(out[0].value, nullptr);
  EXPECT_EQ(out[0].value->to_int64_vector(), (std::vector<int64_t>{3, 4}));
}

TEST(ShapeInference, ShapeOfUnknownRankHasUnknownLength) {
  auto out = infer_op("Shape", 13, {}, {info(DType::kFloat32, Shape::unknown_rank())});
  EXPECT_EQ(out[0].shape.str(), "[?]");
  EXPECT_EQ(out[0].value, nullptr);
  EXPECT_TRUE(out[0].partial.empty());
}

// x.view(x.size(0), -1) as torch.onnx.export writes it.
TEST(ShapeInference, PytorchFlattenChainKeepsBatch) {
  ValueInfo x = info(DType::kFloat32, S({sym("batch"), 512, 7, 7}));
  ValueInfo shape = infer_op("Shape", 13, {}, {x})[0];
  Tensor zero = Tensor::scalar<int64_t>(0);
  ValueInfo dim0 = infer_op("Gather", 13, {attr_int("axis", 0)}, {shape, info_of(zero)})[0];
  EXPECT_EQ(dim0.shape.str(), "[]");
  EXPECT_EQ(partial_str(dim0), "batch");
  Tensor axes = i64({0});
  ValueInfo dim0_1d = infer_op("Unsqueeze", 13, {}, {dim0, info_of(axes)})[0];
  EXPECT_EQ(dim0_1d.shape.str(), "[1]");
  EXPECT_EQ(partial_str(dim0_1d), "batch");
  Tensor minus_one = i64({-1});
  ValueInfo target = infer_op("Concat", 13, {attr_int("axis", 0)}, {dim0_1d, info_of(minus_one)})[0];
  EXPECT_EQ(target.shape.str(), "[2]");
  EXPECT_EQ(partial_str(target), "batch,-1");
  ValueInfo y = infer_op("Reshape", 14, {}, {x, target})[0];
  EXPECT_EQ(y.shape.str(), "[batch,25088]");
}

TEST(ShapeInference, SliceOfShapeValueKeepsSymbols) {
  ValueInfo shape = infer_op("Shape", 13, {}, {info(DType::kFloat32, S({sym("n"), 3, sym("h"), sym("w")}))})[0];
  Tensor starts = i64({2}), ends = i64({INT64_MAX});
  ValueInfo hw = infer_op("Slice", 13, {}, {shape, info_of(starts), info_of(ends)})[0];
  EXPECT_EQ(hw.shape.str(), "[2]");
  EXPECT_EQ(partial_str(hw), "h,w");
}

TEST(ShapeInference, ConstantOfShapeAndExpandTakeSymbolicTargets) {
  ValueInfo shape = infer_op("Shape", 13, {}, {info(DType::kFloat32, S({sym("batch"), 4}))})[0];
  auto filled = infer_op("ConstantOfShape", 9, {}, {shape});
  EXPECT_EQ(filled[0].shape.str(), "[batch,4]");
  auto expanded = infer_op("Expand", 13, {}, {info(DType::kInt32, S({1, 4})), shape});
  EXPECT_EQ(expanded[0].shape.str(), "[batch,4]");
  EXPECT_EQ(expanded[0].dtype, DType::kInt32);
}

TEST(ShapeInference, ExpandWithUnknownTargetKeepsDimsAboveOne) {
  auto out = infer_op("Expand", 13, {}, {info(DType::kFloat32, S({1, 5})), info(DType::kInt64, S({3}))});
  EXPECT_EQ(out[0].shape.str(), "[?,?,5]");
}

TEST(ShapeInference, UnsqueezeAndSqueezeKeepSymbols) {
  Tensor axes = i64({1, -1});
  auto out = infer_op("Unsqueeze", 13, {}, {info(DType::kFloat32, S({sym("batch"), sym("seq")})), info_of(axes)});
  EXPECT_EQ(out[0].shape.str(), "[batch,1,seq,1]");
  Tensor one = i64({1});
  auto sq = infer_op("Squeeze", 13, {}, {info(DType::kFloat32, S({sym("batch"), 1, sym("seq")})), info_of(one)});
  EXPECT_EQ(sq[0].shape.str(), "[batch,seq]");
  // Without axes a symbol might be 1 at run time, so the rank cannot be known.
  auto all = infer_op("Squeeze", 13, {}, {info(DType::kFloat32, S({sym("batch"), 1}))});
  EXPECT_FALSE(all[0].shape.rank_known);
  // Unknown axes values: the count still gives the rank.
  auto unknown = infer_op("Unsqueeze", 13, {}, {info(DType::kFloat32, S({sym("b")})), info(DType::kInt64, S({2}))});
  EXPECT_EQ(unknown[0].shape.str(), "[?,?,?]");
}

TEST(ShapeInference, ConcatAddsKnownDimsAndKeepsSymbolsElsewhere) {
  auto out = infer_op("Concat", 13, {attr_int("axis", 1)},
                      {info(DType::kFloat32, S({sym("batch"), 3})), info(DType::kFloat32, S({sym("batch"), 5}))});
  EXPECT_EQ(out[0].shape.str(), "[batch,8]");
  auto along_symbol = infer_op("Concat", 13, {attr_int("axis", 0)},
                               {info(DType::kFloat32, S({sym("batch"), 3})), info(DType::kFloat32, S({4, 3}))});
  EXPECT_EQ(along_symbol[0].shape.str(), "[?,3]");
  // A number known on one input fixes the dim for all.
  auto fixed = infer_op("Concat", 13, {attr_int("axis", 1)},
                        {info(DType::kFloat32, S({sym("batch"), 3})), info(DType::kFloat32, S({2, 5}))});
  EXPECT_EQ(fixed[0].shape.str(), "[2,8]");
  auto unknown_rank = infer_op("Concat", 13, {attr_int("axis", 1)},
                               {info(DType::kFloat32, Shape::unknown_rank()), info(DType::kFloat32, S({2, 5}))});
  EXPECT_EQ(unknown_rank[0].shape.str(), "[2,?]");
}

TEST(ShapeInference, FlattenTransposeGatherMoveSymbols) {
  auto flat = infer_op("Flatten", 13, {}, {info(DType::kFloat32, S({sym("batch"), 3, 4}))});
  EXPECT_EQ(flat[0].shape.str(), "[batch,12]");
  auto tr = infer_op("Transpose", 13, {attr_ints("perm", {1, 0, 2})},
                     {info(DType::kFloat32, S({sym("batch"), sym("seq"), 8}))});
  EXPECT_EQ(tr[0].shape.str(), "[seq,batch,8]");
  auto g = infer_op("Gather", 13, {attr_int("axis", 0)},
                    {info(DType::kFloat32, S({1000, 64})), info(DType::kInt64, S({sym("batch"), sym("seq")}))});
  EXPECT_EQ(g[0].shape.str(), "[batch,seq,64]");
}

TEST(ShapeInference, SliceWithUnknownBoundsOrSymbolicDims) {
  ValueInfo x = info(DType::kFloat32, S({sym("batch"), sym("seq"), 8}));
  Tensor axes = i64({1});
  auto unknown_bounds =
      infer_op("Slice", 13, {}, {x, info(DType::kInt64, S({1})), info(DType::kInt64, S({1})), info_of(axes)});
  EXPECT_EQ(unknown_bounds[0].shape.str(), "[batch,?,8]");
  Tensor s0 = i64({0}), big = i64({INT64_MAX}), s1 = i64({1});
  auto whole = infer_op("Slice", 13, {}, {x, info_of(s0), info_of(big), info_of(axes)});
  EXPECT_EQ(whole[0].shape.str(), "[batch,seq,8]");
  auto part = infer_op("Slice", 13, {}, {x, info_of(s1), info_of(big), info_of(axes)});
  EXPECT_EQ(part[0].shape.str(), "[batch,?,8]");
}

TEST(ShapeInference, SplitTileAndPadOnSymbols) {
  Tensor sizes = i64({2, 3});
  auto parts = infer_op("Split", 13, {attr_int("axis", 1)},
                        {info(DType::kFloat32, S({sym("batch"), 5})), info_of(sizes)}, 2);
  EXPECT_EQ(parts[0].shape.str(), "[batch,2]");
  EXPECT_EQ(parts[1].shape.str(), "[batch,3]");
  auto along_symbol = infer_op("Split", 18, {attr_int("num_outputs", 2)}, {info(DType::kFloat32, S({sym("n")}))}, 2);
  EXPECT_EQ(along_symbol[0].shape.str(), "[?]");
  Tensor reps = i64({1, 2});
  auto tiled = infer_op("Tile", 13, {}, {info(DType::kFloat32, S({sym("batch"), 3})), info_of(reps)});
  EXPECT_EQ(tiled[0].shape.str(), "[batch,6]");
  Tensor pads = i64({0, 1, 0, 1});
  auto padded = infer_op("Pad", 13, {}, {info(DType::kFloat32, S({sym("batch"), 3})), info_of(pads)});
  EXPECT_EQ(padded[0].shape.str(), "[batch,5]");
}

TEST(ShapeInference, SizeOfOneSymbolIsThatSymbol) {
  auto out = infer_op("Size", 13, {}, {info(DType::kFloat32, S({sym("batch"), 1}))});
  EXPECT_EQ(out[0].shape.str(), "[]");
  EXPECT_EQ(partial_str(out[0]), "batch");
}

TEST(ShapeInference, RangeFoldsKnownValuesAndOtherwiseLeavesTheLengthUnknown) {
  Tensor a = Tensor::scalar<int64_t>(0), b = Tensor::scalar<int64_t>(5), c = Tensor::scalar<int64_t>(2);
  auto known = infer_op("Range", 11, {}, {info_of(a), info_of(b), info_of(c)});
  ASSERT_NE(known[0].value, nullptr);
  EXPECT_EQ(known[0].value->to_int64_vector(), (std::vector<int64_t>{0, 2, 4}));
  auto unknown = infer_op("Range", 11, {}, {info_of(a), info(DType::kInt64, S({})), info_of(c)});
  EXPECT_EQ(unknown[0].shape.str(), "[?]");
}

TEST(ShapeInference, ConstantRecordsItsValue) {
  Tensor v = i64({4, 5});
  auto out = infer_op("Constant", 13, {attr_tensor("value", v)}, {});
  ASSERT_NE(out[0].value, nullptr);
  EXPECT_EQ(out[0].value->to_int64_vector(), (std::vector<int64_t>{4, 5}));
}

TEST(ShapeInference, DataDependentOpsLeaveTheirSizeUnknown) {
  auto nz = infer_op("NonZero", 13, {}, {info(DType::kFloat32, S({sym("b"), 4}))});
  EXPECT_EQ(nz[0].shape.str(), "[2,?]");
  auto uq = infer_op("Unique", 11, {}, {info(DType::kFloat32, S({6}))}, 4);
  EXPECT_EQ(uq[0].shape.str(), "[?]");
  EXPECT_EQ(uq[2].shape.str(), "[6]");
  auto cp = infer_op("Compress", 11, {attr_int("axis", 1)},
                     {info(DType::kFloat32, S({sym("b"), 4})), info(DType::kBool, S({4}))});
  EXPECT_EQ(cp[0].shape.str(), "[b,?]");
}

TEST(ShapeInference, SpaceDepthOnSymbolicBatch) {
  auto d2s = infer_op("DepthToSpace", 13, {attr_int("blocksize", 2)}, {info(DType::kFloat32, S({sym("n"), 8, 3, sym("w")}))});
  EXPECT_EQ(d2s[0].shape.str(), "[n,2,6,?]");
  auto s2d = infer_op("SpaceToDepth", 13, {attr_int("blocksize", 2)}, {info(DType::kFloat32, S({sym("n"), 3, 4, 6}))});
  EXPECT_EQ(s2d[0].shape.str(), "[n,12,2,3]");
}

}  // namespace
}  // namespace kiln::testing
