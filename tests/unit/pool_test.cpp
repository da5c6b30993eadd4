// MaxPool / AveragePool / LpPool, the global pools, MaxUnpool and MaxRoiPool against plain loops written
// here from the ONNX spec, on odd sizes, pads, strides, dilations, ceil_mode, 1-D and 3-D windows.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::OpCall;

namespace {

struct PoolGeo {
  std::vector<int64_t> in, k, s, d, pb, pe;
  bool ceil = false;
  std::vector<int64_t> out() const {
    std::vector<int64_t> o;
    for (size_t i = 0; i < in.size(); ++i) {
      const int64_t span = in[i] + pb[i] + pe[i] - ((k[i] - 1) * d[i] + 1);
      int64_t v = (ceil ? (span + s[i] - 1) / s[i] : span / s[i]) + 1;
      if (ceil && (v - 1) * s[i] >= in[i] + pb[i]) --v;  // the last window must start inside input or left pad
      o.push_back(v);
    }
    return o;
  }
};

enum class Kind { kMax, kAvg, kAvgIncludePad, kLp };

// Plain pooling over up to 3 spatial dims; also returns the argmax (row-major or column-major spatial).
Tensor naive_pool(const Tensor& x, const PoolGeo& g, Kind kind, double p, std::vector<int64_t>* argmax = nullptr,
                  bool col_major = false) {
  PoolGeo q = g;
  while (q.in.size() < 3) {
    for (auto* v : {&q.in, &q.k, &q.s, &q.d}) v->insert(v->begin(), 1);
    q.pb.insert(q.pb.begin(), 0);
    q.pe.insert(q.pe.begin(), 0);
  }
  std::vector<int64_t> o = q.out();
  std::vector<int64_t> ydims{x.dim(0), x.dim(1)};
  for (int64_t v : g.out()) ydims.push_back(v);
  Tensor y(DType::kFloat64, ydims);
  const int64_t plane_in = q.in[0] * q.in[1] * q.in[2];
  int64_t yi = 0;
  for (int64_t pl = 0; pl < x.dim(0) * x.dim(1); ++pl)
    for (int64_t o0 = 0; o0 < o[0]; ++o0)
      for (int64_t o1 = 0; o1 < o[1]; ++o1)
        for (int64_t o2 = 0; o2 < o[2]; ++o2) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t valid = 0, padded = 0, best_i = -1;
          for (int64_t k0 = 0; k0 < q.k[0]; ++k0)
            for (int64_t k1 = 0; k1 < q.k[1]; ++k1)
              for (int64_t k2 = 0; k2 < q.k[2]; ++k2) {
                const int64_t i0 = o0 * q.s[0] - q.pb[0] + k0 * q.d[0];
                const int64_t i1 = o1 * q.s[1] - q.pb[1] + k1 * q.d[1];
                const int64_t i2 = o2 * q.s[2] - q.pb[2] + k2 * q.d[2];
                if (i0 < q.in[0] + q.pe[0] && i1 < q.in[1] + q.pe[1] && i2 < q.in[2] + q.pe[2]) ++padded;
                if (i0 < 0 || i0 >= q.in[0] || i1 < 0 || i1 >= q.in[1] || i2 < 0 || i2 >= q.in[2]) continue;
                const double v = x.double_at(pl * plane_in + (i0 * q.in[1] + i1) * q.in[2] + i2);
                ++valid;
                sum += kind == Kind::kLp ? std::pow(std::abs(v), p) : v;
                if (v > best) {
                  best = v;
                  // storage_order 1: column-major over the spatial dims (the first varies fastest)
                  best_i = col_major ? i0 + i1 * q.in[0] + i2 * q.in[0] * q.in[1] : (i0 * q.in[1] + i1) * q.in[2] + i2;
                }
              }
          double r = best;
          if (kind == Kind::kAvg) r = sum / static_cast<double>(valid);
          if (kind == Kind::kAvgIncludePad) r = sum / static_cast<double>(padded);
          if (kind == Kind::kLp) r = std::pow(sum, 1.0 / p);
          if (argmax) argmax->push_back(pl * plane_in + best_i);
          y.data<double>()[yi++] = r;
        }
  return y;
}

