// Runs the generated cases of tensor_op_cases.inc (numpy expectations, cross-checked with onnxruntime by
// gen_tensor_op_cases.py) through the checks of tensor_op_case_fixture.h.

#include "tensor_op_case_fixture.h"

namespace kiln::testing {
namespace {

const std::vector<OpCase>& tensor_op_cases() {
  static const MakeCase makers[] = {
#include "tensor_op_cases.inc"
  };
  static const std::vector<OpCase> cases = make_cases(makers);
  return cases;
}

class TensorOpCase : public OpCaseTest {};
TEST_P(TensorOpCase, MatchesNumpy) { run_matches_expected(); }
TEST_P(TensorOpCase, InferenceWithValuesIsExact) { run_inference_with_values_is_exact(); }
TEST_P(TensorOpCase, InferenceWithoutValuesNeverContradicts) { run_inference_without_values_never_contradicts(); }
INSTANTIATE_TEST_SUITE_P(Generated, TensorOpCase, ::testing::ValuesIn(case_pointers(tensor_op_cases())), case_name);

}  // namespace
}  // namespace kiln::testing
