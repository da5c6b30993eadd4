// Edge and hostile inputs for the NN ops: empty dims, absurd attributes, non-finite data. Each must either
// work or raise kiln::Error; none may crash (run these under the ASan/UBSan debug preset too).

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::OpCall;

namespace {

template <typename F> void works_or_errors(F&& f) {
  try {
    f();
  } catch (const Error&) {
  }
}

TEST(NnRobustness, EmptyDims) {
  std::mt19937 rng(51);
  Tensor x0 = kiln::testing::random_tensor({0, 3, 5, 5}, rng), w = kiln::testing::random_tensor({4, 3, 3, 3}, rng);
  EXPECT_EQ(OpCall("Conv", 13).run1({x0, w}).dims(), (std::vector<int64_t>{0, 4, 3, 3}));
  Tensor xc0 = kiln::testing::random_tensor({1, 0, 4, 4}, rng), wc0 = kiln::testing::random_tensor({2, 0, 3, 3}, rng);
  Tensor b = Tensor::from_vector<float>({2}, {1.5f, -2.0f});
  Tensor yc0 = OpCall("Conv", 13).run1({xc0, wc0, b});  // no input channels: the output is the bias
  EXPECT_EQ(yc0.data<float>()[0], 1.5f);
  EXPECT_EQ(yc0.data<float>()[yc0.numel() - 1], -2.0f);
  EXPECT_EQ(OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{2, 2}).run1({x0}).numel(), 0);
  Tensor a = kiln::testing::random_tensor({3, 0}, rng), bm = kiln::testing::random_tensor({0, 4}, rng);
  Tensor y = OpCall("MatMul", 13).run1({a, bm});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{3, 4}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], 0.0f);
  EXPECT_EQ(OpCall("Gemm", 13).run1({kiln::testing::random_tensor({0, 2}, rng), kiln::testing::random_tensor({2, 5}, rng)}).dims(),
            (std::vector<int64_t>{0, 5}));
  Tensor e = OpCall("Einsum", 12).attr("equation", std::string("ij,jk->ik")).run1({a, bm});
  for (int64_t i = 0; i < e.numel(); ++i) EXPECT_EQ(e.data<float>()[i], 0.0f);
  EXPECT_EQ(OpCall("ConvTranspose", 11).run1({kiln::testing::random_tensor({0, 4, 3, 3}, rng), w}).dims(),
            (std::vector<int64_t>{0, 3, 5, 5}));
}

TEST(NnRobustness, AbsurdAttributes) {
  std::mt19937 rng(52);
  Tensor x = kiln::testing::random_tensor({1, 1, 4, 4}, rng), w = kiln::testing::random_tensor({1, 1, 2, 2}, rng);
  const int64_t huge = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_THROW(OpCall("Conv", 13).attr("pads", std::vector<int64_t>{huge, huge, huge, huge}).run1({x, w}), Error);
  EXPECT_THROW(OpCall("Conv", 13).attr("dilations", std::vector<int64_t>{huge, 1}).run1({x, w}), Error);
  EXPECT_THROW(OpCall("Conv", 13).attr("pads", std::vector<int64_t>{-1, 0, 0, 0}).run1({x, w}), Error);
  EXPECT_THROW(OpCall("Conv", 13).attr("auto_pad", std::string("SAME")).run1({x, w}), Error);
  EXPECT_THROW(OpCall("Conv", 13).attr("kernel_shape", std::vector<int64_t>{3, 3}).run1({x, w}), Error);
  works_or_errors([&] { OpCall("Conv", 13).attr("strides", std::vector<int64_t>{huge, huge}).run1({x, w}); });
  EXPECT_THROW(OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{huge, 1}).run1({x}), Error);
  EXPECT_THROW(OpCall("AveragePool", 19).attr("kernel_shape", std::vector<int64_t>{2, 2})
                   .attr("pads", std::vector<int64_t>{huge, huge, huge, huge}).run1({x}), Error);
  EXPECT_THROW(OpCall("ConvTranspose", 11).attr("output_padding", std::vector<int64_t>{5, 5}).run1({x, w}), Error);
  EXPECT_THROW(OpCall("ConvTranspose", 11).attr("pads", std::vector<int64_t>{9, 9, 9, 9}).run1({x, w}), Error);
  EXPECT_THROW(OpCall("ConvTranspose", 11).attr("output_shape", std::vector<int64_t>{-3, 4}).run1({x, w}), Error);
  EXPECT_THROW(OpCall("Gemm", 13).run1({x, w}), Error);  // 4-D operands
  EXPECT_THROW(OpCall("LpPool", 18).attr("kernel_shape", std::vector<int64_t>{2, 2}).attr("p", int64_t{0}).run1({x}), Error);
  EXPECT_THROW(OpCall("RoiAlign", 16).attr("output_height", int64_t{0})
                   .run1({x, Tensor::from_vector<float>({1, 4}, {0, 0, 1, 1}), Tensor::from_vector<int64_t>({1}, {0})}), Error);
  EXPECT_THROW(OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{1, 1, 1, 1, 1, 1})
                   .run1({kiln::testing::random_tensor({1, 1, 1, 1, 1, 1, 1, 1}, rng)}), Error);  // 6-D windows
}

TEST(NnRobustness, NonFiniteData) {
  Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // RoiAlign: NaN / inf / enormous rois either sample nothing or are refused.
  for (std::vector<float> roi : {std::vector<float>{nan, 0, 1, 1}, {0, 0, inf, inf}, {-1e30f, -1e30f, 1e30f, 1e30f}}) {
    works_or_errors([&] {
      OpCall("RoiAlign", 16).run1({x, Tensor::from_vector<float>({1, 4}, roi), Tensor::from_vector<int64_t>({1}, {0})});
    });
    works_or_errors([&] {
      OpCall("RoiAlign", 16).attr("sampling_ratio", int64_t{2})
          .run1({x, Tensor::from_vector<float>({1, 4}, roi), Tensor::from_vector<int64_t>({1}, {0})});
    });
  }
  EXPECT_THROW(OpCall("RoiAlign", 16).run1({x, Tensor::from_vector<float>({1, 4}, {0, 0, 1, 1}),
                                            Tensor::from_vector<int64_t>({1}, {7})}), Error);
  EXPECT_THROW(OpCall("MaxRoiPool", 1).attr("pooled_shape", std::vector<int64_t>{1, 1})
                   .run1({x, Tensor::from_vector<float>({1, 5}, {0, nan, 0, 1, 1})}), Error);
  works_or_errors([&] {
    OpCall("MaxRoiPool", 1).attr("pooled_shape", std::vector<int64_t>{2, 2})
        .run1({x, Tensor::from_vector<float>({1, 5}, {0, -1e30f, -1e30f, 1e30f, 1e30f})});
  });
  Tensor q = OpCall("QuantizeLinear", 13).run1({Tensor::from_vector<float>({3}, {nan, inf, -inf}), Tensor::scalar<float>(1.0f)});
  EXPECT_EQ(q.data<uint8_t>()[1], 255);
  EXPECT_EQ(q.data<uint8_t>()[2], 0);
  works_or_errors([&] { OpCall("DynamicQuantizeLinear", 11).outputs(3).run({Tensor::from_vector<float>({2}, {nan, inf})}); });
  Tensor idx = Tensor::from_vector<int64_t>({1, 1, 1, 1}, {-1});
  EXPECT_THROW(OpCall("MaxUnpool", 11).attr("kernel_shape", std::vector<int64_t>{2, 2})
                   .run1({Tensor::from_vector<float>({1, 1, 1, 1}, {1}), idx}), Error);
}

}  // namespace