OpCall pool_call(const std::string& op, int opset, const PoolGeo& g) {
  std::vector<int64_t> pads = g.pb;
  pads.insert(pads.end(), g.pe.begin(), g.pe.end());
  OpCall c(op, opset);
  c.attr("kernel_shape", g.k).attr("strides", g.s).attr("pads", pads).attr("ceil_mode", int64_t{g.ceil ? 1 : 0});
  if (opset >= 10 && (op != "AveragePool" || opset >= 19)) c.attr("dilations", g.d);
  return c;
}

void expect_near_all(const Tensor& got, const Tensor& want, double tol = 1e-5) {
  ASSERT_EQ(got.dims(), want.dims());
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_NEAR(got.double_at(i), want.double_at(i), tol * (1 + std::abs(want.double_at(i)))) << "element " << i;
}

const PoolGeo kGeos[] = {
    {{7, 9}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, false},
    {{7, 9}, {3, 2}, {2, 3}, {1, 1}, {1, 0}, {0, 1}, true},   // ceil_mode with asymmetric pads
    {{8, 8}, {2, 2}, {3, 3}, {2, 1}, {0, 0}, {0, 0}, true},   // dilation + ceil_mode drops a window
    {{5, 6}, {5, 6}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, false},  // window = whole input
    {{13}, {4}, {3}, {2}, {2}, {1}, true},                    // 1-D
    {{4, 5, 6}, {2, 3, 2}, {2, 1, 2}, {1, 1, 2}, {1, 0, 1}, {0, 1, 1}, true},  // 3-D
};

TEST(MaxPool, MatchesPlainLoopWithIndices) {
  std::mt19937 rng(21);
  for (const PoolGeo& g : kGeos) {
    std::vector<int64_t> xd{2, 3};
    xd.insert(xd.end(), g.in.begin(), g.in.end());
    Tensor x = kiln::testing::random_tensor(xd, rng);
    for (bool col : {false, true}) {
      std::vector<int64_t> argmax;
      Tensor want = naive_pool(x, g, Kind::kMax, 0, &argmax, col);
      auto out = pool_call("MaxPool", 12, g).attr("storage_order", int64_t{col ? 1 : 0}).outputs(2).run({x});
      expect_near_all(out[0], want);
      ASSERT_EQ(out[1].dtype(), DType::kInt64);
      for (size_t i = 0; i < argmax.size(); ++i)
        ASSERT_EQ(out[1].data<int64_t>()[i], argmax[i]) << "element " << i << " col_major " << col << " in " << dims_str(g.in);
    }
  }
}

TEST(MaxPool, EightBitTypes) {
  Tensor x = Tensor::from_vector<int8_t>({1, 1, 3, 3}, {-128, 5, -3, 7, -9, 127, 0, -1, 2});
  Tensor y = OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{2, 2}).run1({x});
  ASSERT_EQ(y.dtype(), DType::kInt8);
  EXPECT_EQ(std::vector<int8_t>(y.data<int8_t>(), y.data<int8_t>() + 4), (std::vector<int8_t>{7, 127, 7, 127}));
  Tensor u = Tensor::from_vector<uint8_t>({1, 1, 2, 3}, {200, 3, 255, 0, 9, 1});
  Tensor yu = OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{2, 2}).run1({u});
  EXPECT_EQ(std::vector<uint8_t>(yu.data<uint8_t>(), yu.data<uint8_t>() + 2), (std::vector<uint8_t>{200, 255}));
}

TEST(MaxPool, SameLowerPutsExtraPadFirst) {
  std::mt19937 rng(22);
  Tensor x = kiln::testing::random_tensor({1, 2, 6, 7}, rng);
  // stride 2, kernel 4: out = ceil(6/2)=3, total = (3-1)*2+4-6 = 2 → (1,1); W: out 4, total = 6+4-7 = 3 → (2,1)
  PoolGeo g{{6, 7}, {4, 4}, {2, 2}, {1, 1}, {1, 2}, {1, 1}, false};
  Tensor y = OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{4, 4})
                 .attr("strides", std::vector<int64_t>{2, 2}).attr("auto_pad", std::string("SAME_LOWER")).run1({x});
  expect_near_all(y, naive_pool(x, g, Kind::kMax, 0));
  PoolGeo gu{{6, 7}, {4, 4}, {2, 2}, {1, 1}, {1, 1}, {1, 2}, false};
  Tensor yu = OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{4, 4})
                  .attr("strides", std::vector<int64_t>{2, 2}).attr("auto_pad", std::string("SAME_UPPER")).run1({x});
  expect_near_all(yu, naive_pool(x, gu, Kind::kMax, 0));
}

