#include "ops/elementwise.h"

#include <cstring>

#include "ops/shape_util.h"

namespace kiln::ops {

bool dtype_in(DType t, uint32_t set) {
  if (dtype_is_float(t)) return set & kFloatTypes;
  if (dtype_is_integer(t)) return set & (dtype_is_signed(t) ? kSignedIntTypes : kUnsignedIntTypes);
  if (t == DType::kBool) return set & kBoolType;
  if (t == DType::kString) return set & kStringType;
  return false;
}

std::string describe_types(uint32_t set) {
  std::string s;
  auto add = [&](uint32_t bit, const char* name) {
    if (!(set & bit)) return;
    if (!s.empty()) s += ", ";
    s += name;
  };
  add(kFloatTypes, "float types (float16, bfloat16, float, double)");
  add(kSignedIntTypes, "signed integers");
  add(kUnsignedIntTypes, "unsigned integers");
  add(kBoolType, "bool");
  add(kStringType, "string");
  return s;
}

DType check_input_type(const InferContext& ctx, size_t i, uint32_t allowed) {
  DType t = ctx.input_type(i);
  if (t == DType::kUndefined) return t;
  if (!dtype_in(t, allowed)) {
    if (!dtype_is_supported(t) || dtype_is_narrow(t))  // kiln holds float8, int4, ... but computes only Cast/Q/DQ
      ctx.unsupported("input {} has element type {}, which kiln does not compute with", i, dtype_name(t));
    ctx.fail("input {} has element type {}; {} accepts {}", i, dtype_name(t), ctx.node().op_type,
             describe_types(allowed));
  }
  return t;
}

DType check_same_type(const InferContext& ctx, std::span<const size_t> inputs, uint32_t allowed) {
  DType common = DType::kUndefined;
  size_t first = 0;
  for (size_t i : inputs) {
    if (!ctx.has_input(i)) continue;
    DType t = check_input_type(ctx, i, allowed);
    if (t == DType::kUndefined) continue;
    if (common == DType::kUndefined) {
      common = t;
      first = i;
    } else if (t != common) {
      ctx.fail("inputs {} and {} must have the same element type, but they are {} and {}", first, i,
               dtype_name(common), dtype_name(t));
    }
  }
  return common;
}

void reject_legacy_broadcast(const NodeContext& ctx) {
  if (ctx.attr_int("broadcast", 0) != 0 || ctx.has_attr("axis"))
    ctx.unsupported(
        "the legacy broadcasting of opset < 7 (attributes 'broadcast'/'axis') is not supported; re-export "
        "the model at opset 7 or later, where numpy-style broadcasting needs no attributes");
}

void infer_broadcast(InferContext& ctx, uint32_t allowed, DType out_type) {
  reject_legacy_broadcast(ctx);
  std::vector<size_t> present;
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    present.push_back(i);
    shapes.push_back(ctx.input_shape(i));
  }
  if (present.empty()) ctx.fail("needs at least one input");
  DType t = check_same_type(ctx, present, allowed);
  ctx.set_output(0, out_type == DType::kUndefined ? t : out_type, broadcast_shapes(ctx, shapes));
}

void copy_elements(const Tensor& x, Tensor& y) {
  KILN_ASSERT(x.dtype() == y.dtype() && x.numel() == y.numel());
  if (x.raw_data() == y.raw_data()) return;
  if (x.dtype() == DType::kString) {
    const std::string* src = x.data<std::string>();
    std::string* dst = y.data<std::string>();
    for (int64_t i = 0; i < x.numel(); ++i) dst[i] = src[i];
  } else if (x.nbytes() > 0) {
    std::memcpy(y.raw_data(), x.raw_data(), x.nbytes());
  }
}

}  // namespace kiln::ops
