// Conv, ConvTranspose, ConvInteger and QLinearConv against plain direct loops written here from the ONNX spec
// (independent of kiln's im2col/GEMM path), plus symbolic inference and error messages.

#include <gtest/gtest.h>

#include <cmath>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::OpCall;

namespace {

// Up to three spatial dims; unused leading ones are size 1 with a 1-wide window.
struct Geo {
  std::vector<int64_t> in, k, s, d, pb, pe;
  std::vector<int64_t> out() const {
    std::vector<int64_t> o;
    for (size_t i = 0; i < in.size(); ++i) o.push_back((in[i] + pb[i] + pe[i] - ((k[i] - 1) * d[i] + 1)) / s[i] + 1);
    return o;
  }
  Geo padded3() const {
    Geo g = *this;
    while (g.in.size() < 3) {
      for (auto* v : {&g.in, &g.k, &g.s, &g.d}) v->insert(v->begin(), 1);
      g.pb.insert(g.pb.begin(), 0);
      g.pe.insert(g.pe.begin(), 0);
    }
    return g;
  }
};

// y[n, m, o] = b[m] + sum_{c, k} x[n, g*Cg + c, o*s - pb + k*d] * w[m, c, k]
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor* b, int64_t group, const Geo& geo) {
  const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0), Cg = C / group, Mg = M / group;
  Geo g = geo.padded3();
  std::vector<int64_t> o = g.out();
  std::vector<int64_t> ydims{N, M};
  for (int64_t v : geo.out()) ydims.push_back(v);
  Tensor y(DType::kFloat64, ydims);
  int64_t yi = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t o0 = 0; o0 < o[0]; ++o0)
        for (int64_t o1 = 0; o1 < o[1]; ++o1)
          for (int64_t o2 = 0; o2 < o[2]; ++o2) {
            double acc = b ? b->double_at(m) : 0.0;
            const int64_t gi = m / Mg;
            for (int64_t c = 0; c < Cg; ++c)
              for (int64_t k0 = 0; k0 < g.k[0]; ++k0)
                for (int64_t k1 = 0; k1 < g.k[1]; ++k1)
                  for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                    const int64_t i0 = o0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                    const int64_t i1 = o1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                    const int64_t i2 = o2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                    if (i0 < 0 || i0 >= g.in[0] || i1 < 0 || i1 >= g.in[1] || i2 < 0 || i2 >= g.in[2]) continue;
                    const int64_t xi = (((n * C + gi * Cg + c) * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2;
                    const int64_t wi = (((m * Cg + c) * g.k[0] + k0) * g.k[1] + k1) * g.k[2] + k2;
                    acc += x.double_at(xi) * w.double_at(wi);
                  }
            y.data<double>()[yi++] = acc;
          }
  return y;
}

void expect_near_all(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.dims(), want.dims());
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_NEAR(got.double_at(i), want.double_at(i), tol * (1 + std::abs(want.double_at(i)))) << "element " << i;
}

struct ConvCase {
  int64_t N, C, M, group;
  Geo geo;
  bool bias = true;
};

void run_conv_case(const ConvCase& c, std::mt19937& rng, DType t = DType::kFloat32, double tol = 1e-4) {
  const size_t r = c.geo.in.size();
  std::vector<int64_t> xd{c.N, c.C}, wd{c.M, c.C / c.group};
  xd.insert(xd.end(), c.geo.in.begin(), c.geo.in.end());
  wd.insert(wd.end(), c.geo.k.begin(), c.geo.k.end());
  Tensor x = kiln::testing::random_tensor(xd, rng, t), w = kiln::testing::random_tensor(wd, rng, t);
  Tensor b = kiln::testing::random_tensor({c.M}, rng, t);
  std::vector<int64_t> pads = c.geo.pb;
  pads.insert(pads.end(), c.geo.pe.begin(), c.geo.pe.end());
  OpCall call("Conv", 22);
  call.attr("strides", c.geo.s).attr("dilations", c.geo.d).attr("pads", pads).attr("group", c.group);
  if (r == 2) call.attr("kernel_shape", c.geo.k);
  Tensor y = c.bias ? call.run1({x, w, b}) : call.run1({x, w});
  ASSERT_EQ(y.dtype(), t);
  expect_near_all(y, naive_conv(x, w, c.bias ? &b : nullptr, c.group, c.geo), tol);
}

