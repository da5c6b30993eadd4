// Runs the ONNX backend node tests for the data-movement and shape ops (onnx_node_cases.inc, written by
// gen_onnx_node_cases.py from onnx.backend.test.case.node) through the checks of tensor_op_case_fixture.h.

#include "tensor_op_case_fixture.h"

namespace kiln::testing {
namespace {

const std::vector<OpCase>& onnx_node_cases() {
  static const MakeCase makers[] = {
#include "onnx_node_cases.inc"
  };
  static const std::vector<OpCase> cases = make_cases(makers);
  return cases;
}

class OnnxNodeCase : public OpCaseTest {};
TEST_P(OnnxNodeCase, MatchesOnnxReference) { run_matches_expected(); }
TEST_P(OnnxNodeCase, InferenceWithValuesIsExact) { run_inference_with_values_is_exact(); }
TEST_P(OnnxNodeCase, InferenceWithoutValuesNeverContradicts) { run_inference_without_values_never_contradicts(); }
INSTANTIATE_TEST_SUITE_P(Onnx, OnnxNodeCase, ::testing::ValuesIn(case_pointers(onnx_node_cases())), case_name);

}  // namespace
}  // namespace kiln::testing
