// Prepared Where (kernels/convert select32 and typed runs) and Cast / CastLike (F16C, integer and float loops)
// against the reference compute, bit for bit, on 1 and 2 threads: broadcast patterns of every kind, every
// element size, and the values where conversions differ (rounding, overflow, NaN, infinities, wrap-around).

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "prepared_test_util.h"
#include "random_tensors.h"

namespace kiln::testing {
namespace {

using namespace kiln::testing::prepared;
// prepared_node.h (another file of a unity batch) has a kiln::testing::IsaCapGuard too: this file means its own.
using prepared::IsaCapGuard;

class WhereCastPrepared : public TierTest {};
KILN_INSTANTIATE_TIERS(WhereCastPrepared);

/// `out` with some dims replaced by 1 and some leading dims dropped: a shape that broadcasts to it.
std::vector<int64_t> broadcastable(const std::vector<int64_t>& out, std::mt19937& rng) {
  std::vector<int64_t> d = out;
  for (int64_t& x : d)
    if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) x = 1;
  const auto drop = std::uniform_int_distribution<size_t>(0, d.size())(rng);
  return std::vector<int64_t>(d.begin() + static_cast<std::ptrdiff_t>(drop), d.end());
}

TEST_P(WhereCastPrepared, WhereBroadcasts) {
  std::mt19937 rng(21);
  const DType types[] = {DType::kFloat32, DType::kInt64, DType::kUInt8, DType::kFloat16, DType::kBool, DType::kInt32};
  for (int trial = 0; trial < 150; ++trial) {
    std::vector<int64_t> out;
    const size_t rank = 1 + trial % 4;
    for (size_t k = 0; k < rank; ++k) out.push_back(std::uniform_int_distribution<int>(1, 11)(rng));
    const DType t = types[trial % 6];
    const Tensor c = random_any(broadcastable(out, rng), DType::kBool, rng);
    const Tensor a = random_any(trial % 5 == 0 ? out : broadcastable(out, rng), t, rng);
    const Tensor b = random_any(broadcastable(out, rng), t, rng);
    PreparedCall call("Where", 16);
    SCOPED_TRACE(dims_str(out) + ": " + dims_str(c.dims()) + " " + dims_str(a.dims()) + " " + dims_str(b.dims()));
    expect_prepared_matches(tier(), call, {c, a, b}, MatchOptions().hidden_shapes(trial % 2 == 0));
  }
  // An attention mask over scores (threads), and empty outputs.
  PreparedCall mask("Where", 16);
  expect_prepared_matches(tier(), mask, {random_any({1, 1, 128, 128}, DType::kBool, rng), random_any({2, 4, 128, 128}, DType::kFloat32, rng),
                                         random_any({}, DType::kFloat32, rng)});
  PreparedCall empty("Where", 16);
  expect_prepared_matches(tier(), empty, {random_any({0, 3}, DType::kBool, rng), random_any({3}, DType::kFloat32, rng),
                                          random_any({1}, DType::kFloat32, rng)});
}

Tensor floats_with_edges(std::mt19937& rng, int64_t n, float scale) {
  Tensor x(DType::kFloat32, {n});
  std::uniform_real_distribution<float> u(-scale, scale);
  const float edges[] = {0.0f, -0.0f, 0.5f, -2.5f, 65504.0f, 65520.0f, 1e-8f, -6.1e-5f, 3e9f, -3e9f, 2147483520.0f,
                         -2147483648.0f, 9.3e18f, -9.2233720e18f, std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity(), 1e30f, 123456.789f};
  for (int64_t i = 0; i < n; ++i) x.data<float>()[i] = i < static_cast<int64_t>(std::size(edges)) ? edges[i] : u(rng);
  return x;
}

void expect_cast(kernels::IsaTier tier, const Tensor& x, DType to, const MatchOptions& o = MatchOptions()) {
  PreparedCall cast("Cast", 21);
  cast.attr("to", static_cast<int64_t>(to));
  SCOPED_TRACE(std::string(dtype_name(x.dtype())) + " -> " + std::string(dtype_name(to)));
  expect_prepared_matches(tier, cast, {x}, o);
}

TEST_P(WhereCastPrepared, CastFastPairs) {
  std::mt19937 rng(22);
  for (int64_t n : {int64_t{19}, int64_t{100003}}) {  // tails, and enough for threads
    expect_cast(tier(), floats_with_edges(rng, n, 70000.0f), DType::kFloat16);
    expect_cast(tier(), floats_with_edges(rng, n, 3e9f), DType::kInt64);
    expect_cast(tier(), floats_with_edges(rng, n, 3e9f), DType::kInt32);
    expect_cast(tier(), floats_with_edges(rng, n, 10.0f), DType::kFloat32);
    expect_cast(tier(), random_any({n}, DType::kFloat16, rng), DType::kFloat32);
    Tensor i64(DType::kInt64, {n}), i32(DType::kInt32, {n});
    std::uniform_int_distribution<int64_t> big(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    for (int64_t i = 0; i < n; ++i) {
      i64.data<int64_t>()[i] = i % 3 ? big(rng) : (int64_t{1} << 60) + i;
      i32.data<int32_t>()[i] = static_cast<int32_t>(big(rng));
    }
    expect_cast(tier(), i64, DType::kFloat32);
    expect_cast(tier(), i64, DType::kInt32);
    expect_cast(tier(), i32, DType::kFloat32);
    expect_cast(tier(), i32, DType::kInt64);
  }
  // Other pairs run the reference (still prepared); CastLike takes its target from input 1.
  expect_cast(tier(), random_any({7}, DType::kBool, rng), DType::kFloat32);
  expect_cast(tier(), random_any({7}, DType::kFloat16, rng), DType::kInt64);
  PreparedCall like("CastLike", 21);
  expect_prepared_matches(tier(), like, {floats_with_edges(rng, 33, 1000.0f), random_any({1}, DType::kFloat16, rng)});
}

TEST_P(WhereCastPrepared, CastOfAnEmptyTensorWritesNothing) {
  // An empty tensor has no storage (a null pointer): no copy may be handed it (UBSan caught a same-type Cast's
  // memcpy from null in a fuzzed model; fuzz/regressions/crash-cast-same-type-empty-input.onnx).
  std::mt19937 rng(23);
  for (DType to : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kInt32})
    expect_cast(tier(), random_any({0, 1, 6}, DType::kFloat32, rng), to);
  expect_cast(tier(), random_any({3, 0}, DType::kInt64, rng), DType::kInt64);
}

TEST_P(WhereCastPrepared, CastNaNToHalfIsNaN) {
  // The only difference from the reference allowed: a NaN's payload (F16C keeps it, the reference writes 0x7E00).
  Tensor x(DType::kFloat32, {9});
  for (int64_t i = 0; i < 9; ++i) x.data<float>()[i] = i % 2 ? std::numeric_limits<float>::quiet_NaN() : -std::nanf("");
  PreparedCall cast("Cast", 21);
  cast.attr("to", static_cast<int64_t>(DType::kFloat16));
  IsaCapGuard guard;
  kernels::set_isa_cap(tier());
  auto k = cast.prepare({x}, {}, false);
  ASSERT_NE(k, nullptr);
  const Tensor y = cast.run(*k, {x}, nullptr)[0];
  for (int64_t i = 0; i < 9; ++i) EXPECT_TRUE(std::isnan(static_cast<float>(y.data<Float16>()[i]))) << i;
}

}  // namespace
}  // namespace kiln::testing