TEST(Conv, TwoDStridesDilationsAsymmetricPads) {
  std::mt19937 rng(1);
  run_conv_case({2, 3, 5, 1, {{7, 9}, {3, 2}, {2, 1}, {1, 2}, {1, 0}, {2, 1}}}, rng);
  run_conv_case({1, 1, 1, 1, {{1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}}}, rng);
  run_conv_case({1, 5, 3, 1, {{13, 1}, {5, 1}, {3, 1}, {2, 1}, {4, 0}, {3, 0}}, false}, rng);
}

TEST(Conv, Groups) {
  std::mt19937 rng(2);
  run_conv_case({2, 6, 4, 2, {{5, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}}, rng);
  run_conv_case({1, 9, 6, 3, {{8, 7}, {2, 3}, {2, 2}, {1, 1}, {0, 1}, {1, 0}}}, rng);
}

TEST(Conv, DepthwiseDirectLoop) {
  std::mt19937 rng(3);
  run_conv_case({2, 8, 8, 8, {{9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}}}, rng);
  // channel multiplier 2, dilation, asymmetric pads
  run_conv_case({1, 4, 8, 4, {{7, 11}, {3, 2}, {1, 3}, {2, 2}, {2, 0}, {1, 3}}}, rng);
  run_conv_case({1, 5, 5, 5, {{6, 6}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}}, false}, rng);
}

TEST(Conv, PointwiseSkipsIm2col) {
  std::mt19937 rng(4);
  run_conv_case({3, 16, 7, 1, {{5, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}}}, rng);
  run_conv_case({1, 16, 8, 4, {{3, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}}}, rng);
  run_conv_case({1, 6, 4, 1, {{6, 5}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}}}, rng);  // strided 1x1
}

TEST(Conv, OneAndThreeDims) {
  std::mt19937 rng(5);
  run_conv_case({2, 3, 4, 1, {{11}, {3}, {2}, {2}, {2}, {1}}}, rng);
  run_conv_case({1, 4, 6, 2, {{9}, {1}, {1}, {1}, {0}, {0}}}, rng);
  run_conv_case({1, 2, 3, 1, {{4, 5, 6}, {2, 3, 2}, {1, 2, 1}, {1, 1, 2}, {0, 1, 1}, {1, 0, 0}}}, rng);
}

