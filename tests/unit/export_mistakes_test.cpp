// Issue 7, item 5 through the API: weights left out by export_params=False are found by what they feed,
// whatever their names, and `check` leads with that cause.

#include <gtest/gtest.h>

#include "api/model_check.h"
#include "graph_builder.h"
#include "kiln/session.h"
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

std::vector<std::string> names(const ir::Graph& g, const std::vector<int>& ids) {
  std::vector<std::string> out;
  for (int id : ids) out.push_back(g.value(id).name);
  return out;
}

}  // namespace

TEST(ExportMistakes, WeightSlotsMakeParametersWhateverTheirNames) {
  const ir::Model m = unnamed_weights_model();
  const ir::Graph& g = *m.graph;
  EXPECT_EQ(names(g, runtime::parameter_inputs(g, g.required_inputs())),
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
