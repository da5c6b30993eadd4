// Issue 7, items 5 and 8 through the API: weights left out by export_params=False are found by what they feed,
// whatever their names, and `check` leads with that cause; placeholder dim names ("?") are unknown dims; a real
// name that two fed dims contradict runs with one warning unless strict_symbols asks to refuse.

#include <gtest/gtest.h>

#include "api/model_check.h"
#include "graph_builder.h"
#include "kiln/session.h"
#include "onnx/model_reader.h"
#include "onnx/writer.h"
#include "onnx_test_util.h"
#include "runtime/input_check.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

// What torch.onnx.export(..., export_params=False) leaves of a conv + linear net with batch norm folded: the
// convolution's weights named after their op, the linear layer's by their module, a MatMul weight anonymous too.
ir::Model unnamed_weights_model() {
  GraphBuilder b;
  b.input("input", DType::kFloat32, {1, 3, 8, 8});
  b.input("onnx::Conv_193", DType::kFloat32, {4, 3, 3, 3});
  b.input("onnx::Conv_194", DType::kFloat32, {4});
  b.input("fc.weight", DType::kFloat32, {2, 4});
  b.input("fc.bias", DType::kFloat32, {2});
  b.input("proj", DType::kFloat32, {2, 2});
  b.node("Conv", {"input", "onnx::Conv_193", "onnx::Conv_194"}, {"c"}, "conv");
  b.node("GlobalAveragePool", {"c"}, {"p"}, "pool");
  b.node("Flatten", {"p"}, {"f"}, "flatten");
  b.node("Gemm", {"f", "fc.weight", "fc.bias"}, {"g"}, "fc").attributes.push_back([] {
    ir::Attribute a;
    a.name = "transB";
    a.type = ir::AttrType::kInt;
    a.i = 1;
    return a;
  }());
  b.node("MatMul", {"g", "proj"}, {"output"}, "project");
  b.output("output", DType::kFloat32, {1, 2});
  return model_of(b);
}

}  // namespace

TEST(ExportMistakes, WeightSlotsMakeParametersWhateverTheirNames) {
  const ir::Model m = unnamed_weights_model();
  const ir::Graph& g = *m.graph;
  EXPECT_EQ(value_names(g, runtime::parameter_inputs(g, g.required_inputs())),
            (std::vector<std::string>{"onnx::Conv_193", "onnx::Conv_194", "fc.weight", "fc.bias", "proj"}));
  // Two fed sides of a MatMul are data (x @ y), unless named like parameters.
  GraphBuilder b;
  b.input("a", DType::kFloat32, {2, 2});
  b.input("b", DType::kFloat32, {2, 2});
  b.node("MatMul", {"a", "b"}, {"y"}, "mm");
  b.output("y", DType::kFloat32, {2, 2});
  const ir::Model data = model_of(b);
  EXPECT_TRUE(runtime::parameter_inputs(*data.graph, data.graph->required_inputs()).empty());
}

TEST(ExportMistakes, CheckLeadsWithTheMissingWeightsListingEveryOne) {
  TempDir dir;
  onnx::save_model(unnamed_weights_model(), dir / "model.onnx");
  const CheckReport r = check_model(dir / "model.onnx", {});
  ASSERT_FALSE(r.findings.empty());
  const Finding& first = r.findings.front();
  EXPECT_EQ(first.kind, "missing-weights");
  EXPECT_EQ(first.where, "5 graph inputs");
  for (const char* n : {"'onnx::Conv_193'", "'onnx::Conv_194'", "'fc.weight'", "'fc.bias'", "'proj'"})
    EXPECT_NE(first.message.find(n), std::string::npos) << first.message;
  ASSERT_NE(r.first(), nullptr);
  EXPECT_EQ(r.first()->kind, "missing-weights");
  // Errors precede warnings, and no weight gets dynamic_axes advice: only 'input' is a fixed-size input.
  bool warned = false;
  for (const Finding& f : r.findings) {
    if (f.severity == Severity::kWarning) warned = true;
    if (f.severity == Severity::kError) {
      EXPECT_FALSE(warned) << f.kind << " after a warning";
    }
    if (f.kind == "fixed-input-dims") {
      EXPECT_EQ(f.where, "input 'input'");
      EXPECT_EQ(f.fix.find("onnx::"), std::string::npos) << f.fix;
    }
  }
  EXPECT_TRUE(warned);
}

TEST(ExportMistakes, RunNamesEveryMissingWeightToo) {
  Session s = Session::from_bytes(onnx::serialize_model(unnamed_weights_model()));
  expect_error([&] { s.run({{"input", Tensor(DType::kFloat32, {1, 3, 8, 8})}}); }, ErrorCode::kInvalidArgument,
               {"5 graph inputs that are trained parameters", "'onnx::Conv_193'", "'proj'", "export_params=True"});
}