TEST(Conv, LargerThanOneGemmBlock) {
  std::mt19937 rng(6);
  run_conv_case({1, 40, 130, 1, {{15, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}}, rng, DType::kFloat32, 2e-4);
}

TEST(Conv, DoubleAndHalfTypes) {
  std::mt19937 rng(7);
  run_conv_case({1, 4, 3, 1, {{6, 5}, {3, 3}, {2, 1}, {1, 1}, {1, 1}, {1, 0}}}, rng, DType::kFloat64, 1e-12);
  run_conv_case({1, 4, 4, 4, {{6, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}}, rng, DType::kFloat64, 1e-12);
  run_conv_case({1, 4, 3, 1, {{6, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}}, rng, DType::kFloat16, 2e-2);
  run_conv_case({1, 4, 3, 1, {{6, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}}, rng, DType::kBFloat16, 5e-2);
}

// auto_pad: the pads the spec prescribes, computed here, then the same naive loop.
TEST(Conv, AutoPadModes) {
  std::mt19937 rng(8);
  Tensor x = kiln::testing::random_tensor({1, 2, 7, 8}, rng), w = kiln::testing::random_tensor({3, 2, 4, 3}, rng);
  for (std::string mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    SCOPED_TRACE(mode);
    Geo g{{7, 8}, {4, 3}, {2, 3}, {1, 1}, {0, 0}, {0, 0}};
    if (mode != "VALID") {
      for (size_t i = 0; i < 2; ++i) {
        const int64_t out = (g.in[i] + g.s[i] - 1) / g.s[i];
        const int64_t total = std::max<int64_t>(0, (out - 1) * g.s[i] + g.k[i] - g.in[i]);
        g.pb[i] = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
        g.pe[i] = total - g.pb[i];
      }
    }
    Tensor y = OpCall("Conv", 11).attr("auto_pad", mode).attr("strides", std::vector<int64_t>{2, 3}).run1({x, w});
    expect_near_all(y, naive_conv(x, w, nullptr, 1, g), 1e-4);
    if (mode != "VALID") {
      EXPECT_EQ(y.dims(), (std::vector<int64_t>{1, 3, 4, 3}));
    }
  }
}

TEST(Conv, SymbolicInferenceKeepsBatch) {
  kiln::testing::InferNode call("Conv", 13);
  call.ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1});
  auto out = call.run({{DType::kFloat32, Shape({Dim::symbol("batch"), Dim(3), Dim::symbol("h"), Dim(224)})},
                       {DType::kFloat32, Shape::from({16, 3, 3, 3})}});
  EXPECT_EQ(out[0].shape.str(), "[batch,16,?,112]");
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  // Unknown rank of x: the rank still comes from w.
  auto out2 = kiln::testing::InferNode("Conv", 13).run(
      {{DType::kFloat32, Shape::unknown_rank()}, {DType::kFloat32, Shape::from({16, 3, 3, 3})}});
  EXPECT_EQ(out2[0].shape.str(), "[?,16,?,?]");
}

TEST(Conv, ChannelMismatchNamesBothShapes) {
  std::mt19937 rng(9);
  Tensor x = kiln::testing::random_tensor({1, 4, 5, 5}, rng), w = kiln::testing::random_tensor({2, 3, 3, 3}, rng);
  const std::string msg = kiln::testing::error_of([&] { OpCall("Conv", 13).run1({x, w}); });
  EXPECT_NE(msg.find("[1,4,5,5]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2,3,3,3]"), std::string::npos) << msg;
  // Kernel larger than the padded input, and a bias of the wrong length.
  Tensor small = kiln::testing::random_tensor({1, 3, 2, 2}, rng);
  EXPECT_THROW(OpCall("Conv", 13).run1({small, w}), Error);
  Tensor bad_bias = kiln::testing::random_tensor({3}, rng);
  Tensor x3 = kiln::testing::random_tensor({1, 3, 5, 5}, rng);
  EXPECT_THROW(OpCall("Conv", 13).run1({x3, w, bad_bias}), Error);
  EXPECT_THROW(OpCall("Conv", 13).attr("group", int64_t{0}).run1({x3, w}), Error);
  EXPECT_THROW(OpCall("Conv", 13).attr("strides", std::vector<int64_t>{0, 1}).run1({x3, w}), Error);
  EXPECT_THROW(OpCall("Conv", 13).attr("pads", std::vector<int64_t>{1, 1}).run1({x3, w}), Error);
}

// ---- ConvTranspose ----

// y[n, g*Mg + m, i*s - pb + k*d] += x[n, c, i] * w[c, m, k]
Tensor naive_conv_transpose(const Tensor& x, const Tensor& w, const Tensor* b, int64_t group, const Geo& geo,
                            const std::vector<int64_t>& out_spatial) {
  const int64_t N = x.dim(0), C = x.dim(1), Cg = C / group, Mg = w.dim(1), M = Mg * group;
  Geo g = geo.padded3();
  std::vector<int64_t> o = out_spatial;
  while (o.size() < 3) o.insert(o.begin(), 1);
  std::vector<int64_t> ydims{N, M};
  ydims.insert(ydims.end(), out_spatial.begin(), out_spatial.end());
  Tensor y(DType::kFloat64, ydims);
  double* ys = y.data<double>();
  const int64_t plane = o[0] * o[1] * o[2];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t p = 0; p < plane; ++p) ys[(n * M + m) * plane + p] = b ? b->double_at(m) : 0.0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i0 = 0; i0 < g.in[0]; ++i0)
        for (int64_t i1 = 0; i1 < g.in[1]; ++i1)
          for (int64_t i2 = 0; i2 < g.in[2]; ++i2) {
            const double xv = x.double_at((((n * C + c) * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2);
            for (int64_t m = 0; m < Mg; ++m)
              for (int64_t k0 = 0; k0 < g.k[0]; ++k0)
                for (int64_t k1 = 0; k1 < g.k[1]; ++k1)
                  for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                    const int64_t y0 = i0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                    const int64_t y1 = i1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                    const int64_t y2 = i2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                    if (y0 < 0 || y0 >= o[0] || y1 < 0 || y1 >= o[1] || y2 < 0 || y2 >= o[2]) continue;
                    const double wv = w.double_at((((c * Mg + m) * g.k[0] + k0) * g.k[1] + k1) * g.k[2] + k2);
                    ys[((n * M + (c / Cg) * Mg + m) * o[0] + y0) * o[1] * o[2] + y1 * o[2] + y2] += xv * wv;
                  }
          }
  return y;
}

TEST(ConvTranspose, StridesPadsOutputPaddingGroupsDilations) {
  std::mt19937 rng(10);
  // x [2, 4, 3, 5], w [4, 3, 3, 2], group 2 → 6 output channels.
  Tensor x = kiln::testing::random_tensor({2, 4, 3, 5}, rng), w = kiln::testing::random_tensor({4, 3, 3, 2}, rng);
  Tensor b = kiln::testing::random_tensor({6}, rng);
  Geo g{{3, 5}, {3, 2}, {2, 3}, {2, 1}, {1, 0}, {0, 2}};
  const std::vector<int64_t> op{1, 2};
  std::vector<int64_t> out;
  for (size_t i = 0; i < 2; ++i) out.push_back(g.s[i] * (g.in[i] - 1) + op[i] + (g.k[i] - 1) * g.d[i] + 1 - g.pb[i] - g.pe[i]);
  Tensor y = OpCall("ConvTranspose", 22)
                 .attr("strides", g.s)
                 .attr("dilations", g.d)
                 .attr("pads", std::vector<int64_t>{1, 0, 0, 2})
                 .attr("output_padding", op)
                 .attr("group", int64_t{2})
                 .run1({x, w, b});
  expect_near_all(y, naive_conv_transpose(x, w, &b, 2, g, out), 1e-4);
}

TEST(ConvTranspose, OneDAndThreeD) {
  std::mt19937 rng(11);
  Tensor x = kiln::testing::random_tensor({1, 2, 6}, rng), w = kiln::testing::random_tensor({2, 3, 4}, rng);
  Tensor y = OpCall("ConvTranspose", 11).attr("strides", std::vector<int64_t>{3}).run1({x, w});
  expect_near_all(y, naive_conv_transpose(x, w, nullptr, 1, {{6}, {4}, {3}, {1}, {0}, {0}}, {19}), 1e-4);
  Tensor x3 = kiln::testing::random_tensor({1, 2, 2, 3, 2}, rng), w3 = kiln::testing::random_tensor({2, 2, 2, 2, 3}, rng);
  Tensor y3 = OpCall("ConvTranspose", 11).attr("strides", std::vector<int64_t>{2, 1, 2}).run1({x3, w3});
  expect_near_all(y3, naive_conv_transpose(x3, w3, nullptr, 1, {{2, 3, 2}, {2, 2, 3}, {2, 1, 2}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}}, {4, 4, 5}), 1e-4);
}

