#pragma once
// Comparing an op's prepared (fast) kernel with its reference, shared by the MatMul/Gemm/FusedMatMul, attention
// and RNN tests: attribute builders, the ISA tiers as a test parameter (a tier this CPU lacks is skipped with the
// reason), and a run at 1 and 2 threads that must agree bit for bit.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "prepared_node.h"

namespace kiln::testing::prep {

inline ir::Attribute int_attr(std::string n, int64_t v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kInt, a.i = v;
  return a;
}
inline ir::Attribute float_attr(std::string n, float v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kFloat, a.f = v;
  return a;
}
inline ir::Attribute string_attr(std::string n, std::string v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kString, a.s = std::move(v);
  return a;
}
inline ir::Attribute strings_attr(std::string n, std::vector<std::string> v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kStrings, a.strings = std::move(v);
  return a;
}
inline ir::Attribute floats_attr(std::string n, std::vector<float> v) {
  ir::Attribute a;
  a.name = std::move(n), a.type = ir::AttrType::kFloats, a.floats = std::move(v);
  return a;
}

/// Test parameter: the ISA tier the prepared kernel is built at.
class TierTest : public ::testing::TestWithParam<kernels::IsaTier> {
 protected:
  void SetUp() override {
    if (!kernels::isa_available(GetParam()))
      GTEST_SKIP() << "this CPU has no " << kernels::isa_name(GetParam()) << " (the tier is tested where it is)";
    kernels::set_isa_cap(GetParam());
  }
  void TearDown() override { kernels::set_isa_cap(kernels::IsaTier::kAvx512); }
};

inline std::string tier_name(const ::testing::TestParamInfo<kernels::IsaTier>& info) {
  return std::string(kernels::isa_name(info.param));
}

#define KILN_TIER_TESTS(Suite)                                                                                 \
  INSTANTIATE_TEST_SUITE_P(Tiers, Suite, ::testing::Values(kernels::IsaTier::kAvx2, kernels::IsaTier::kAvx512), \
                           ::kiln::testing::prep::tier_name)

/// Every element within tol * (1 + |want|); NaN only where want is NaN.
inline void expect_near(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.dims(), want.dims()) << what;
  int bad = 0;
  for (int64_t i = 0; i < got.numel() && bad < 5; ++i) {
    const double a = got.double_at(i), b = want.double_at(i);
    const bool ok = std::isnan(b) ? std::isnan(a) : std::abs(a - b) <= tol * (1.0 + std::abs(b));
    if (!ok) {
      ++bad;
      ADD_FAILURE() << what << ": element " << i << " is " << a << ", reference " << b;
    }
  }
}

/// Bit-for-bit equality (NaN payloads aside).
inline void expect_identical(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.dims(), b.dims()) << what;
  int bad = 0;
  for (int64_t i = 0; i < a.numel() && bad < 5; ++i) {
    const float x = a.data<float>()[i], y = b.data<float>()[i];
    if (!(x == y || (std::isnan(x) && std::isnan(y)))) {
      ++bad;
      ADD_FAILURE() << what << ": element " << i << " differs between 1 and 2 threads: " << x << " vs " << y;
    }
  }
}

/// Prepares `n` at the active tier (it must give a kernel), runs it on 1 and on 2 threads, expects identical
/// results and compares each output with the reference's within `tol`. Returns the kernel's describe().
inline std::string expect_prepared_matches(PreparedNode& n, size_t outputs, double tol, const std::string& what) {
  const std::vector<Tensor> want = n.reference(outputs);
  auto k = n.prepare(outputs);
  if (!k) {
    ADD_FAILURE() << what << ": prepare gave no kernel";
    return "";
  }
  std::vector<std::vector<int64_t>> dims;
  for (const Tensor& t : want) dims.push_back(t.dims());
  kernels::ThreadPool one(1), two(2);
  const std::vector<Tensor> got1 = n.run(*k, dims, &one);
  const std::vector<Tensor> got2 = n.run(*k, dims, &two);
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string w = what + " output " + std::to_string(i) + " [" + k->describe() + "]";
    expect_near(got1[i], want[i], tol, w);
    expect_identical(got1[i], got2[i], w);
  }
  return k->describe();
}

}  // namespace kiln::testing::prep
