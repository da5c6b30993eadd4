// Runs every generated case (tensor_op_cases.inc: numpy expectations, cross-checked with onnxruntime)
// through kiln's inference and reference kernels, and checks that inference without the data (shapes only,
// then symbolic dims, then unknown ranks) never fails and never contradicts the real result.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>

#include "tensor_op_test_util.h"

namespace kiln::testing {
namespace {

struct OpCase {
  std::string name, op;
  int opset;
  std::vector<ir::Attribute> attrs;
  std::vector<Tensor> inputs, outputs;
  double rtol;
};

const std::vector<OpCase>& all_cases() {
  static const std::vector<OpCase> cases = [] {
    using MakeCase = OpCase (*)();
    const MakeCase makers[] = {
#include "tensor_op_cases.inc"
    };
    std::vector<OpCase> v;
    for (MakeCase m : makers) v.push_back(m());
    return v;
  }();
  return cases;
}

class TensorOpCase : public ::testing::TestWithParam<size_t> {
 protected:
  const OpCase& c() const { return all_cases()[GetParam()]; }

  // Infers with the given input infos and checks every output against the real result: the dtype must
  // match, a known rank must match, and every known dim must match.
  void expect_consistent(const std::vector<std::optional<ops::ValueInfo>>& infos, const char* how) {
    SCOPED_TRACE(how);
    std::vector<ops::ValueInfo> out;
    ASSERT_NO_THROW(out = infer_op(c().op, c().opset, c().attrs, infos, c().outputs.size()));
    for (size_t i = 0; i < out.size(); ++i) {
      const Tensor& want = c().outputs[i];
      EXPECT_EQ(dtype_name(out[i].dtype), dtype_name(want.dtype())) << "output " << i;
      if (!out[i].shape.rank_known) continue;
      ASSERT_EQ(out[i].shape.rank(), want.rank()) << "output " << i << " inferred " << out[i].shape.str();
      for (size_t k = 0; k < want.rank(); ++k) {
        if (out[i].shape.dims[k].is_known()) {
          EXPECT_EQ(out[i].shape.dims[k].value(), want.dim(k)) << "output " << i << " inferred " << out[i].shape.str();
        }
      }
    }
  }
};

TEST_P(TensorOpCase, MatchesNumpy) {
  std::vector<Tensor> got = run_op(c().op, c().opset, c().attrs, c().inputs, c().outputs.size());
  ASSERT_EQ(got.size(), c().outputs.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    expect_tensor_eq(got[i], c().outputs[i], c().rtol);
  }
}

TEST_P(TensorOpCase, InferenceWithValuesIsExact) {
  std::vector<std::optional<ops::ValueInfo>> infos;
  for (const Tensor& t : c().inputs)
    infos.push_back(t.defined() ? std::optional(info_of(t)) : std::nullopt);
  std::vector<ops::ValueInfo> out = infer_op(c().op, c().opset, c().attrs, infos, c().outputs.size());
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(out[i].shape.is_concrete()) << "output " << i << " inferred " << out[i].shape.str();
    EXPECT_EQ(out[i].shape.values(), c().outputs[i].dims()) << "output " << i;
    // Content recorded by inference (folding) must be the real content.
    if (out[i].value) expect_tensor_eq(*out[i].value, c().outputs[i], c().rtol);
  }
}

TEST_P(TensorOpCase, InferenceWithoutValuesNeverContradicts) {
  std::vector<std::optional<ops::ValueInfo>> shapes_only, symbolic, unknown_rank;
  for (size_t i = 0; i < c().inputs.size(); ++i) {
    const Tensor& t = c().inputs[i];
    if (!t.defined()) {
      shapes_only.emplace_back();
      symbolic.emplace_back();
      unknown_rank.emplace_back();
      continue;
    }
    shapes_only.push_back(info(t.dtype(), Shape::from(t.dims())));
    std::vector<Dim> dims;
    for (size_t k = 0; k < t.rank(); ++k) dims.push_back(Dim::symbol(fmt::format("s{}_{}", i, k)));
    symbolic.push_back(info(t.dtype(), Shape(dims)));
    unknown_rank.push_back(info(t.dtype(), Shape::unknown_rank()));
  }
  expect_consistent(shapes_only, "input shapes known, values unknown");
  expect_consistent(symbolic, "input dims symbolic");
  expect_consistent(unknown_rank, "input ranks unknown");
}

INSTANTIATE_TEST_SUITE_P(Generated, TensorOpCase, ::testing::Range<size_t>(0, all_cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& p) { return all_cases()[p.param].name; });

}  // namespace
}  // namespace kiln::testing
