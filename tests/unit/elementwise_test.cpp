// Elementwise kernels: the broadcasting loop's structure, run-time errors (never a crash), and behaviour
// the reference-generated tests (elementwise_ref_*_test.cpp) cannot express.
#include <gtest/gtest.h>

#include <optional>

#include "elementwise_test_util.h"
#include "op_test_util.h"
#include "ops/elementwise.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

struct Run {
  int64_t out, count;
  std::array<int64_t, 2> offsets, steps;
};

std::vector<Run> runs_of(const std::vector<int64_t>& out, const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<Run> runs;
  ops::BroadcastLoop<2> loop(out, {&a, &b});
  loop.for_each_run([&](int64_t o, const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    runs.push_back({o, n, off, st});
  });
  return runs;
}

std::optional<ErrorCode> error_code_of(OpCall call, const std::vector<Tensor>& inputs) {
  try {
    call.run(inputs);
  } catch (const Error& e) {
    return e.code();
  }
  return std::nullopt;
}

}  // namespace

// ---- the broadcasting loop: common cases become few, long runs ----

TEST(BroadcastLoop, SameShapeIsOneRun) {
  auto runs = runs_of({2, 3, 4}, {2, 3, 4}, {2, 3, 4});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].count, 24);
  EXPECT_EQ(runs[0].steps, (std::array<int64_t, 2>{1, 1}));
}

TEST(BroadcastLoop, ScalarOperandIsOneRunWithAFixedElement) {
  for (const auto& scalar : {std::vector<int64_t>{}, std::vector<int64_t>{1}, std::vector<int64_t>{1, 1, 1}}) {
    auto runs = runs_of({2, 3, 4}, {2, 3, 4}, scalar);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].count, 24);
    EXPECT_EQ(runs[0].steps, (std::array<int64_t, 2>{1, 0}));
  }
}

TEST(BroadcastLoop, PerChannelOperandRunsOverTheSpatialDims) {
  auto runs = runs_of({2, 3, 5, 7}, {2, 3, 5, 7}, {3, 1, 1});
  ASSERT_EQ(runs.size(), 6u);  // N * C runs of H * W
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].count, 35);
    EXPECT_EQ(runs[i].out, int64_t(i) * 35);
    EXPECT_EQ(runs[i].offsets[0], int64_t(i) * 35);
    EXPECT_EQ(runs[i].offsets[1], int64_t(i % 3));  // the channel's one value
    EXPECT_EQ(runs[i].steps, (std::array<int64_t, 2>{1, 0}));
  }
}

TEST(BroadcastLoop, TrailingVectorAdvancesBoth) {
  auto runs = runs_of({4, 5, 6}, {4, 5, 6}, {6});
  ASSERT_EQ(runs.size(), 20u);
  EXPECT_EQ(runs[7].offsets, (std::array<int64_t, 2>{42, 0}));
  EXPECT_EQ(runs[7].steps, (std::array<int64_t, 2>{1, 1}));
}

TEST(BroadcastLoop, EmptyOutputHasNoRuns) {
  EXPECT_TRUE(runs_of({0, 3}, {0, 3}, {3}).empty());
  EXPECT_TRUE(runs_of({2, 0}, {2, 1}, {0}).empty());
}

TEST(BroadcastLoop, ScalarOutputIsOneElement) {
  auto runs = runs_of({}, {}, {});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].count, 1);
}

// A larger case walked element by element against the numpy rule: out[i,j,k] = a[i,0,k] + b[j,0].
TEST(BroadcastLoop, MatchesIndexArithmeticOnOddSizes) {
  const int64_t I = 5, J = 7, K = 3;
  std::vector<double> av(I * K), bv(J);
  for (size_t n = 0; n < av.size(); ++n) av[n] = double(n) * 0.5;
  for (size_t n = 0; n < bv.size(); ++n) bv[n] = double(n) * 100;
  auto out = OpCall("Add", 14).run1({floats<double>({I, 1, K}, av), floats<double>({J, 1}, bv)});
  ASSERT_EQ(out.dims(), (std::vector<int64_t>{I, J, K}));
  for (int64_t i = 0; i < I; ++i)
    for (int64_t j = 0; j < J; ++j)
      for (int64_t k = 0; k < K; ++k)
        ASSERT_EQ(out.data<double>()[(i * J + j) * K + k], av[size_t(i * K + k)] + bv[size_t(j)]);
}

// ---- run-time errors are errors, not crashes ----

