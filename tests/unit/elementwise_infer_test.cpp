// Type and shape inference of the elementwise ops, symbolic shapes included, without running kernels.
#include <gtest/gtest.h>

#include <optional>

#include "ir/graph.h"
#include "op_test_util.h"
#include "ops/op.h"

using namespace kiln;
using kiln::testing::sym;

namespace {

ops::ValueInfo info(DType t, Shape s) { return ops::ValueInfo{t, std::move(s), nullptr}; }

/// Builds one node and runs only the op's inference on the given input infos (nullopt = absent input).
class Infer {
 public:
  Infer(std::string op, int opset) : opset_(opset) {
    node_.op_type = std::move(op);
    node_.name = "infer_" + node_.op_type;  // (assigning a short literal trips GCC 12's -Wrestrict false positive)
  }
  Infer& attr_i(const std::string& name, int64_t v) { return add(name, ir::AttrType::kInt, [&](auto& a) { a.i = v; }); }
  Infer& attr_s(const std::string& name, std::string v) {
    return add(name, ir::AttrType::kString, [&](auto& a) { a.s = v; });
  }
  Infer& outputs(size_t n) {
    outputs_ = n;
    return *this;
  }
  std::vector<ops::ValueInfo> run(const std::vector<std::optional<ops::ValueInfo>>& inputs) {
    const ops::OpSchema* schema = ops::find_op("", node_.op_type);
    EXPECT_NE(schema, nullptr) << node_.op_type << " is not registered";
    if (!schema) return {};
    std::vector<const ops::ValueInfo*> ptrs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      ptrs.push_back(inputs[i] ? &*inputs[i] : nullptr);
      node_.inputs.push_back(inputs[i] ? int(i) : -1);
    }
    std::vector<ops::ValueInfo> out(outputs_);
    for (size_t i = 0; i < outputs_; ++i) node_.outputs.push_back(int(inputs.size() + i));
    ops::InferContext ctx(node_, 0, opset_, ptrs, out);
    schema->infer(ctx);
    return out;
  }
  /// The error code inference throws, or nullopt when it succeeds.
  std::optional<ErrorCode> error(const std::vector<std::optional<ops::ValueInfo>>& inputs) {
    try {
      run(inputs);
    } catch (const Error& e) {
      return e.code();
    }
    return std::nullopt;
  }

 private:
  template <typename F> Infer& add(const std::string& name, ir::AttrType type, F set) {
    ir::Attribute a;
    a.name = name;
    a.type = type;
    set(a);
    node_.attributes.push_back(std::move(a));
    return *this;
  }
  ir::Node node_;
  int opset_;
  size_t outputs_ = 1;
};

}  // namespace

TEST(ElementwiseInfer, BroadcastKeepsSymbolsAgainstOne) {
  auto out = Infer("Add", 14).run({info(DType::kFloat32, Shape({sym("batch"), 3, 1})), info(DType::kFloat32, Shape({1, 4}))});
  EXPECT_EQ(out[0].dtype, DType::kFloat32);
  EXPECT_EQ(out[0].shape.str(), "[batch,3,4]");
}

TEST(ElementwiseInfer, BroadcastSymbolRules) {
  auto f = [](Shape a, Shape b) {
    return Infer("Mul", 14).run({info(DType::kFloat32, std::move(a)), info(DType::kFloat32, std::move(b))})[0].shape.str();
  };
  EXPECT_EQ(f(Shape({sym("batch")}), Shape({sym("batch")})), "[batch]");       // same symbol stays
  EXPECT_EQ(f(Shape({sym("batch")}), Shape({sym("seq")})), "[?]");            // two symbols: unknown
  EXPECT_EQ(f(Shape({sym("batch")}), Shape({5})), "[5]");                     // a symbol meeting a number > 1
  EXPECT_EQ(f(Shape({sym("b"), 1}), Shape({1, sym("s")})), "[b,s]");          // each meets a 1
  EXPECT_EQ(f(Shape({Dim(), 3}), Shape({3})), "[?,3]");                       // unknown dim passes through
  EXPECT_EQ(f(Shape::unknown_rank(), Shape({3})), "[?]");                     // unknown rank stays unknown
  EXPECT_FALSE(f(Shape::unknown_rank(), Shape({3})).empty());
  EXPECT_EQ(f(Shape(std::vector<Dim>{}), Shape({sym("n"), 2})), "[n,2]");                     // scalar
}

TEST(ElementwiseInfer, IncompatibleDimsFailAsInvalidModel) {
  EXPECT_EQ(Infer("Add", 14).error({info(DType::kFloat32, Shape({2, 3})), info(DType::kFloat32, Shape({4}))}),
            ErrorCode::kInvalidModel);
}