TEST(ConvTranspose, OutputShapeAndSamePadding) {
  std::mt19937 rng(12);
  Tensor x = kiln::testing::random_tensor({1, 1, 3, 4}, rng), w = kiln::testing::random_tensor({1, 2, 3, 3}, rng);
  // SAME_UPPER: out = in * stride; total pad = stride*(in-1) + k - out, the extra half at the end.
  Tensor y = OpCall("ConvTranspose", 11).attr("auto_pad", std::string("SAME_UPPER"))
                 .attr("strides", std::vector<int64_t>{2, 2}).run1({x, w});
  // H: total = 2*2 + 3 - 6 = 1 → pads (0, 1); W: total = 2*3 + 3 - 8 = 1 → (0, 1)
  expect_near_all(y, naive_conv_transpose(x, w, nullptr, 1, {{3, 4}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {1, 1}}, {6, 8}), 1e-4);
  Tensor yl = OpCall("ConvTranspose", 11).attr("auto_pad", std::string("SAME_LOWER"))
                  .attr("strides", std::vector<int64_t>{2, 2}).run1({x, w});
  expect_near_all(yl, naive_conv_transpose(x, w, nullptr, 1, {{3, 4}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {0, 0}}, {6, 8}), 1e-4);
  // output_shape larger than the natural size: zero-filled rows at the end.
  Tensor yo = OpCall("ConvTranspose", 11).attr("output_shape", std::vector<int64_t>{8, 10})
                  .attr("strides", std::vector<int64_t>{2, 2}).run1({x, w});
  expect_near_all(yo, naive_conv_transpose(x, w, nullptr, 1, {{3, 4}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}}, {8, 10}), 1e-4);
}