TEST(ElementwiseErrors, IntegerDivisionByZeroIsBadInput) {
  EXPECT_EQ(error_code_of(OpCall("Div", 14), {values<int32_t>({3}, {1, 2, 3}), values<int32_t>({3}, {1, 0, 1})}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of(OpCall("Div", 14), {values<uint8_t>({2}, {1, 2}), values<uint8_t>({}, {0})}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of(OpCall("Mod", 13), {values<int64_t>({2}, {5, 6}), values<int64_t>({1}, {0})}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of(OpCall("Mod", 13).attr("fmod", int64_t{1}), {values<int8_t>({1}, {5}), values<int8_t>({1}, {0})}),
            ErrorCode::kInvalidArgument);
  // an empty output divides nothing
  EXPECT_EQ(error_code_of(OpCall("Div", 14), {values<int32_t>({0}, {}), values<int32_t>({1}, {0})}), std::nullopt);
}

TEST(ElementwiseErrors, DivisionByZeroMessageNamesTheNode) {
  try {
    OpCall("Div", 14).run({values<int16_t>({2}, {4, 4}), values<int16_t>({2}, {2, 0})});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Div"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("by zero"), std::string::npos) << e.what();
  }
}

// Negative integer exponents truncate 1/x^n like onnxruntime's Pow (2^-1 = 0, 1^-5 = 1, (-1)^-3 = -1,
// (-1)^-2 = 1, 3^-2 = 0); 0 to a negative power has no value at all.
TEST(ElementwiseErrors, IntegerPowNegativeExponents) {
  auto out = OpCall("Pow", 15).run1({values<int64_t>({5}, {2, 1, -1, -1, 3}), values<int64_t>({5}, {-1, -5, -3, -2, -2})});
  expect_tensor(out, values<int64_t>({5}, {0, 1, -1, 1, 0}));
  EXPECT_EQ(error_code_of(OpCall("Pow", 15), {values<int32_t>({1}, {0}), values<int32_t>({1}, {-1})}),
            ErrorCode::kInvalidArgument);
}

TEST(ElementwiseErrors, CastOfTextThatIsNoNumberIsBadInput) {
  EXPECT_EQ(error_code_of(OpCall("Cast", 21).attr("to", int64_t(DType::kFloat32)), {values<std::string>({1}, {"abc"})}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of(OpCall("Cast", 21).attr("to", int64_t(DType::kInt32)), {values<std::string>({1}, {""})}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of(OpCall("Cast", 21).attr("to", int64_t(DType::kBool)), {values<std::string>({1}, {"yes"})}),
            ErrorCode::kInvalidArgument);
}

TEST(ElementwiseErrors, DropoutTrainingModeIsRefused) {
  Tensor x = floats<float>({2}, {1, 2});
  auto dropout = [] { return OpCall("Dropout", 13).outputs(2); };
  EXPECT_EQ(error_code_of(dropout(), {x, Tensor(), values<bool>({}, {true})}), ErrorCode::kUnsupported);
  EXPECT_EQ(error_code_of(dropout(), {x, floats<float>({}, {0.5}), values<bool>({}, {true})}), ErrorCode::kUnsupported);
  EXPECT_EQ(error_code_of(dropout(), {x, floats<float>({}, {0.0}), values<bool>({}, {true})}), std::nullopt);  // drops none
  EXPECT_EQ(error_code_of(dropout(), {x, Tensor(), values<bool>({}, {false})}), std::nullopt);
}

TEST(ElementwiseErrors, BadAttributesFail) {
  Tensor x = floats<float>({2}, {1, 2});
  EXPECT_EQ(error_code_of(OpCall("Gelu", 20).attr("approximate", std::string("fast")), {x}), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of(OpCall("Mod", 13).attr("fmod", int64_t{2}), {x, x}), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of(OpCall("Celu", 12).attr("alpha", 0.0f), {x}), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of(OpCall("Cast", 1).attr("to", std::string("FLOAT128")), {x}), ErrorCode::kInvalidModel);
}

// ---- behaviour the references leave open ----

// ONNX leaves out-of-range float->int undefined; kiln follows x86 as onnxruntime and numpy do there.
// Expected: numpy 1.24 on x86-64, np.array([1e19, 3.9, -1, 2e19, nan]).astype(np.uint64) (and uint32).
TEST(ElementwiseCast, FloatToUnsignedOutOfRange) {
  auto to = [](DType t) { return OpCall("Cast", 21).attr("to", int64_t(t)); };
  Tensor x = floats<double>({5}, {1e19, 3.9, -1, 2e19, kNaN});
  expect_tensor(to(DType::kUInt64).run1({x}),
                values<uint64_t>({5}, {10000000000000000000ull, 3, 18446744073709551615ull, 0, 9223372036854775808ull}));
  expect_tensor(to(DType::kUInt32).run1({x}), values<uint32_t>({5}, {0, 3, 4294967295u, 0, 0}));
}

TEST(ElementwiseCast, StringRoundTripKeepsEveryFloat) {
  std::vector<double> v = {0.1, 1.0 / 3, 123456792, 1e-45, 3.4028234663852886e38, -2.5e-10};
  auto text = OpCall("Cast", 21).attr("to", int64_t(DType::kString)).run1({floats<float>({6}, v)});
  auto back = OpCall("Cast", 21).attr("to", int64_t(DType::kFloat32)).run1({text});
  expect_tensor(back, floats<float>({6}, v), 0, 0);
}

TEST(ElementwiseIdentity, CopiesStringsAndKeepsTheInput) {
  Tensor x = values<std::string>({2}, {"kiln", ""});
  Tensor y = OpCall("Identity", 21).run1({x});
  expect_tensor(y, x);
  EXPECT_NE(y.raw_data(), x.raw_data());
}

TEST(ElementwiseDropout, AbsentMaskOutputIsFine) {
  Tensor x = floats<float>({3}, {1, -2, 3});
  expect_tensor(OpCall("Dropout", 12).run1({x}), x);
}

TEST(ElementwiseVariadic, InPlaceFoldOverManyInputs) {
  std::vector<Tensor> in;
  for (int k = 0; k < 6; ++k) in.push_back(floats<float>({2}, {double(k), double(-k)}));
  in.push_back(floats<float>({3, 1}, {100, 200, 300}));
  auto sum = OpCall("Sum", 13).run1(in);
  expect_tensor(sum, floats<float>({3, 2}, {115, 85, 215, 185, 315, 285}));
  auto max = OpCall("Max", 13).run1(in);
  expect_tensor(max, floats<float>({3, 2}, {100, 100, 200, 200, 300, 300}));
}

// ---- opset < 7: broadcast=1 lines B up with A at `axis`; PRelu-6's slope is per channel ----

namespace {
std::vector<float> floats_of(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.numel()}; }
}  // namespace

TEST(ElementwiseLegacyBroadcast, AxisPlacesBInsideA) {
  const Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  // [2] at axis 0: one value per row (numpy would have refused [2,3] + [2]).
  EXPECT_EQ(floats_of(OpCall("Add", 6).attr("broadcast", int64_t{1}).attr("axis", int64_t{0}).run1({a, f32({2}, {10, 20})})),
            (std::vector<float>{11, 12, 13, 24, 25, 26}));
  // Default: suffix matching, [3] along the last axis.
  EXPECT_EQ(floats_of(OpCall("Mul", 6).attr("broadcast", int64_t{1}).run1({a, f32({3}, {1, 10, 100})})),
            (std::vector<float>{1, 20, 300, 4, 50, 600}));
  // Dims of 1 in B stretch: [2,1] at axis 0.
  EXPECT_EQ(floats_of(OpCall("Sub", 1).attr("broadcast", int64_t{1}).attr("axis", int64_t{0}).run1({a, f32({2, 1}, {1, 2})})),
            (std::vector<float>{0, 1, 2, 2, 3, 4}));
  // A scalar B.
  EXPECT_EQ(floats_of(OpCall("Div", 6).attr("broadcast", int64_t{1}).run1({a, Tensor::scalar<float>(2)})),
            (std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3}));
  const Tensor eq = OpCall("Equal", 1).attr("broadcast", int64_t{1}).attr("axis", int64_t{0})
                        .run1({Tensor::from_vector<int32_t>({2, 2}, {1, 1, 2, 3}), Tensor::from_vector<int32_t>({2}, {1, 3})});
  EXPECT_EQ((std::vector<bool>(eq.data<bool>(), eq.data<bool>() + 4)), (std::vector<bool>{true, true, false, true}));
}

TEST(ElementwiseLegacyBroadcast, BThatDoesNotFitIsAnError) {
  const Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(error_code_of(OpCall("Add", 6).attr("broadcast", int64_t{1}).attr("axis", int64_t{0}), {a, f32({3}, {1, 2, 3})}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_code_of(OpCall("Add", 6).attr("broadcast", int64_t{1}), {a, f32({2}, {1, 2})}), ErrorCode::kInvalidModel);
}

TEST(PReluLegacySlope, OpsetSixSlopeIsPerChannel) {
  const Tensor x = f32({1, 2, 2}, {-1, -2, -3, 4});
  // Slope [2] applies along axis 1 (channels) at opset 6 ...
  EXPECT_EQ(floats_of(OpCall("PRelu", 6).run1({x, f32({2}, {0.5f, 0.25f})})), (std::vector<float>{-0.5f, -1, -0.75f, 4}));
  // ... and along the last axis, numpy-style, from opset 7.
  EXPECT_EQ(floats_of(OpCall("PRelu", 7).run1({x, f32({2}, {0.5f, 0.25f})})), (std::vector<float>{-0.5f, -0.5f, -1.5f, 4}));
  // A single slope value is shared either way.
  EXPECT_EQ(floats_of(OpCall("PRelu", 6).run1({x, f32({1}, {0.5f})})), (std::vector<float>{-0.5f, -1, -1.5f, 4}));
  // A slope that is not one value per channel is refused at opset 6.
  EXPECT_EQ(error_code_of(OpCall("PRelu", 6), {f32({1, 3, 2}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 1})}), ErrorCode::kInvalidModel);
}