TEST(ExportMistakes, FixedInputsAreOneFindingListingEach) {
  GraphBuilder b;
  b.input("image", DType::kFloat32, {1, 3, 8, 8});
  b.input("mask", DType::kFloat32, {1, 1, 8, 8});
  b.node("Mul", {"image", "mask"}, {"y"}, "apply");
  b.output("y", DType::kFloat32, {1, 3, 8, 8});
  TempDir dir;
  onnx::save_model(model_of(b), dir / "model.onnx");
  size_t fixed = 0;
  for (const Finding& f : check_model(dir / "model.onnx", {}).findings) {
    if (f.kind != "fixed-input-dims") continue;
    ++fixed;
    EXPECT_EQ(f.where, "2 inputs ('image', 'mask')");
    EXPECT_NE(f.fix.find("dynamic_axes={'image': {0: 'batch', 2: 'height', 3: 'width'}, 'mask': {"),
              std::string::npos) << f.fix;
  }
  EXPECT_EQ(fixed, 1u);
}

TEST(ExportMistakes, PlaceholderDimNamesAreUnknownDims) {
  for (const char* p : {"?", "", "-1", "*", "None", "unk", "UNKNOWN"})
    EXPECT_TRUE(onnx::is_placeholder_dim_name(p)) << p;
  for (const char* s : {"batch", "h", "unk__12", "N", "seq_len", "2x"})
    EXPECT_FALSE(onnx::is_placeholder_dim_name(s)) << s;
  // As paddle2onnx writes PaddleOCR's classifier: x [-1, 3, "?", "?"], run at 48x192.
  GraphBuilder b;
  b.input("x", DType::kFloat32, {Dim(), 3, Dim::symbol("?"), Dim::symbol("?")});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", DType::kFloat32, {Dim(), 3, Dim::symbol("?"), Dim::symbol("?")});
  std::vector<std::string> warnings;
  SessionOptions options;
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  Session s = Session::from_bytes(onnx::serialize_model(model_of(b)), options);
  EXPECT_EQ(s.inputs()[0].shape.str(), "[?,3,?,?]");
  EXPECT_FALSE(s.inputs()[0].shape.dims[2].is_symbol());
  EXPECT_EQ(s.run({{"x", Tensor(DType::kFloat32, {1, 3, 48, 192})}})[0].second.dims(),
            (std::vector<int64_t>{1, 3, 48, 192}));
  EXPECT_TRUE(warnings.empty());
}

TEST(ExportMistakes, ASymbolFedTwoSizesRunsWithOneWarningUnlessStrict) {
  GraphBuilder b;
  b.input("x", DType::kFloat32, {Dim::symbol("batch"), 3, Dim::symbol("size"), Dim::symbol("size")});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", DType::kFloat32, {Dim::symbol("batch"), 3, Dim::symbol("size"), Dim::symbol("size")});
  const std::vector<uint8_t> bytes = onnx::serialize_model(model_of(b));
  std::vector<std::string> warnings;
  SessionOptions options;
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  Session s = Session::from_bytes(bytes, options);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(s.run({{"x", Tensor(DType::kFloat32, {1, 3, 48, 192})}})[0].second.dims(),
              (std::vector<int64_t>{1, 3, 48, 192}));
  ASSERT_EQ(warnings.size(), 1u);  // once per name and session, not per run
  EXPECT_NE(warnings[0].find("input 'x' dim 3 is 'size' in the model, given 192"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("already set 'size' to 48"), std::string::npos) << warnings[0];

  options.strict_symbols = true;
  Session strict = Session::from_bytes(bytes, options);
  expect_error([&] { strict.run({{"x", Tensor(DType::kFloat32, {1, 3, 48, 192})}}); }, ErrorCode::kInvalidArgument,
               {"input 'x' dim 3 is 'size'", "must agree on its size"});
  EXPECT_NO_THROW(strict.run({{"x", Tensor(DType::kFloat32, {1, 3, 48, 48})}}));

  // check points at the name that ties height to width, and says the run goes ahead at two sizes.
  TempDir dir;
  {
    std::ofstream f(dir / "model.onnx", std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  const CheckReport plain = check_model(dir / "model.onnx", {});
  EXPECT_TRUE(plain.will_run());
  ASSERT_EQ(plain.findings.size(), 1u);
  EXPECT_EQ(plain.findings[0].kind, "shared-symbol");
  EXPECT_NE(plain.findings[0].message.find("'size' names dims 2 and 3 of input 'x'"), std::string::npos);
  const CheckReport sized = check_model(dir / "model.onnx", {{"x", {1, 3, 48, 192}}});
  EXPECT_TRUE(sized.will_run());
  bool conflict = false;
  for (const Finding& f : sized.findings) conflict |= f.kind == "shared-symbol" && f.where == "dim 'size'";
  EXPECT_TRUE(conflict);
}
