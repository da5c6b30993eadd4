// ops::broadcast_batch: numpy broadcasting of batch dims, 1-sized dims dropped, neighbours merged when every
// operand's strides line up, and clear refusals.

#include <gtest/gtest.h>

#include <vector>

#include "ops/batch_layout.h"

namespace kiln::ops {
namespace {

BatchLayout layout(std::vector<std::vector<int64_t>> dims, std::vector<int64_t> matrix, bool* ok = nullptr) {
  std::vector<BatchOperand> ops;
  for (size_t i = 0; i < dims.size(); ++i) ops.push_back({dims[i], matrix[i]});
  BatchLayout l;
  const bool r = broadcast_batch(ops, l);
  if (ok) *ok = r;
  else EXPECT_TRUE(r);
  return l;
}

TEST(BatchLayout, HeadsAgainstHeadsMergeIntoOneDim) {
  const BatchLayout l = layout({{2, 12}, {2, 12}, {2, 12}}, {10, 20, 30});
  ASSERT_EQ(l.rank, 1);
  EXPECT_EQ(l.dims[0], 24);
  EXPECT_EQ(l.strides[0][0], 10);
  EXPECT_EQ(l.strides[1][0], 20);
  EXPECT_EQ(l.strides[2][0], 30);
  EXPECT_EQ(l.count, 24);
  EXPECT_TRUE(l.contiguous(0, 10));
}

TEST(BatchLayout, SharedOperandAndOneSizedDims) {
  const BatchLayout l = layout({{1, 3, 1, 4}, {}, {3, 1, 4}}, {6, 5, 7});
  ASSERT_EQ(l.rank, 1);
  EXPECT_EQ(l.dims[0], 12);
  EXPECT_EQ(l.strides[1][0], 0);
  EXPECT_TRUE(l.contiguous(0, 6));
}

TEST(BatchLayout, CrossBroadcastKeepsTwoDims) {
  const BatchLayout l = layout({{2, 1}, {1, 3}, {2, 3}}, {4, 5, 6});
  ASSERT_EQ(l.rank, 2);
  EXPECT_EQ(l.dims[0], 2);
  EXPECT_EQ(l.dims[1], 3);
  // Flat index 4 is (1, 1): A's matrix 1, B's matrix 1, C's matrix 4.
  EXPECT_EQ(l.offset(0, 4), 4);
  EXPECT_EQ(l.offset(1, 4), 5);
  EXPECT_EQ(l.offset(2, 4), 24);
  EXPECT_FALSE(l.contiguous(0, 4));
}

TEST(BatchLayout, NoBatchDimsIsRankZero) {
  const BatchLayout l = layout({{}, {1, 1}, {}}, {4, 5, 6});
  EXPECT_EQ(l.rank, 0);
  EXPECT_EQ(l.count, 1);
  EXPECT_EQ(l.offset(2, 0), 0);
}

TEST(BatchLayout, RefusesMismatchesAndTooManyDims) {
  bool ok = true;
  layout({{2}, {3}}, {1, 1}, &ok);
  EXPECT_FALSE(ok);
  layout({{1, 1, 1, 1, 1, 1, 1, 1, 2}, {}}, {1, 1}, &ok);
  EXPECT_FALSE(ok);
  const BatchLayout empty = layout({{0, 3}, {1, 3}}, {2, 2});
  EXPECT_EQ(empty.count, 0);
}

}  // namespace
}  // namespace kiln::ops
