#include <gtest/gtest.h>

#include "ir/graph.h"

using namespace kiln;

TEST(Shape, FormatsSymbolsAndNumbers) {
  Shape s({Dim::symbol("batch"), Dim(3), Dim()});
  EXPECT_EQ(s.str(), "[batch,3,?]");
  EXPECT_FALSE(s.is_concrete());
}
