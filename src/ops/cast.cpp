// Cast and CastLike: every pair of the element types kiln holds, strings included.
//   float -> integer: truncation toward zero; out of range as x86 does it (see float_to_int).
//   integer -> narrower integer: the low bits, two's complement (ONNX's rule).
//   anything -> bool: nonzero (NaN included) is true.
//   string -> number: decimal or scientific notation, "INF"/"+INF"/"-INF"/"NaN" in any case, surrounding
//     spaces ignored; "2.7" cast to an integer truncates to 2. Text that is not a number is bad input.
//   number -> string: %g layout with the fewest digits that read back as the same value ("0.1", "1e+20"),
//     "NaN", "INF", "-INF"; bool gives "1"/"0" (as onnxruntime does).
//   narrow types (float8, float4e2m1, float8e8m0, int4/uint4, int2/uint2; ir/narrow_types.h): every narrow value
//     is exact in float (the floats) or int32 (the integers), so a narrow input is widened to that type and
//     cast from there. A narrow float output rounds to nearest even from the value as a double ('saturate',
//     opset 19+, decides what overflow becomes; 'round_mode', opset 24+, rounds to float8e8m0); a narrow
//     integer output keeps the low bits of the integer, as for any narrower integer (floats first truncate
//     toward zero as for int32).
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <string>
#include <string_view>

#include "ir/dispatch.h"
#include "ir/narrow_types.h"
#include "ops/elementwise.h"
#include "ops/movement_prepared.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

/// Cast-1 (opset < 6) names the target type by its TensorProto enum name.
DType dtype_from_enum_name(const NodeContext& ctx, const std::string& name) {
  static const std::pair<const char*, DType> kNames[] = {
      {"FLOAT", DType::kFloat32}, {"UINT8", DType::kUInt8},     {"INT8", DType::kInt8},
      {"UINT16", DType::kUInt16}, {"INT16", DType::kInt16},     {"INT32", DType::kInt32},
      {"INT64", DType::kInt64},   {"STRING", DType::kString},   {"BOOL", DType::kBool},
      {"FLOAT16", DType::kFloat16}, {"DOUBLE", DType::kFloat64}, {"UINT32", DType::kUInt32},
      {"UINT64", DType::kUInt64}, {"COMPLEX64", DType::kComplex64}, {"COMPLEX128", DType::kComplex128},
      {"BFLOAT16", DType::kBFloat16}};
  for (const auto& [n, t] : kNames)
    if (name == n) return t;
  ctx.fail("attribute 'to' names an unknown type \"{}\"", name);
}

DType cast_target(const NodeContext& ctx) {
  const ir::Attribute* to = ctx.node().attr("to");
  if (!to) ctx.fail("required attribute 'to' is missing");
  if (to->type == ir::AttrType::kString) return dtype_from_enum_name(ctx, to->s);
  int64_t n = ctx.attr_int("to");
  if (n < INT32_MIN || n > INT32_MAX || !dtype_is_known(int32_t(n)))
    ctx.fail("attribute 'to' = {} is not an ONNX element type", n);
  return DType(int32_t(n));
}

// 'saturate' and 'round_mode': they apply to float8 outputs only.
struct CastOptions {
  bool saturate = true;
  E8M0Rounding rounding = E8M0Rounding::kUp;
};

CastOptions cast_options(const NodeContext& ctx) {
  CastOptions o;
  if (ctx.opset() >= 19) o.saturate = ctx.attr_int("saturate", 1) != 0;
  if (ctx.opset() >= 24) {
    const std::string mode = ctx.attr_string("round_mode", "up");
    if (!parse_e8m0_rounding(mode, o.rounding))
      ctx.fail("attribute 'round_mode' is \"{}\"; ONNX defines \"up\", \"down\" and \"nearest\"", mode);
  }
  return o;
}