TEST(AveragePool, CountIncludePadCeilModeDilations) {
  std::mt19937 rng(23);
  for (const PoolGeo& g : kGeos) {
    std::vector<int64_t> xd{1, 2};
    xd.insert(xd.end(), g.in.begin(), g.in.end());
    Tensor x = kiln::testing::random_tensor(xd, rng);
    for (bool include : {false, true}) {
      Tensor y = pool_call("AveragePool", 19, g).attr("count_include_pad", int64_t{include ? 1 : 0}).run1({x});
      expect_near_all(y, naive_pool(x, g, include ? Kind::kAvgIncludePad : Kind::kAvg, 0));
    }
  }
}

TEST(AveragePool, HalfPrecision) {
  std::mt19937 rng(24);
  Tensor x = kiln::testing::random_tensor({1, 2, 5, 5}, rng, DType::kFloat16);
  PoolGeo g{{5, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, false};
  Tensor y = pool_call("AveragePool", 11, g).run1({x});
  ASSERT_EQ(y.dtype(), DType::kFloat16);
  expect_near_all(y, naive_pool(x, g, Kind::kAvg, 0), 2e-3);
}

TEST(AveragePool, DoubleKeepsDoublePrecision) {
  Tensor x = Tensor::from_vector<double>({1, 1, 1, 2}, {1.0 + 1e-12, 1.0});
  Tensor y = OpCall("AveragePool", 19).attr("kernel_shape", std::vector<int64_t>{1, 2}).run1({x});
  EXPECT_EQ(y.data<double>()[0], (2.0 + 1e-12) / 2);  // float rounding would give exactly 1
  Tensor g = OpCall("GlobalAveragePool", 1).run1({x});
  EXPECT_EQ(g.data<double>()[0], (2.0 + 1e-12) / 2);
}

TEST(LpPool, PowersOneTwoThree) {
  std::mt19937 rng(25);
  for (const PoolGeo& g : kGeos) {
    std::vector<int64_t> xd{1, 2};
    xd.insert(xd.end(), g.in.begin(), g.in.end());
    Tensor x = kiln::testing::random_tensor(xd, rng);
    for (int64_t p : {1, 2, 3}) {
      Tensor y = pool_call("LpPool", 18, g).attr("p", p).run1({x});
      expect_near_all(y, naive_pool(x, g, Kind::kLp, static_cast<double>(p)), 1e-4);
    }
  }
}

TEST(GlobalPools, MatchPlainLoops) {
  std::mt19937 rng(26);
  Tensor x = kiln::testing::random_tensor({2, 3, 4, 5}, rng);
  Tensor avg = OpCall("GlobalAveragePool", 1).run1({x});
  Tensor mx = OpCall("GlobalMaxPool", 1).run1({x});
  Tensor lp = OpCall("GlobalLpPool", 2).attr("p", int64_t{3}).run1({x});
  ASSERT_EQ(avg.dims(), (std::vector<int64_t>{2, 3, 1, 1}));
  for (int64_t pl = 0; pl < 6; ++pl) {
    double s = 0, m = -1e30, l = 0;
    for (int64_t i = 0; i < 20; ++i) {
      const double v = x.double_at(pl * 20 + i);
      s += v, m = std::max(m, v), l += std::pow(std::abs(v), 3.0);
    }
    EXPECT_NEAR(avg.double_at(pl), s / 20, 1e-6);
    EXPECT_NEAR(mx.double_at(pl), m, 1e-7);
    EXPECT_NEAR(lp.double_at(pl), std::cbrt(l), 1e-5);
  }
  // 1-D and 3-D inputs keep their rank.
  Tensor x3 = kiln::testing::random_tensor({1, 2, 2, 3, 2}, rng);
  EXPECT_EQ(OpCall("GlobalAveragePool", 1).run1({x3}).dims(), (std::vector<int64_t>{1, 2, 1, 1, 1}));
}

TEST(MaxUnpool, InvertsMaxPoolPositions) {
  std::mt19937 rng(27);
  Tensor x = kiln::testing::random_tensor({1, 2, 4, 6}, rng);
  auto pooled = OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{2, 2})
                    .attr("strides", std::vector<int64_t>{2, 2}).outputs(2).run({x});
  Tensor y = OpCall("MaxUnpool", 11).attr("kernel_shape", std::vector<int64_t>{2, 2})
                 .attr("strides", std::vector<int64_t>{2, 2}).run1({pooled[0], pooled[1]});
  ASSERT_EQ(y.dims(), x.dims());
  // Every 2x2 block keeps only its maximum, at its place; the rest is 0.
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t bh = 0; bh < 2; ++bh)
      for (int64_t bw = 0; bw < 3; ++bw) {
        double best = -1e30;
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) best = std::max(best, x.double_at((c * 4 + bh * 2 + i) * 6 + bw * 2 + j));
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) {
            const int64_t at = (c * 4 + bh * 2 + i) * 6 + bw * 2 + j;
            EXPECT_EQ(y.double_at(at), x.double_at(at) == best ? best : 0.0);
          }
      }
  // An index past the output is refused, not written.
  Tensor bad = pooled[1].clone();
  bad.data<int64_t>()[0] = 1000;
  EXPECT_THROW(OpCall("MaxUnpool", 11).attr("kernel_shape", std::vector<int64_t>{2, 2})
                   .attr("strides", std::vector<int64_t>{2, 2}).run1({pooled[0], bad}), Error);
}

