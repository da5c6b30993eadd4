// Hand-written cases for the data-movement ops: bad indices and sizes fail with clear errors (never an
// out-of-bounds read), huge outputs fail through checked arithmetic, and string tensors move intact.
// Expected values are worked out from the ONNX spec / numpy semantics, by hand.

#include <gtest/gtest.h>

#include "op_test_util.h"
#include "tensor_op_test_util.h"

namespace kiln::testing {
namespace {

// Runs the op and returns the error; fails the test when the op succeeds.
Error error_of(const std::string& op, int opset, std::vector<ir::Attribute> attrs, const std::vector<Tensor>& inputs,
               size_t outputs = 1) {
  try {
    run_op(op, opset, std::move(attrs), inputs, outputs);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << op << " did not fail";
  return Error(ErrorCode::kInternal, "");
}

void expect_bad_input(const Error& e, std::initializer_list<const char*> parts) {
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
  for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
}

// ---- indices out of range ----

TEST(TensorOps, GatherIndexOutOfRangeNamesIndexAndBound) {
  Error e = error_of("Gather", 13, {}, {f32_from_f64({3, 2}, {1, 2, 3, 4, 5, 6}), i64({0, 3})});
  expect_bad_input(e, {"indices[1] = 3", "size 3", "-3..2"});
  expect_bad_input(error_of("Gather", 13, {}, {f32_from_f64({3}, {1, 2, 3}), i64({-4})}), {"indices[0] = -4"});
}

TEST(TensorOps, GatherOnEmptyAxisRejectsAnyIndex) {
  expect_bad_input(error_of("Gather", 13, {}, {f32_from_f64({0, 2}, {}), i64({0})}), {"size 0"});
}

TEST(TensorOps, GatherElementsIndexOutOfRange) {
  Error e = error_of("GatherElements", 13, {attr_int("axis", 1)},
                     {f32_from_f64({2, 2}, {1, 2, 3, 4}), ints(DType::kInt64, {2, 2}, {0, 1, 2, 0})});
  expect_bad_input(e, {"indices[2] = 2", "size 2"});
  // indices larger than data on another axis would read past it.
  expect_bad_input(error_of("GatherElements", 13, {attr_int("axis", 1)},
                            {f32_from_f64({1, 2}, {1, 2}), ints(DType::kInt64, {2, 1}, {0, 0})}),
                   {"indices dim 0"});
}

TEST(TensorOps, GatherNdIndexOutOfRange) {
  Error e = error_of("GatherND", 13, {}, {f32_from_f64({2, 2}, {1, 2, 3, 4}), ints(DType::kInt64, {1, 2}, {1, 5})});
  expect_bad_input(e, {"indices[1] = 5", "size 2"});
}

TEST(TensorOps, ScatterIndicesOutOfRange) {
  expect_bad_input(error_of("ScatterND", 13, {}, {f32_from_f64({3}, {1, 2, 3}), ints(DType::kInt64, {1, 1}, {3}), f32_from_f64({1}, {9})}),
                   {"indices[0] = 3", "size 3"});
  expect_bad_input(error_of("ScatterElements", 13, {},
                            {f32_from_f64({3}, {1, 2, 3}), i64({-4}), f32_from_f64({1}, {9})}),
                   {"indices[0] = -4", "size 3"});
  // updates must have indices' shape
  expect_bad_input(error_of("ScatterElements", 13, {}, {f32_from_f64({3}, {1, 2, 3}), i64({0}), f32_from_f64({2}, {9, 9})}),
                   {"updates"});
}

TEST(TensorOps, ReverseSequenceLengthBeyondTimeAxis) {
  expect_bad_input(error_of("ReverseSequence", 10, {}, {f32_from_f64({2, 2}, {1, 2, 3, 4}), i64({3, 1})}),
                   {"sequence_lens[0] = 3"});
}

TEST(TensorOps, CompressConditionTrueBeyondTheAxis) {
  expect_bad_input(error_of("Compress", 11, {attr_int("axis", 0)},
                            {f32_from_f64({2}, {1, 2}), ints(DType::kBool, {3}, {0, 0, 1})}),
                   {"condition[2]"});
  // extra false entries are harmless
  Tensor y = run_op("Compress", 11, {attr_int("axis", 0)}, {f32_from_f64({2}, {1, 2}), ints(DType::kBool, {3}, {0, 1, 0})})[0];
  expect_tensor_eq(y, f32_from_f64({1}, {2}));
}

// ---- sizes and arguments ----

TEST(TensorOps, ReshapeCountMismatchAndBadTargets) {
  expect_bad_input(error_of("Reshape", 14, {}, {f32_from_f64({2, 3}, {1, 2, 3, 4, 5, 6}), i64({4, 2})}), {"6 elements"});
  expect_bad_input(error_of("Reshape", 14, {}, {f32_from_f64({2, 3}, {1, 2, 3, 4, 5, 6}), i64({-1, -1})}), {"more than one -1"});
  expect_bad_input(error_of("Reshape", 14, {}, {f32_from_f64({2, 3}, {1, 2, 3, 4, 5, 6}), i64({4, -1})}), {"divide"});
  expect_bad_input(error_of("Reshape", 14, {}, {f32_from_f64({6}, {1, 2, 3, 4, 5, 6}), i64({0, 0})}), {"shape[1] is 0"});
}

TEST(TensorOps, SliceStepZeroAndSplitSizes) {
  expect_bad_input(error_of("Slice", 13, {}, {f32_from_f64({2}, {1, 2}), i64({0}), i64({2}), i64({0}), i64({0})}),
                   {"step must not be 0"});
  expect_bad_input(error_of("Split", 13, {}, {f32_from_f64({3}, {1, 2, 3}), i64({1, 1})}, 2), {"add up to 2"});
  expect_bad_input(error_of("Split", 18, {attr_int("num_outputs", 4)}, {f32_from_f64({5}, {1, 2, 3, 4, 5})}, 4),
                   {"into 4 parts"});
}

TEST(TensorOps, SplitWithEmptySizesSplitsEvenly) {
  // An empty split input is read as absent (as ONNX Runtime does): equal parts, like np.split(x, 2).
  std::vector<Tensor> parts = run_op("Split", 13, {}, {f32_from_f64({4}, {1, 2, 3, 4}), i64({})}, 2);
  expect_tensor_eq(parts[0], f32_from_f64({2}, {1, 2}));
  expect_tensor_eq(parts[1], f32_from_f64({2}, {3, 4}));
}

TEST(TensorOps, InvalidAttributesAreModelErrors) {
  Error dup = error_of("Unsqueeze", 13, {}, {f32_from_f64({2}, {1, 2}), i64({0, 0})});
  EXPECT_EQ(dup.code(), ErrorCode::kInvalidModel) << dup.what();
  Error perm = error_of("Transpose", 13, {attr_ints("perm", {0, 0})}, {f32_from_f64({1, 1}, {1})});
  EXPECT_EQ(perm.code(), ErrorCode::kInvalidModel) << perm.what();
  Error axis = error_of("Concat", 13, {attr_int("axis", 2)}, {f32_from_f64({1, 1}, {1}), f32_from_f64({1, 1}, {2})});
  EXPECT_EQ(axis.code(), ErrorCode::kInvalidModel) << axis.what();
  Error trilu = error_of("Trilu", 14, {}, {f32_from_f64({3}, {1, 2, 3})});
  EXPECT_EQ(trilu.code(), ErrorCode::kInvalidModel) << trilu.what();
  Error sq = error_of("Squeeze", 13, {}, {f32_from_f64({2, 1}, {1, 2}), i64({0})});
  EXPECT_EQ(sq.code(), ErrorCode::kInvalidArgument) << sq.what();  // dim 0 is 2, not 1
}

TEST(TensorOps, ExpandIncompatibleShapeFails) {
  Error e = error_of("Expand", 13, {}, {f32_from_f64({3}, {1, 2, 3}), i64({2, 4})});
  EXPECT_NE(std::string(e.what()).find("broadcast"), std::string::npos) << e.what();
}

TEST(TensorOps, DepthToSpaceAndPadArgumentChecks) {
  expect_bad_input(error_of("DepthToSpace", 13, {attr_int("blocksize", 2)}, {f32_from_f64({1, 2, 1, 1}, {1, 2})}),
                   {"divisible"});
  expect_bad_input(error_of("Pad", 13, {attr_string("mode", "edge")}, {f32_from_f64({0}, {}), i64({1, 1})}), {"empty"});
  expect_bad_input(error_of("Pad", 13, {}, {f32_from_f64({2}, {1, 2}), i64({0, -3})}), {"negative size"});
}

TEST(TensorOps, RangeWithZeroDelta) {
  expect_bad_input(error_of("Range", 11, {}, {Tensor::scalar<int64_t>(0), Tensor::scalar<int64_t>(3),
                                              Tensor::scalar<int64_t>(0)}),
                   {"delta"});
}

// ---- huge outputs go through checked arithmetic ----

TEST(TensorOps, HugeOutputsFailCleanly) {
  const int64_t big = int64_t{1} << 40;
  Error cos = error_of("ConstantOfShape", 9, {}, {i64({big, big})});
  EXPECT_EQ(cos.code(), ErrorCode::kLimitExceeded) << cos.what();
  Error tile = error_of("Tile", 13, {}, {f32_from_f64({2}, {1, 2}), i64({INT64_MAX})});
  EXPECT_EQ(tile.code(), ErrorCode::kLimitExceeded) << tile.what();
  Error expand = error_of("Expand", 13, {}, {f32_from_f64({1}, {1}), i64({big, big, big})});
  EXPECT_EQ(expand.code(), ErrorCode::kLimitExceeded) << expand.what();
  Error range = error_of("Range", 11, {}, {Tensor::scalar<int64_t>(INT64_MIN), Tensor::scalar<int64_t>(INT64_MAX),
                                           Tensor::scalar<int64_t>(1)});
  EXPECT_EQ(range.code(), ErrorCode::kLimitExceeded) << range.what();
  Error pad = error_of("Pad", 13, {}, {f32_from_f64({1}, {1}), i64({INT64_MAX, 1})});
  EXPECT_EQ(pad.code(), ErrorCode::kLimitExceeded) << pad.what();
}

// ---- unsupported forms ----

TEST(TensorOps, SparseConstantIsRefusedClearly) {
  ir::Attribute sparse = make_attr("sparse_value", ir::AttrType::kSparseTensor);
  Error e = error_of("Constant", 13, {sparse}, {});
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
  EXPECT_NE(std::string(e.what()).find("sparse_value"), std::string::npos);
  Error none = error_of("Constant", 13, {}, {});
  EXPECT_EQ(none.code(), ErrorCode::kInvalidModel) << none.what();
}

TEST(TensorOps, ScatterReductionOnStringsIsUnsupported) {
  Error e = error_of("ScatterND", 18, {attr_string("reduction", "add")},
                     {strings({2}, {"a", "b"}), ints(DType::kInt64, {1, 1}, {0}), strings({1}, {"c"})});
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
}

// ---- strings and other types move intact ----

TEST(TensorOps, StringsThroughEveryMover) {
  Tensor s = strings({2, 2}, {"a", "bb", "", "dddd"});
  expect_tensor_eq(run_op("Tile", 13, {}, {s, i64({1, 2})})[0],
                   strings({2, 4}, {"a", "bb", "a", "bb", "", "dddd", "", "dddd"}));
  expect_tensor_eq(run_op("GatherElements", 13, {attr_int("axis", 1)}, {s, ints(DType::kInt64, {2, 1}, {1, 0})})[0],
                   strings({2, 1}, {"bb", ""}));
  expect_tensor_eq(run_op("ScatterElements", 13, {}, {s, ints(DType::kInt64, {1, 2}, {1, 0}), strings({1, 2}, {"x", "y"})})[0],
                   strings({2, 2}, {"a", "y", "x", "dddd"}));
  expect_tensor_eq(run_op("ReverseSequence", 10, {}, {s, i64({2, 1})})[0], strings({2, 2}, {"", "bb", "a", "dddd"}));
  expect_tensor_eq(run_op("Trilu", 14, {}, {s})[0], strings({2, 2}, {"a", "bb", "", "dddd"}));
  expect_tensor_eq(run_op("Trilu", 14, {attr_int("upper", 0)}, {s, Tensor::scalar<int64_t>(-1)})[0],
                   strings({2, 2}, {"", "", "", ""}));
  expect_tensor_eq(run_op("Compress", 11, {}, {s, ints(DType::kBool, {4}, {0, 1, 0, 1})})[0],
                   strings({2}, {"bb", "dddd"}));
  expect_tensor_eq(run_op("CenterCropPad", 18, {}, {s, i64({1, 3})})[0], strings({1, 3}, {"a", "bb", ""}));
  expect_tensor_eq(run_op("Flatten", 13, {attr_int("axis", 0)}, {s})[0], strings({1, 4}, {"a", "bb", "", "dddd"}));
  Tensor d = strings({1, 4, 1, 1}, {"p", "q", "r", "s"});
  expect_tensor_eq(run_op("DepthToSpace", 13, {attr_int("blocksize", 2)}, {d})[0],
                   strings({1, 1, 2, 2}, {"p", "q", "r", "s"}));
  expect_tensor_eq(run_op("OneHot", 11, {}, {i64({1}), Tensor::scalar<int64_t>(2), strings({2}, {"off", "on"})})[0],
                   strings({1, 2}, {"off", "on"}));
}

TEST(TensorOps, BFloat16AndUInt64Move) {
  Tensor b(DType::kBFloat16, {2});
  b.data<BFloat16>()[0] = BFloat16(1.5f);
  b.data<BFloat16>()[1] = BFloat16(-2.0f);
  Tensor r = run_op("Concat", 13, {attr_int("axis", 0)}, {b, b})[0];
  ASSERT_EQ(r.dims(), (std::vector<int64_t>{4}));
  EXPECT_EQ(static_cast<float>(r.data<BFloat16>()[3]), -2.0f);
  Tensor u = ints(DType::kUInt64, {2}, {7, 9});
  Tensor g = run_op("Gather", 13, {}, {u, i64({1, 1, 0})})[0];
  EXPECT_EQ(g.to_int64_vector(), (std::vector<int64_t>{9, 9, 7}));
}

TEST(TensorOps, ScatterNdAddOnFloat16AndInt8Wraps) {
  Tensor h = floats(DType::kFloat16, {2}, {1.0, 2.0});
  Tensor r = run_op("ScatterND", 16, {attr_string("reduction", "add")},
                    {h, ints(DType::kInt64, {2, 1}, {1, 1}), floats(DType::kFloat16, {2}, {0.5, 0.25})})[0];
  expect_tensor_eq(r, floats(DType::kFloat16, {2}, {1.0, 2.75}));
  // int8 add wraps around like two's complement hardware: 100 + 100 = -56.
  Tensor i8 = run_op("ScatterElements", 16, {attr_string("reduction", "add")},
                     {ints(DType::kInt8, {1}, {100}), i64({0}), ints(DType::kInt8, {1}, {100})})[0];
  EXPECT_EQ(i8.int_at(0), -56);
}

TEST(TensorOps, OpCallWorksForTheseOps) {
  // The shared test helper drives the same registrations.
  Tensor y = OpCall("Transpose", 13).run1({f32_from_f64({2, 1}, {1, 2})});
  expect_tensor_eq(y, f32_from_f64({1, 2}, {1, 2}));
}

}  // namespace
}  // namespace kiln::testing