void check_castable(const InferContext& ctx, DType from, DType to) {
  if (from != DType::kUndefined && !dtype_is_supported(from))
    ctx.unsupported("casting from {} is not supported: kiln does not hold that type", dtype_name(from));
  if (!dtype_is_supported(to))
    ctx.unsupported("casting to {} is not supported: kiln does not hold that type", dtype_name(to));
}

void infer_cast(InferContext& ctx) {
  DType to = cast_target(ctx);
  cast_options(ctx);  // refuses a bad round_mode before anything runs
  check_castable(ctx, ctx.input_type(0), to);
  ctx.set_output(0, to, ctx.input_shape(0));
}

void infer_cast_like(InferContext& ctx) {
  DType to = ctx.input_type(1);
  cast_options(ctx);
  if (to != DType::kUndefined) check_castable(ctx, ctx.input_type(0), to);
  ctx.set_output(0, to, ctx.input_shape(0));
}

// ---- text <-> number ----

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/// Parses all of `s` as a floating value of type F (float or double); false when it is not a number.
template <typename F> bool parse_float(std::string_view s, F& out) {
  if (!s.empty() && s.front() == '+' && (s.size() < 2 || s[1] != '-')) s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) {  // from_chars leaves `out` alone: give +-inf or +-0
    double d = std::strtod(std::string(s).c_str(), nullptr);
    out = F(d);
    return end == s.data() + s.size();
  }
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

template <typename To> To parse_number(const KernelContext& ctx, const std::string& text) {
  std::string_view s = trim(text);
  auto refuse = [&]() -> To { ctx.bad_input("cannot cast the string \"{}\" to {}", text, dtype_name(dtype_of<To>())); };
  if constexpr (std::is_same_v<To, bool>) {
    if (iequals(s, "true")) return true;
    if (iequals(s, "false")) return false;
    double d;
    if (!parse_float(s, d)) return refuse();
    return d != 0;
  } else if constexpr (is_float_v<To>) {
    using F = std::conditional_t<std::is_same_v<To, double>, double, float>;
    F f;
    if (!parse_float(s, f)) return refuse();
    return To(f);
  } else {
    using Wide = std::conditional_t<std::is_signed_v<To>, int64_t, uint64_t>;
    std::string_view digits = (!s.empty() && s.front() == '+') ? s.substr(1) : s;
    Wide w;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), w);
    if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty()) return static_cast<To>(w);
    double d;  // "2.7", "1e3", or an integer beyond 64 bits
    if (!parse_float(s, d)) return refuse();
    return float_to_int<To>(d);
  }
}

/// Integers in decimal. Floats with as many significant digits as the shortest text that reads back as the
/// same value, laid out as printf's %g does ("0.1", "1", "1e+20", "1.2345679e+08"): onnxruntime prints
/// %.8g, which agrees wherever 8 digits are enough and loses precision where they are not.
template <typename From> std::string format_number(From v) {
  if constexpr (std::is_same_v<From, bool>) {
    return v ? "1" : "0";
  } else if constexpr (!is_float_v<From>) {
    return std::to_string(v);
  } else {
    using V = std::conditional_t<is_half_v<From>, float, From>;
    V x = V(v);
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x)) return x > 0 ? "INF" : "-INF";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);  // shortest
    KILN_ASSERT(ec == std::errc());
    int digits = 0;
    for (const char* p = buf; p != end && *p != 'e'; ++p) digits += (*p >= '0' && *p <= '9');
    int n = std::snprintf(buf, sizeof(buf), "%.*g", digits, double(x));
    KILN_ASSERT(n > 0 && size_t(n) < sizeof(buf));
    return std::string(buf, size_t(n));
  }
}

// ---- one element ----

