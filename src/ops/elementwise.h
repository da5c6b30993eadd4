#pragma once
// Shared machinery of the elementwise op families (unary_math, activations, binary_arith, compare_logic,
// bitwise, variadic, cast, identity_like):
//   - element-type sets, checked during inference so a wrong type is reported before any kernel runs;
//   - inference for same-shape and broadcasting ops;
//   - BroadcastLoop: walks N broadcast inputs and one output as runs of contiguous output elements, so the
//     common cases (equal shapes, a scalar, a per-channel operand) become one or a few tight loops;
//   - arithmetic that wraps instead of overflowing (signed overflow is undefined behaviour in C++).

#include <array>
#include <climits>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/dtype.h"
#include "kiln/tensor.h"
#include "ops/op.h"

namespace kiln::ops {

// ---- element-type sets -------------------------------------------------------------------------------

/// Bit set of element-type families an op accepts.
enum TypeSet : uint32_t {
  kFloatTypes = 1u,        ///< float16, bfloat16, float, double
  kSignedIntTypes = 2u,    ///< int8 .. int64
  kUnsignedIntTypes = 4u,  ///< uint8 .. uint64
  kBoolType = 8u,
  kStringType = 16u,
  kIntTypes = kSignedIntTypes | kUnsignedIntTypes,
  kSignedTypes = kFloatTypes | kSignedIntTypes,
  kNumericTypes = kFloatTypes | kIntTypes,
  kAllTypes = kNumericTypes | kBoolType | kStringType,
};

/// True when `t` belongs to one of the families in `set`.
bool dtype_in(DType t, uint32_t set);
/// "float types, signed integers" style description of a set, for error messages.
std::string describe_types(uint32_t set);

/// Checks input i's element type (when known). Types kiln cannot hold give ctx.unsupported; types outside
/// `allowed` give ctx.fail (the model is invalid). Returns the type (kUndefined when not known).
DType check_input_type(const InferContext& ctx, size_t i, uint32_t allowed);
/// Checks that the listed inputs (those present) share one element type from `allowed` and returns it
/// (kUndefined when no input's type is known).
DType check_same_type(const InferContext& ctx, std::span<const size_t> inputs, uint32_t allowed);

/// Opset < 7's limited broadcasting of two-input ops (Add, Mul, Pow, And, Equal, ...): with attribute
/// broadcast=1, B's dims line up with A's starting at attribute `axis` (default: B's dims are A's last ones),
/// each equal to A's or 1, and the output has A's shape. True when the node asks for it.
bool uses_legacy_broadcast(const NodeContext& ctx);
/// B's shape padded with 1s to A's rank at the place `axis` puts it, so that numpy broadcasting gives the
/// legacy result; fails when B does not fit in A there. `a` and `b` are the two inputs' shapes.
Shape legacy_aligned_shape(const NodeContext& ctx, const Shape& a, const Shape& b);
/// Input 1 of a kernel seen with legacy_aligned_shape's dims when the node uses legacy broadcasting (a view
/// sharing its memory), else input 1 itself.
Tensor broadcast_operand_b(const KernelContext& ctx);

/// Inference: one input, output of the same type and shape; the type must be in `Allowed`.
template <uint32_t Allowed> void infer_unary(InferContext& ctx) {
  ctx.set_output(0, check_input_type(ctx, 0, Allowed), ctx.input_shape(0));
}

/// Inference for ops whose inputs broadcast together and share a type from `allowed`; the output takes
/// `out_type`, or the inputs' type when `out_type` is kUndefined. Absent inputs are skipped.
void infer_broadcast(InferContext& ctx, uint32_t allowed, DType out_type = DType::kUndefined);

/// Inference for two-input broadcasting ops (Add, Mul, ...): same-type inputs, same-type output.
template <uint32_t Allowed> void infer_binary(InferContext& ctx) { infer_broadcast(ctx, Allowed); }
/// Inference for comparisons: same-type inputs from `Allowed`, bool output.
template <uint32_t Allowed> void infer_compare(InferContext& ctx) {
  infer_broadcast(ctx, Allowed, DType::kBool);
}

// ---- arithmetic types --------------------------------------------------------------------------------

template <typename T> inline constexpr bool is_half_v = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;
template <typename T> inline constexpr bool is_float_v = is_half_v<T> || std::is_floating_point_v<T>;

/// The type to compute in: float for the 16-bit floats (stored rounded), T itself otherwise.
template <typename T> using Acc = std::conditional_t<is_half_v<T>, float, T>;

/// Wrap-around integer arithmetic: two's complement results without undefined behaviour. Narrow types go
/// through `unsigned` so that promotion to int cannot overflow (uint16 * uint16 would).
template <typename T> using WrapUnsigned =
    std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
template <typename T> T wrap_add(T a, T b) { return T(WrapUnsigned<T>(a) + WrapUnsigned<T>(b)); }
template <typename T> T wrap_sub(T a, T b) { return T(WrapUnsigned<T>(a) - WrapUnsigned<T>(b)); }
template <typename T> T wrap_mul(T a, T b) { return T(WrapUnsigned<T>(a) * WrapUnsigned<T>(b)); }
template <typename T> T wrap_neg(T a) { return T(WrapUnsigned<T>(0) - WrapUnsigned<T>(a)); }

/// Converts a floating value to integer type T as x86 hardware does (and so onnxruntime and numpy there):
/// truncation toward zero; values outside the range of the conversion instruction (and NaN) give its
/// "indefinite" value, the type's minimum; types narrower than 32 bits convert through int32 and keep the
/// low bits, uint32 through int64. ONNX leaves out-of-range casts undefined; kiln defines them like this so
/// results compare equal to the usual references, with no undefined behaviour in C++.
template <typename T> T float_to_int(double v) {
  auto to_i32 = [](double d) -> int32_t {
    return d > -2147483649.0 && d < 2147483648.0 ? static_cast<int32_t>(d) : INT32_MIN;
  };
  auto to_i64 = [](double d) -> int64_t {
    return d >= -9223372036854775808.0 && d < 9223372036854775808.0 ? static_cast<int64_t>(d) : INT64_MIN;
  };
  if constexpr (sizeof(T) < 4) {
    return static_cast<T>(static_cast<uint32_t>(to_i32(v)));
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return to_i32(v);
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    return static_cast<uint32_t>(static_cast<uint64_t>(to_i64(v)));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return to_i64(v);
  } else {
    static_assert(std::is_same_v<T, uint64_t>);
    // The compiler's sequence: below 2^63 (NaN included) one conversion; above, convert v - 2^63 and set
    // the top bit, which leaves 0 for v >= 2^64.
    constexpr double k2p63 = 9223372036854775808.0;
    if (!(v >= k2p63)) return static_cast<uint64_t>(to_i64(v));
    return static_cast<uint64_t>(to_i64(v - k2p63)) ^ (uint64_t{1} << 63);
  }
}

// ---- broadcasting loop -------------------------------------------------------------------------------

/// Walks an output of `out_dims` and N inputs broadcast to it. Dims of size 1 are dropped and neighbouring
/// dims where every input is either fully present or fully broadcast are merged, so equal shapes become a
/// single run, `[N,C,H,W] + [C,1,1]` becomes runs of H*W with the operand fixed, `[N,L,C] + [C]` becomes
/// runs of C with both operands advancing. Fixed-size state: walking allocates nothing.
template <size_t N> class BroadcastLoop {
 public:
  using Offsets = std::array<int64_t, N>;
  /// Most output dims it walks (more fails with kUnsupported; no model comes near it).
  static constexpr size_t kMaxRank = 64;

  /// `in_dims[k]` must broadcast to `out_dims` (checked by inference; violated here = internal error).
  BroadcastLoop(const std::vector<int64_t>& out_dims, const std::array<const std::vector<int64_t>*, N>& in_dims);

  /// Calls run(out_offset, in_offsets, count, in_steps) for every run of `count` consecutive output
  /// elements; input k's elements are at in_offsets[k] + i * in_steps[k], with in_steps[k] 0 or 1.
  template <typename F> void for_each_run(F&& run) const;

 private:
  bool empty_ = false;
  size_t rank_ = 0;                          // merged dims
  std::array<int64_t, kMaxRank> dims_{};     // merged dims, outermost first
  std::array<Offsets, kMaxRank> strides_{};  // per merged dim, each input's element stride (0 when broadcast)
};

template <size_t N>
BroadcastLoop<N>::BroadcastLoop(const std::vector<int64_t>& out_dims,
                                const std::array<const std::vector<int64_t>*, N>& in_dims) {
  const size_t rank = out_dims.size();
  if (rank > kMaxRank) fail(ErrorCode::kUnsupported, "broadcasting over {} dims; kiln handles up to {}", rank, kMaxRank);
  std::array<uint32_t, kMaxRank> masks{};  // per kept output dim: bit k set when input k has the full dim there
  for (size_t a = 0; a < rank; ++a) {
    if (out_dims[a] == 0) empty_ = true;
    if (out_dims[a] == 1) continue;
    uint32_t mask = 0;
    for (size_t k = 0; k < N; ++k) {
      const std::vector<int64_t>& d = *in_dims[k];
      KILN_ASSERT(d.size() <= rank);
      size_t lead = rank - d.size();
      int64_t v = a < lead ? 1 : d[a - lead];
      KILN_ASSERT(v == out_dims[a] || v == 1);
      if (v == out_dims[a]) mask |= 1u << k;
    }
    if (rank_ > 0 && masks[rank_ - 1] == mask) {
      dims_[rank_ - 1] *= out_dims[a];
    } else {
      dims_[rank_] = out_dims[a];
      masks[rank_++] = mask;
    }
  }
  Offsets running;
  running.fill(1);
  for (size_t j = rank_; j-- > 0;) {
    for (size_t k = 0; k < N; ++k) {
      if (masks[j] & (1u << k)) {
        strides_[j][k] = running[k];
        running[k] *= dims_[j];
      }
    }
  }
}

template <size_t N>
template <typename F>
void BroadcastLoop<N>::for_each_run(F&& run) const {
  if (empty_) return;
  Offsets offsets{};
  if (rank_ == 0) {  // every dim is 1: one element
    run(int64_t{0}, offsets, int64_t{1}, Offsets{});
    return;
  }
  const size_t outer = rank_ - 1;
  const int64_t inner = dims_[outer];
  const Offsets steps = strides_[outer];
  std::array<int64_t, kMaxRank> index{};
  int64_t out_offset = 0;
  while (true) {
    run(out_offset, offsets, inner, steps);
    out_offset += inner;
    size_t j = outer;
    while (j > 0) {
      --j;
      for (size_t k = 0; k < N; ++k) offsets[k] += strides_[j][k];
      if (++index[j] < dims_[j]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides_[j][k] * dims_[j];
      index[j] = 0;
      if (j == 0) return;
    }
    if (outer == 0) return;
  }
}

/// out[i] = op(a[i], b[i]) over broadcast inputs; `out` is allocated with the broadcast dims. The four
/// operand patterns (both advance, one fixed, both fixed) get their own loop so compilers vectorise them.
template <typename TA, typename TB, typename TO, typename Op>
void broadcast_binary(const Tensor& a, const Tensor& b, Tensor& out, Op op) {
  const TA* pa = a.data<TA>();
  const TB* pb = b.data<TB>();
  TO* po = out.data<TO>();
  BroadcastLoop<2> loop(out.dims(), {&a.dims(), &b.dims()});
  loop.for_each_run([&](int64_t o, const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& step) {
    const TA* x = pa + off[0];
    const TB* y = pb + off[1];
    TO* z = po + o;
    if (step[0] && step[1]) {
      for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], y[i]);
    } else if (step[0]) {
      const TB yv = y[0];
      for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], yv);
    } else if (step[1]) {
      const TA xv = x[0];
      for (int64_t i = 0; i < n; ++i) z[i] = op(xv, y[i]);
    } else {
      const TO v = op(x[0], y[0]);
      for (int64_t i = 0; i < n; ++i) z[i] = v;
    }
  });
}

/// y[i] = op(x[i]) over equal shapes.
template <typename TI, typename TO, typename Op> void map_unary(const Tensor& x, Tensor& y, Op op) {
  const TI* px = x.data<TI>();
  TO* py = y.data<TO>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) py[i] = op(px[i]);
}

/// Copies `x` into `y` (same type and element count), strings included.
void copy_elements(const Tensor& x, Tensor& y);

}  // namespace kiln::ops