TEST(ElementwiseInfer, MixedTypesFail) {
  EXPECT_EQ(Infer("Add", 14).error({info(DType::kFloat32, Shape({3})), info(DType::kInt32, Shape({3}))}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Where", 16).error({info(DType::kBool, Shape({3})), info(DType::kFloat32, Shape({3})),
                                      info(DType::kFloat64, Shape({3}))}),
            ErrorCode::kInvalidModel);
}

TEST(ElementwiseInfer, TypesOutsideTheSpecFail) {
  auto one = [](const char* op, int opset, DType t) { return Infer(op, opset).error({info(t, Shape({2}))}); };
  EXPECT_EQ(one("Relu", 14, DType::kUInt8), ErrorCode::kInvalidModel);
  EXPECT_EQ(one("Sqrt", 13, DType::kInt32), ErrorCode::kInvalidModel);
  EXPECT_EQ(one("Not", 1, DType::kFloat32), ErrorCode::kInvalidModel);
  EXPECT_EQ(one("IsNaN", 13, DType::kInt64), ErrorCode::kInvalidModel);
  EXPECT_EQ(one("Neg", 13, DType::kUInt32), ErrorCode::kInvalidModel);
  EXPECT_EQ(one("BitwiseNot", 18, DType::kFloat32), ErrorCode::kInvalidModel);
  EXPECT_EQ(one("Abs", 13, DType::kFloat8E4M3FN), ErrorCode::kUnsupported);  // held, but only Cast/Q/DQ compute
  EXPECT_EQ(one("Relu", 14, DType::kInt8), std::nullopt);
  EXPECT_EQ(one("Abs", 13, DType::kUInt64), std::nullopt);
}

TEST(ElementwiseInfer, UnknownTypesPropagate) {
  auto out = Infer("Sub", 14).run({info(DType::kUndefined, Shape({2})), info(DType::kInt64, Shape({1}))});
  EXPECT_EQ(out[0].dtype, DType::kInt64);
  out = Infer("Tanh", 13).run({info(DType::kUndefined, Shape({sym("n")}))});
  EXPECT_EQ(out[0].dtype, DType::kUndefined);
  EXPECT_EQ(out[0].shape.str(), "[n]");
}

TEST(ElementwiseInfer, ComparisonsGiveBool) {
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
    auto out = Infer(op, 16).run({info(DType::kFloat16, Shape({sym("n"), 1})), info(DType::kFloat16, Shape({4}))});
    EXPECT_EQ(out[0].dtype, DType::kBool) << op;
    EXPECT_EQ(out[0].shape.str(), "[n,4]") << op;
  }
  EXPECT_EQ(Infer("Equal", 19).error({info(DType::kString, Shape({2})), info(DType::kString, Shape({1}))}),
            std::nullopt);
  EXPECT_EQ(Infer("Less", 13).error({info(DType::kBool, Shape({2})), info(DType::kBool, Shape({2}))}),
            ErrorCode::kInvalidModel);
}

TEST(ElementwiseInfer, WhereBroadcastsThreeWays) {
  auto out = Infer("Where", 16).run({info(DType::kBool, Shape({sym("b"), 1, 3})), info(DType::kString, Shape({4, 1})),
                                     info(DType::kString, Shape({3}))});
  EXPECT_EQ(out[0].dtype, DType::kString);
  EXPECT_EQ(out[0].shape.str(), "[b,4,3]");
  EXPECT_EQ(Infer("Where", 16).error({info(DType::kInt32, Shape({1})), info(DType::kFloat32, Shape({1})),
                                      info(DType::kFloat32, Shape({1}))}),
            ErrorCode::kInvalidModel);
}