TEST(ConvTranspose, InferenceAndErrors) {
  kiln::testing::InferNode call("ConvTranspose", 11);
  call.ints("strides", {2, 2}).integer("group", 2);
  auto out = call.run({{DType::kFloat32, Shape({Dim::symbol("n"), Dim(4), Dim(5), Dim::symbol("w")})},
                       {DType::kFloat32, Shape::from({4, 3, 3, 3})}});
  EXPECT_EQ(out[0].shape.str(), "[n,6,11,?]");
  std::mt19937 rng(13);
  Tensor x = kiln::testing::random_tensor({1, 3, 4, 4}, rng), w = kiln::testing::random_tensor({2, 3, 3, 3}, rng);
  const std::string msg = kiln::testing::error_of([&] { OpCall("ConvTranspose", 11).run1({x, w}); });
  EXPECT_NE(msg.find("[1,3,4,4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2,3,3,3]"), std::string::npos) << msg;
}

// ---- ConvInteger / QLinearConv ----

TEST(ConvInteger, ZeroPointsPerTensorAndPerChannel) {
  // x uint8 [1,1,3,3] with zero point 2; w uint8 [2,1,2,2] with per-channel zero points {1, 3}.
  Tensor x = Tensor::from_vector<uint8_t>({1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10});
  Tensor w = Tensor::from_vector<uint8_t>({2, 1, 2, 2}, {1, 2, 3, 4, 3, 3, 5, 0});
  Tensor xz = Tensor::scalar<uint8_t>(2), wz = Tensor::from_vector<uint8_t>({2}, {1, 3});
  Tensor y = OpCall("ConvInteger", 10).attr("pads", std::vector<int64_t>{0, 0, 1, 1}).run1({x, w, xz, wz});
  // centered x = [[0,1,2],[3,4,5],[6,7,8]], w0 = [[0,1],[2,3]], w1 = [[0,0],[2,-3]]; pad bottom/right with 0.
  std::vector<int32_t> want = {
      0 * 0 + 1 * 1 + 3 * 2 + 4 * 3, 1 * 0 + 2 * 1 + 4 * 2 + 5 * 3, 2 * 0 + 0 + 5 * 2 + 0,
      3 * 0 + 4 * 1 + 6 * 2 + 7 * 3, 4 * 0 + 5 * 1 + 7 * 2 + 8 * 3, 5 * 0 + 0 + 8 * 2 + 0,
      6 * 0 + 7 * 1,                 7 * 0 + 8 * 1,                 8 * 0,
      3 * 2 - 4 * 3,                 4 * 2 - 5 * 3,                 5 * 2,
      6 * 2 - 7 * 3,                 7 * 2 - 8 * 3,                 8 * 2,
      0,                             0,                             0};
  ASSERT_EQ(y.dtype(), DType::kInt32);
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{1, 2, 3, 3}));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y.data<int32_t>()[i], want[i]) << i;
}

TEST(QLinearConv, RequantizesPerChannelWithBias) {
  // int8 x [1,2,2,2], w [2,2,1,1] (1x1 conv), per-channel w_scale, bias.
  Tensor x = Tensor::from_vector<int8_t>({1, 2, 2, 2}, {10, -20, 30, 40, 5, 6, -7, 8});
  Tensor w = Tensor::from_vector<int8_t>({2, 2, 1, 1}, {3, -2, 1, 4});
  Tensor xs = Tensor::scalar<float>(0.5f), xz = Tensor::scalar<int8_t>(1);
  Tensor ws = Tensor::from_vector<float>({2}, {0.25f, 0.125f}), wz = Tensor::from_vector<int8_t>({2}, {0, 0});
  Tensor ys = Tensor::scalar<float>(0.2f), yz = Tensor::scalar<int8_t>(-3);
  Tensor b = Tensor::from_vector<int32_t>({2}, {7, -100});
  Tensor y = OpCall("QLinearConv", 10).run1({x, xs, xz, w, ws, wz, ys, yz, b});
  ASSERT_EQ(y.dtype(), DType::kInt8);
  const int xv[2][4] = {{9, -21, 29, 39}, {4, 5, -8, 7}};
  const int wv[2][2] = {{3, -2}, {1, 4}};
  const int bias[2] = {7, -100};
  const float wsc[2] = {0.25f, 0.125f};
  for (int m = 0; m < 2; ++m)
    for (int p = 0; p < 4; ++p) {
      const int acc = xv[0][p] * wv[m][0] + xv[1][p] * wv[m][1] + bias[m];
      const double v = std::nearbyint(acc * static_cast<double>(0.5f * wsc[m] / 0.2f)) - 3;
      EXPECT_EQ(y.data<int8_t>()[m * 4 + p], static_cast<int8_t>(std::clamp(v, -128.0, 127.0))) << m << "," << p;
    }
}

}  // namespace
