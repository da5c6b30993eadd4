// BitCast (opset 26): reinterprets each element's bytes as another type of the same width, without
// converting values (little-endian, as the spec requires and x86/ARM are).
//
// kiln holds bool as C++ bool, whose only valid bytes are 0 and 1; a cast *to* bool therefore maps every
// non-zero byte to 1 instead of copying it (reading any other byte as bool would be undefined behaviour).

#include <cstring>

#include "ops/op.h"
#include "ir/narrow_types.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

DType target_type(const NodeContext& ctx) {
  const int64_t to = ctx.attr_int("to");
  if (to <= 0 || to > INT32_MAX || !dtype_is_known(static_cast<int32_t>(to))) ctx.fail("'to' = {} is not an ONNX data type", to);
  const auto t = static_cast<DType>(to);
  if (t == DType::kString) ctx.fail("BitCast to string is not defined");
  if (!dtype_is_supported(t)) ctx.unsupported("BitCast to {} is not supported", dtype_name(t));
  return t;
}

void infer_bitcast(InferContext& ctx) {
  const DType to = target_type(ctx), from = ctx.input_type(0);
  if (from == DType::kString) ctx.fail("BitCast from string is not defined");
  if (!dtype_is_supported(from)) ctx.unsupported("BitCast from {} is not supported", dtype_name(from));
  if (dtype_packed_bits(from) != dtype_packed_bits(to))  // int4 is 4 bits wide, though held in a byte
    ctx.fail("BitCast needs types of equal width, but {} has {} bits and {} has {}", dtype_name(from),
             dtype_packed_bits(from), dtype_name(to), dtype_packed_bits(to));
  ctx.set_output(0, to, ctx.input_shape(0));
}

void compute_bitcast(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (x.nbytes() != y.nbytes()) ctx.bad_input("input and output sizes differ");
  if (y.dtype() == DType::kBool) {
    const auto* in = static_cast<const uint8_t*>(x.raw_data());
    bool* out = y.data<bool>();
    for (int64_t i = 0; i < y.numel(); ++i) out[i] = in[i] != 0;
    return;
  }
  if (x.nbytes() != 0) std::memcpy(y.raw_data(), x.raw_data(), x.nbytes());
  if (dtype_packed_bits(y.dtype()) < 8) {  // keep kiln's byte form: int4/int2 sign-extended, others masked
    auto* out = static_cast<uint8_t*>(y.raw_data());
    for (int64_t i = 0; i < y.numel(); ++i)
      out[i] = dtype_is_narrow_integer(y.dtype()) ? narrow_int_from(y.dtype(), narrow_int_value(y.dtype(), out[i]))
                                                  : static_cast<uint8_t>(out[i] & 0x0F);
  }
}

}  // namespace

KILN_REGISTER_OP(bitcast, {"", "BitCast", {26}, 0, infer_bitcast, compute_bitcast});

}  // namespace kiln::ops
