#pragma once
// One table-driven case (op, opset, attributes, input tensors, expected outputs) and the checks every case
// goes through: the reference kernel matches the expectation; inference with the input values is exact;
// inference without them (shapes only, then symbolic dims, then unknown ranks) never fails and never
// contradicts the real result.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tensor_op_test_util.h"

namespace kiln::testing {

struct OpCase {
  std::string name, op;
  int opset;
  std::vector<ir::Attribute> attrs;
  std::vector<Tensor> inputs, outputs;
  double rtol;
};

/// Builds cases from an array of maker functions (generated files emit one small function per case, which
/// keeps them quick to compile).
using MakeCase = OpCase (*)();
template <size_t N> std::vector<OpCase> make_cases(const MakeCase (&makers)[N]) {
  std::vector<OpCase> v;
  for (auto m : makers) v.push_back(m());
  return v;
}

class OpCaseTest : public ::testing::TestWithParam<const OpCase*> {
 protected:
  const OpCase& c() const { return *GetParam(); }

  void run_matches_expected() {
    std::vector<Tensor> got = run_op(c().op, c().opset, c().attrs, c().inputs, c().outputs.size());
    ASSERT_EQ(got.size(), c().outputs.size());
    for (size_t i = 0; i < got.size(); ++i) {
      SCOPED_TRACE("output " + std::to_string(i));
      expect_tensor_eq(got[i], c().outputs[i], c().rtol);
    }
  }

  void run_inference_with_values_is_exact() {
    std::vector<std::optional<ops::ValueInfo>> infos;
    for (const Tensor& t : c().inputs) infos.push_back(t.defined() ? std::optional(info_of(t)) : std::nullopt);
    std::vector<ops::ValueInfo> out = infer_op(c().op, c().opset, c().attrs, infos, c().outputs.size());
    for (size_t i = 0; i < out.size(); ++i) {
      const Tensor& want = c().outputs[i];
      const bool small = want.numel() <= 1024;  // larger data-dependent outputs are sized by the kernel
      if (!out[i].shape.is_concrete() && !small) continue;
      ASSERT_TRUE(out[i].shape.is_concrete()) << "output " << i << " inferred " << out[i].shape.str();
      EXPECT_EQ(out[i].shape.values(), want.dims()) << "output " << i;
      // Content recorded by inference (folding) must be the real content.
      if (out[i].value) expect_tensor_eq(*out[i].value, want, c().rtol);
    }
  }

  void run_inference_without_values_never_contradicts() {
    std::vector<std::optional<ops::ValueInfo>> shapes_only, symbolic, unknown_rank, nothing;
    for (size_t i = 0; i < c().inputs.size(); ++i) {
      const Tensor& t = c().inputs[i];
      if (!t.defined()) {
        shapes_only.emplace_back();
        symbolic.emplace_back();
        unknown_rank.emplace_back();
        nothing.emplace_back();
        continue;
      }
      shapes_only.push_back(info(t.dtype(), Shape::from(t.dims())));
      std::vector<Dim> dims;
      for (size_t k = 0; k < t.rank(); ++k) dims.push_back(Dim::symbol(fmt::format("s{}_{}", i, k)));
      symbolic.push_back(info(t.dtype(), Shape(dims)));
      unknown_rank.push_back(info(t.dtype(), Shape::unknown_rank()));
      nothing.push_back(info(DType::kUndefined, Shape::unknown_rank()));
    }
    expect_consistent(shapes_only, "input shapes known, values unknown");
    expect_consistent(symbolic, "input dims symbolic");
    expect_consistent(unknown_rank, "input ranks unknown");
    expect_consistent(nothing, "input types and ranks unknown", false);
  }

 private:
  // The inferred dtype must match, a known rank must match, and every known dim must match.
  void expect_consistent(const std::vector<std::optional<ops::ValueInfo>>& infos, const char* how,
                         bool types_known = true) {
    SCOPED_TRACE(how);
    std::vector<ops::ValueInfo> out;
    ASSERT_NO_THROW(out = infer_op(c().op, c().opset, c().attrs, infos, c().outputs.size()));
    for (size_t i = 0; i < out.size(); ++i) {
      const Tensor& want = c().outputs[i];
      if (types_known || out[i].dtype != DType::kUndefined) {
        EXPECT_EQ(dtype_name(out[i].dtype), dtype_name(want.dtype())) << "output " << i;
      }
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

/// gtest parameter names: the case names.
inline std::vector<const OpCase*> case_pointers(const std::vector<OpCase>& cases) {
  std::vector<const OpCase*> v;
  for (const OpCase& c : cases) v.push_back(&c);
  return v;
}
inline std::string case_name(const ::testing::TestParamInfo<const OpCase*>& p) { return p.param->name; }

}  // namespace kiln::testing