template <typename To, typename From> To convert(const KernelContext& ctx, const From& v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<From, std::string>) {
    return parse_number<To>(ctx, v);
  } else if constexpr (std::is_same_v<To, std::string>) {
    return format_number(v);
  } else if constexpr (std::is_same_v<To, bool>) {
    return Acc<From>(v) != Acc<From>(0);
  } else if constexpr (std::is_same_v<From, bool>) {
    return To(Acc<To>(v ? 1 : 0));
  } else if constexpr (!is_float_v<To> && is_float_v<From>) {
    return float_to_int<To>(double(Acc<From>(v)));
  } else if constexpr (!is_float_v<To>) {
    return static_cast<To>(v);  // integer to integer: keeps the low bits
  } else {
    // To a float type. double -> float16/bfloat16 rounds through float (a double rounding that can differ
    // from a direct conversion in the last bit, for values exactly between two halves after the first).
    return To(static_cast<Acc<To>>(Acc<From>(v)));
  }
}

// ---- narrow types ----

// The narrow input as float (narrow floats) or int32 (narrow integers), both exact.
Tensor widen_narrow(const Tensor& x) {
  const bool is_float = dtype_is_narrow_float(x.dtype());
  Tensor w(is_float ? DType::kFloat32 : DType::kInt32, x.dims());
  const auto* px = static_cast<const uint8_t*>(x.raw_data());
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (is_float) w.data<float>()[i] = narrow_float_value(x.dtype(), px[i]);
    else w.data<int32_t>()[i] = narrow_int_value(x.dtype(), px[i]);
  }
  return w;
}

// One element of a wide type to narrow type `to`.
template <typename From> uint8_t to_narrow(const KernelContext& ctx, DType to, const From& v, const CastOptions& o) {
  if (dtype_is_narrow_integer(to)) {
    int64_t i = 0;
    if constexpr (std::is_same_v<From, std::string>) i = parse_number<int64_t>(ctx, v);
    else if constexpr (std::is_same_v<From, bool>) i = v ? 1 : 0;
    else if constexpr (is_float_v<From>) i = float_to_int<int32_t>(double(Acc<From>(v)));
    else i = static_cast<int64_t>(v);  // uint64 wraps, keeping the low bits that matter
    return narrow_int_from(to, i);
  } else {
    double d = 0;
    if constexpr (std::is_same_v<From, std::string>) d = parse_number<double>(ctx, v);
    else if constexpr (std::is_same_v<From, bool>) d = v ? 1 : 0;
    else d = double(Acc<From>(v));
    return narrow_float_from(to, d, o.saturate, o.rounding);
  }
}

void cast_tensor(KernelContext& ctx, const Tensor& x, Tensor& y, const CastOptions& o) {
  if (x.dtype() == y.dtype()) {
    copy_elements(x, y);
    return;
  }
  if (dtype_is_narrow(x.dtype())) {
    cast_tensor(ctx, widen_narrow(x), y, o);
    return;
  }
  if (dtype_is_narrow(y.dtype())) {
    auto* py = static_cast<uint8_t*>(y.raw_data());
    visit_all(x.dtype(), [&]<typename From>() {
      const From* px = x.data<From>();
      for (int64_t i = 0; i < x.numel(); ++i) py[i] = to_narrow(ctx, y.dtype(), px[i], o);
    }, "Cast");
    return;
  }
  visit_all(x.dtype(), [&]<typename From>() {
    visit_all(y.dtype(), [&]<typename To>() {
      const From* px = x.data<From>();
      To* py = y.data<To>();
      for (int64_t i = 0; i < x.numel(); ++i) py[i] = convert<To, From>(ctx, px[i]);
    }, "Cast");
  }, "Cast");
}

// Cast and CastLike differ only in where the target type comes from (inference already sized the output).
void compute_cast(KernelContext& ctx) { cast_tensor(ctx, ctx.input(0), ctx.output(0), cast_options(ctx)); }

}  // namespace

KILN_REGISTER_OP(cast, {.domain = "", .name = "Cast", .versions = {1, 6, 9, 13, 19, 21, 23, 24, 25, 28}, .infer = infer_cast,
                        .compute = compute_cast, .prepare = prepare_cast});
KILN_REGISTER_OP(cast_like, {.domain = "", .name = "CastLike", .versions = {15, 19, 21, 23, 24, 25},
                             .infer = infer_cast_like, .compute = compute_cast, .prepare = prepare_cast});

}  // namespace kiln::ops
