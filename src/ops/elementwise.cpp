#include "ops/elementwise.h"

#include <algorithm>
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

bool uses_legacy_broadcast(const NodeContext& ctx) {
  if (ctx.opset() >= 7) return false;
  const int64_t b = ctx.attr_int("broadcast", 0);
  if (b != 0 && b != 1) ctx.fail("attribute 'broadcast' must be 0 or 1, not {}", b);
  return b == 1;
}

Shape legacy_aligned_shape(const NodeContext& ctx, const Shape& a, const Shape& b) {
  if (!a.rank_known || !b.rank_known) return Shape::unknown_rank();
  const auto ra = static_cast<int64_t>(a.rank()), rb = static_cast<int64_t>(b.rank());
  int64_t axis = ra - rb;  // suffix matching
  if (ctx.has_attr("axis")) {
    axis = ctx.attr_int("axis");
    if (axis < -ra || axis >= std::max<int64_t>(ra, 1))
      ctx.fail("attribute 'axis' {} is out of range for A of rank {}", axis, ra);
    if (axis < 0) axis += ra;
  }
  if (rb > ra || axis < 0 || axis + rb > ra)
    ctx.fail("with broadcast=1, B {} must fit inside A {} starting at axis {}", b.str(), a.str(), axis);
  std::vector<Dim> dims(static_cast<size_t>(ra), Dim(1));
  for (int64_t i = 0; i < rb; ++i) {
    const Dim& bd = b.dims[static_cast<size_t>(i)];
    const Dim& ad = a.dims[static_cast<size_t>(axis + i)];
    if (bd.is_known() && ad.is_known() && bd.value() != 1 && bd.value() != ad.value())
      ctx.fail("with broadcast=1, dim {} of B {} must be 1 or equal dim {} of A {}", i, b.str(), axis + i, a.str());
    dims[static_cast<size_t>(axis + i)] = bd;
  }
  return Shape(std::move(dims));
}

Tensor broadcast_operand_b(const KernelContext& ctx) {
  const Tensor& b = ctx.input(1);
  if (!uses_legacy_broadcast(ctx)) return b;
  return b.reshaped(legacy_aligned_shape(ctx, Shape::from(ctx.input(0).dims()), Shape::from(b.dims())).values());
}

void infer_broadcast(InferContext& ctx, uint32_t allowed, DType out_type) {
  std::vector<size_t> present;
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    present.push_back(i);
    shapes.push_back(ctx.input_shape(i));
  }
  if (present.empty()) ctx.fail("needs at least one input");
  DType t = check_same_type(ctx, present, allowed);
  if (uses_legacy_broadcast(ctx)) {
    if (shapes.size() != 2) ctx.fail("broadcast=1 needs exactly two inputs");
    shapes[1] = legacy_aligned_shape(ctx, shapes[0], shapes[1]);
  }
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