TEST(ElementwiseInfer, VariadicBroadcastsAll) {
  auto out = Infer("Sum", 13).run({info(DType::kFloat32, Shape({sym("b"), 1, 1})), info(DType::kFloat32, Shape({5, 1})),
                                   info(DType::kFloat32, Shape({7}))});
  EXPECT_EQ(out[0].shape.str(), "[b,5,7]");
  EXPECT_EQ(Infer("Max", 13).error({}), ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Mean", 13).error({info(DType::kInt32, Shape({1}))}), ErrorCode::kInvalidModel);
}

TEST(ElementwiseInfer, PowTakesTheBaseType) {
  auto out = Infer("Pow", 15).run({info(DType::kInt64, Shape({sym("n")})), info(DType::kFloat32, Shape({1}))});
  EXPECT_EQ(out[0].dtype, DType::kInt64);
  EXPECT_EQ(out[0].shape.str(), "[n]");
  // before opset 12 base and exponent share one float type
  EXPECT_EQ(Infer("Pow", 7).error({info(DType::kFloat32, Shape({1})), info(DType::kInt64, Shape({1}))}),
            ErrorCode::kInvalidModel);
}

TEST(ElementwiseInfer, CastTakesItsTargetType) {
  auto out = Infer("Cast", 21).attr_i("to", int64_t(DType::kInt8)).run({info(DType::kFloat32, Shape({sym("n"), 2}))});
  EXPECT_EQ(out[0].dtype, DType::kInt8);
  EXPECT_EQ(out[0].shape.str(), "[n,2]");
  out = Infer("Cast", 1).attr_s("to", "DOUBLE").run({info(DType::kFloat32, Shape({2}))});
  EXPECT_EQ(out[0].dtype, DType::kFloat64);
  out = Infer("CastLike", 15).run({info(DType::kFloat32, Shape({2})), info(DType::kString, Shape({1}))});
  EXPECT_EQ(out[0].dtype, DType::kString);
  EXPECT_EQ(Infer("Cast", 21).attr_i("to", int64_t(DType::kFloat6E2M3)).error({info(DType::kFloat32, Shape({2}))}),
            ErrorCode::kUnsupported);  // float6 is known to kiln, not held
  EXPECT_EQ(Infer("Cast", 21).attr_i("to", int64_t(DType::kFloat8E5M2)).error({info(DType::kFloat32, Shape({2}))}),
            std::nullopt);
  EXPECT_EQ(Infer("Cast", 21).attr_i("to", 99).error({info(DType::kFloat32, Shape({2}))}), ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Cast", 21).error({info(DType::kFloat32, Shape({2}))}), ErrorCode::kInvalidModel);  // no 'to'
}

TEST(ElementwiseInfer, PReluSlopeMustNotGrowX) {
  auto out = Infer("PRelu", 16).run({info(DType::kFloat32, Shape({sym("n"), 3, 4})), info(DType::kFloat32, Shape({3, 1}))});
  EXPECT_EQ(out[0].shape.str(), "[n,3,4]");
  EXPECT_EQ(Infer("PRelu", 16).error({info(DType::kFloat32, Shape({3})), info(DType::kFloat32, Shape({2, 3}))}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("PRelu", 16).error({info(DType::kFloat32, Shape({1, 3})), info(DType::kFloat32, Shape({4, 1}))}),
            ErrorCode::kInvalidModel);
}

TEST(ElementwiseInfer, ClipBoundsMustBeScalars) {
  auto x = info(DType::kFloat32, Shape({sym("n")}));
  EXPECT_EQ(Infer("Clip", 13).run({x, info(DType::kFloat32, Shape(std::vector<Dim>{})), std::nullopt})[0].shape.str(), "[n]");
  EXPECT_EQ(Infer("Clip", 13).error({x, info(DType::kFloat32, Shape({1, 1}))}), std::nullopt);
  EXPECT_EQ(Infer("Clip", 13).error({x, info(DType::kFloat32, Shape({2}))}), ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Clip", 13).error({x, std::nullopt, info(DType::kFloat64, Shape(std::vector<Dim>{}))}), ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Clip", 6).error({info(DType::kInt32, Shape({2}))}), ErrorCode::kInvalidModel);  // floats only
}

TEST(ElementwiseInfer, DropoutMaskType) {
  auto x = info(DType::kFloat16, Shape({sym("n"), 8}));
  auto out = Infer("Dropout", 13).outputs(2).run({x});
  EXPECT_EQ(out[0].dtype, DType::kFloat16);
  EXPECT_EQ(out[1].dtype, DType::kBool);
  EXPECT_EQ(out[1].shape.str(), "[n,8]");
  EXPECT_EQ(Infer("Dropout", 7).outputs(2).run({x})[1].dtype, DType::kFloat16);  // mask had the data's type
}

TEST(ElementwiseInfer, IsInfGivesBool) {
  auto out = Infer("IsInf", 20).run({info(DType::kBFloat16, Shape({sym("n")}))});
  EXPECT_EQ(out[0].dtype, DType::kBool);
  EXPECT_EQ(out[0].shape.str(), "[n]");
}

TEST(ElementwiseInfer, LegacyBroadcastAlignsBWithA) {
  auto a = info(DType::kFloat32, Shape({sym("n"), 3, 4}));
  // Suffix matching by default, B placed at `axis` when given; the output is always A's shape.
  EXPECT_EQ(Infer("Add", 6).attr_i("broadcast", 1).run({a, info(DType::kFloat32, Shape({4}))})[0].shape.str(), "[n,3,4]");
  EXPECT_EQ(Infer("Mul", 1).attr_i("broadcast", 1).attr_i("axis", 1).run({a, info(DType::kFloat32, Shape({3}))})[0].shape.str(),
            "[n,3,4]");
  EXPECT_EQ(Infer("Sub", 6).attr_i("broadcast", 1).attr_i("axis", 0).run({a, info(DType::kFloat32, Shape({1, 3}))})[0].shape.str(),
            "[n,3,4]");
  EXPECT_EQ(Infer("Div", 6).attr_i("broadcast", 1).run({a, info(DType::kFloat32, Shape(std::vector<Dim>{}))})[0].shape.str(), "[n,3,4]");
  auto eq = Infer("Equal", 1).attr_i("broadcast", 1).attr_i("axis", -2).run({a, info(DType::kFloat32, Shape({3}))});
  EXPECT_EQ(eq[0].dtype, DType::kBool);
  EXPECT_EQ(eq[0].shape.str(), "[n,3,4]");
  EXPECT_EQ(Infer("Pow", 1).attr_i("broadcast", 1).attr_i("axis", 1).run({a, info(DType::kFloat32, Shape({3, 1}))})[0].shape.str(),
            "[n,3,4]");
}

TEST(ElementwiseInfer, LegacyBroadcastRejectsWhatDoesNotFit) {
  auto a = info(DType::kFloat32, Shape({2, 3}));
  // [3] at axis 0 meets A's 2; [2, 3] at axis 1 runs past A's end; B larger than A; axis out of range.
  EXPECT_EQ(Infer("Add", 6).attr_i("broadcast", 1).attr_i("axis", 0).error({a, info(DType::kFloat32, Shape({3}))}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Add", 6).attr_i("broadcast", 1).attr_i("axis", 1).error({a, info(DType::kFloat32, Shape({2, 3}))}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Add", 6).attr_i("broadcast", 1).error({a, info(DType::kFloat32, Shape({1, 2, 3}))}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Add", 6).attr_i("broadcast", 1).attr_i("axis", 2).error({a, info(DType::kFloat32, Shape({1}))}),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("Add", 6).attr_i("broadcast", 2).error({a, a}), ErrorCode::kInvalidModel);
  // Without broadcast=1 shapes broadcast as before; from opset 7 the attributes mean nothing.
  EXPECT_EQ(Infer("Add", 6).attr_i("broadcast", 0).error({a, a}), std::nullopt);
  EXPECT_EQ(Infer("Add", 7).run({a, info(DType::kFloat32, Shape({3}))})[0].shape.str(), "[2,3]");
}

TEST(ElementwiseInfer, AttributeChecks) {
  auto x = info(DType::kFloat32, Shape({2}));
  EXPECT_EQ(Infer("BitShift", 11).attr_s("direction", "UP").error({info(DType::kUInt8, Shape({1})),
                                                                   info(DType::kUInt8, Shape({1}))}),
            ErrorCode::kInvalidModel);
  // signed shifts arrived in opset 28
  auto i8 = info(DType::kInt8, Shape({1}));
  EXPECT_EQ(Infer("BitShift", 11).attr_s("direction", "LEFT").error({i8, i8}), ErrorCode::kInvalidModel);
  EXPECT_EQ(Infer("BitShift", 28).attr_s("direction", "LEFT").error({i8, i8}), std::nullopt);
  EXPECT_EQ(Infer("Relu", 14).error({x}), std::nullopt);
}

TEST(ElementwiseInfer, VersionsFollowTheChangelog) {
  const ops::OpSchema* add = ops::find_op("", "Add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add->versions, (std::vector<int>{1, 6, 7, 13, 14}));
  EXPECT_EQ(ops::version_in_force(*add, 12), 7);
  const ops::OpSchema* gelu = ops::find_op("ai.onnx", "Gelu");
  ASSERT_NE(gelu, nullptr);
  EXPECT_EQ(ops::version_in_force(*gelu, 19), 0);  // Gelu did not exist before opset 20
  for (const char* op : {"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Exp",
                         "Floor", "IsInf", "IsNaN", "Log", "Neg", "Not", "Reciprocal", "Round", "Sign", "Sin", "Sinh",
                         "Sqrt", "Tan", "Tanh", "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid",
                         "HardSwish", "Softplus", "Softsign", "Mish", "Gelu", "ThresholdedRelu", "Shrink", "PRelu",
                         "Clip", "Identity", "Dropout", "Cast", "CastLike", "Add", "Sub", "Mul", "Div", "Mod", "Pow",
                         "Min", "Max", "Sum", "Mean", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                         "And", "Or", "Xor", "Where", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
                         "BitwiseNot"})
    EXPECT_NE(ops::find_op("", op), nullptr) << op;
}