TEST(MaxRoiPool, CaffeBins) {
  // 1x1x4x4 image 0..15; roi (batch 0) x1=0,y1=0,x2=3,y2=1 → region rows 0-1, cols 0-3; pooled 1x2.
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  Tensor x = Tensor::from_vector<float>({1, 1, 4, 4}, v);
  Tensor rois = Tensor::from_vector<float>({2, 5}, {0, 0, 0, 3, 1, 0, 1, 1, 2, 3});
  Tensor y = OpCall("MaxRoiPool", 1).attr("pooled_shape", std::vector<int64_t>{1, 2}).run1({x, rois});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{2, 1, 1, 2}));
  EXPECT_EQ(y.data<float>()[0], 5.0f);   // rows 0-1, cols 0-1
  EXPECT_EQ(y.data<float>()[1], 7.0f);   // rows 0-1, cols 2-3
  EXPECT_EQ(y.data<float>()[2], 13.0f);  // roi 2: rows 1-3, cols 1-2 → bins cols 1 / 2
  EXPECT_EQ(y.data<float>()[3], 14.0f);
  Tensor bad = Tensor::from_vector<float>({1, 5}, {3, 0, 0, 1, 1});
  EXPECT_THROW(OpCall("MaxRoiPool", 1).attr("pooled_shape", std::vector<int64_t>{1, 1}).run1({x, bad}), Error);
}

TEST(Pool, SymbolicInferenceAndErrors) {
  kiln::testing::InferNode call("MaxPool", 12);
  call.ints("kernel_shape", {3, 3}).ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1});
  auto out = call.run({{DType::kFloat32, Shape({Dim::symbol("N"), Dim(64), Dim::symbol("h"), Dim(112)})}}, 2);
  EXPECT_EQ(out[0].shape.str(), "[N,64,?,56]");
  EXPECT_EQ(out[1].dtype, DType::kInt64);
  std::mt19937 rng(28);
  Tensor x = kiln::testing::random_tensor({1, 1, 2, 2}, rng);
  EXPECT_THROW(OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{3, 3}).run1({x}), Error);
  EXPECT_THROW(OpCall("MaxPool", 12).run1({x}), Error);  // kernel_shape missing
  EXPECT_THROW(OpCall("AveragePool", 19).attr("kernel_shape", std::vector<int64_t>{1}).run1({x}), Error);
}

}  // namespace
