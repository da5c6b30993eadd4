#include "ops/prepared_util.h"

namespace kiln::ops {

ComputeFn reference_compute(const NodeContext& ctx) {
  const OpSchema* schema = find_op(ctx.node().domain, ctx.node().op_type);
  KILN_ASSERT(schema && schema->compute);
  return schema->compute;
}

int64_t read_small_ints(const Tensor& t, int64_t* out, size_t cap) {
  if (t.rank() > 1 || t.numel() > static_cast<int64_t>(cap)) return -1;
  if (t.dtype() == DType::kInt64) {
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<int64_t>()[i];
  } else if (t.dtype() == DType::kInt32) {
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<int32_t>()[i];
  } else {
    return -1;
  }
  return t.numel();
}

bool movable_input(const PrepareContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return false;
  const ValueInfo& v = ctx.input(i);
  return !v.is_container() && v.dtype != DType::kString;
}

}  // namespace kiln::ops
