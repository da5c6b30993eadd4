#pragma once
// Small helpers shared by the NN op kernels.

#include <cstdint>
#include <type_traits>
#include <vector>

#include "ir/graph.h"
#include "kiln/shape.h"
#include "kiln/tensor.h"
#include "ops/numeric.h"  // from_double
#include "ops/op.h"

namespace kiln::ops {

/// Fails when the runtime allocated output `y` with other dims than the kernel is about to write: a guard
/// against inference and kernel disagreeing (which would otherwise write out of bounds).
inline void expect_output_dims(const NodeContext& ctx, const Tensor& y, const std::vector<int64_t>& want) {
  if (y.dims() != want)
    ctx.fail("output was sized {} by inference but the kernel computes {}", dims_str(y.dims()), dims_str(want));
}

/// The elements of a float16/bfloat16 (or any numeric) tensor as float, for kernels that compute in float.
template <typename S> std::vector<float> to_float_vector(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  const S* s = t.data<S>();
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(s[i]);
  return v;
}

/// LpPool's / GlobalLpPool's exponent p: a float attribute in version 1, an int from version 2 on.
inline double lp_power(const NodeContext& ctx) {
  const ir::Attribute* a = ctx.node().attr("p");
  double p = 2.0;
  if (a && a->type == ir::AttrType::kFloat) p = a->f;
  else if (a) p = static_cast<double>(ctx.attr_int("p", 2));
  if (!(p > 0)) ctx.fail("p must be positive, got {}", p);
  return p;
}

}  // namespace kiln::ops
