// MaxPool (with optional Indices), AveragePool and LpPool over 1-D, 2-D and 3-D windows, with pads, auto_pad,
// strides, dilations and ceil_mode. Per axis the valid input taps of each output position are listed once;
// the loops then only visit taps inside the input.

#include <cmath>
#include <limits>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/pool_prepared.h"
#include "ops/window.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

enum class PoolKind { kMax, kAverage, kLp };

WindowAttrs pool_attrs(const NodeContext& ctx, const RankOf& of) {
  std::vector<int64_t> k = kernel_shape_attr(ctx, of);
  if (k.empty()) ctx.fail("required attribute 'kernel_shape' is missing");
  return read_window_attrs(ctx, of, std::move(k), true);
}

void check_pool_input(const NodeContext& ctx, const Shape& x) {
  if (x.rank_known && x.rank() < 3) ctx.fail("input must have rank >= 3 (N, C, spatial...), got {}", x.str());
}

// At load: the window attributes against X's rank when it is known by then.
void validate_pool(const InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  check_pool_input(ctx, x);
  if (x.rank_known) pool_attrs(ctx, rank_of("X", x));
}

template <PoolKind kind> void infer_pool(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  const bool ok = dtype_is_float(t) || (kind == PoolKind::kMax && (t == DType::kInt8 || t == DType::kUInt8));
  if (!ok) ctx.unsupported("{} does not take {} input", ctx.node().op_type, dtype_name(t));
  const Shape& x = ctx.input_shape(0);
  check_pool_input(ctx, x);
  if (!x.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    ctx.set_output(1, DType::kInt64, Shape::unknown_rank());
    return;
  }
  WindowAttrs a = pool_attrs(ctx, rank_of("X", x));
  std::vector<Dim> dims{x.dims[0], x.dims[1]};
  for (Dim& d : window_output_dims(ctx, a, x)) dims.push_back(d);
  ctx.set_output(0, t, Shape(dims));
  if (kind == PoolKind::kMax) ctx.set_output(1, DType::kInt64, Shape(dims));
}

// One spatial axis, padded up to three: for output position o, the input coordinates its window reads.
struct AxisTaps {
  int64_t in = 1, out = 1;
  std::vector<std::vector<int64_t>> taps;  // per output position, valid input coordinates
  std::vector<int64_t> padded_count;       // per output position, taps inside input + pads (count_include_pad)
};

AxisTaps axis_taps(const WindowGeometry& g, size_t d) {
  AxisTaps a;
  a.in = g.in[d];
  a.out = g.out[d];
  a.taps.resize(static_cast<size_t>(a.out));
  a.padded_count.resize(static_cast<size_t>(a.out));
  for (int64_t o = 0; o < a.out; ++o) {
    const int64_t start = o * g.strides[d] - g.pad_begin[d];
    for (int64_t k = 0; k < g.kernel[d]; ++k) {
      const int64_t i = start + k * g.dilations[d];
      if (i < a.in + g.pad_end[d]) ++a.padded_count[static_cast<size_t>(o)];
      if (i >= 0 && i < a.in) a.taps[static_cast<size_t>(o)].push_back(i);
    }
  }
  return a;
}

AxisTaps unit_axis() {
  AxisTaps a;
  a.taps = {{0}};
  a.padded_count = {1};
  return a;
}

template <PoolKind kind> void compute_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) ctx.bad_input("input must have rank >= 3 (N, C, spatial...), got {}", dims_str(x.dims()));
  const size_t spatial = x.rank() - 2;
  if (spatial > 3) ctx.unsupported("pooling over {} spatial dims; kiln pools 1-D, 2-D and 3-D windows", spatial);
  WindowAttrs attrs = pool_attrs(ctx, rank_of("X", x.dims()));
  WindowGeometry g = resolve_window(ctx, attrs, std::vector<int64_t>(x.dims().begin() + 2, x.dims().end()));
  const bool include_pad = ctx.attr_int("count_include_pad", 0) != 0;
  const double p = kind == PoolKind::kLp ? lp_power(ctx) : 2.0;
  const bool col_major = ctx.attr_int("storage_order", 0) != 0;

  // Axes padded to three at the front: (d0, d1, d2).
  AxisTaps ax[3] = {unit_axis(), unit_axis(), unit_axis()};
  for (size_t d = 0; d < spatial; ++d) ax[3 - spatial + d] = axis_taps(g, d);
  // Index strides for the Indices output: row-major, or column-major over the spatial dims (storage_order 1).
  int64_t st[3];
  if (!col_major) {
    st[2] = 1, st[1] = ax[2].in, st[0] = ax[1].in * ax[2].in;
  } else {
    // the real spatial dims are the last `spatial` of the three; the first real one varies fastest
    int64_t s = 1;
    for (size_t d = 3 - spatial; d < 3; ++d) st[d] = s, s *= ax[d].in;
    for (size_t d = 0; d < 3 - spatial; ++d) st[d] = 0;
  }

  const int64_t planes = checked_mul(x.dim(0), x.dim(1));
  const int64_t in_plane = g.in_size(), out_plane = g.out_size();
  Tensor& y = ctx.output(0);
  std::vector<int64_t> want{x.dim(0), x.dim(1)};
  want.insert(want.end(), g.out.begin(), g.out.end());
  expect_output_dims(ctx, y, want);
  int64_t* idx_out = (kind == PoolKind::kMax && ctx.num_outputs() > 1 && ctx.node().outputs[1] >= 0)
                         ? ctx.output(1).data<int64_t>()
                         : nullptr;

  auto run = [&]<typename T>() {
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* xp = xs + pl * in_plane;
      T* yp = ys + pl * out_plane;
      int64_t q = 0;
      for (int64_t o0 = 0; o0 < ax[0].out; ++o0)
        for (int64_t o1 = 0; o1 < ax[1].out; ++o1)
          for (int64_t o2 = 0; o2 < ax[2].out; ++o2, ++q) {
            const auto& t0 = ax[0].taps[static_cast<size_t>(o0)];
            const auto& t1 = ax[1].taps[static_cast<size_t>(o1)];
            const auto& t2 = ax[2].taps[static_cast<size_t>(o2)];
            if constexpr (kind == PoolKind::kMax) {
              float best = -std::numeric_limits<float>::infinity();
              double best_d = -std::numeric_limits<double>::infinity();
              int64_t best_i = -1;
              for (int64_t i0 : t0)
                for (int64_t i1 : t1)
                  for (int64_t i2 : t2) {
                    const T v = xp[(i0 * ax[1].in + i1) * ax[2].in + i2];
                    if constexpr (std::is_same_v<T, double>) {
                      if (v > best_d || best_i < 0) best_d = v, best_i = i0 * st[0] + i1 * st[1] + i2 * st[2];
                    } else {
                      const float fv = static_cast<float>(v);
                      if (fv > best || best_i < 0) best = fv, best_i = i0 * st[0] + i1 * st[1] + i2 * st[2];
                    }
                  }
              if (best_i < 0) {  // a window entirely in the padding
                if constexpr (std::is_integral_v<T>) yp[q] = std::numeric_limits<T>::lowest();
                else yp[q] = T(-std::numeric_limits<float>::infinity());
              } else if constexpr (std::is_same_v<T, double>) {
                yp[q] = best_d;
              } else {
                yp[q] = static_cast<T>(best);
              }
              if (idx_out) idx_out[pl * out_plane + q] = best_i < 0 ? -1 : pl * in_plane + best_i;
            } else {
              double acc = 0;
              int64_t n = 0;
              for (int64_t i0 : t0)
                for (int64_t i1 : t1)
                  for (int64_t i2 : t2) {
                    const double v = static_cast<double>(xp[(i0 * ax[1].in + i1) * ax[2].in + i2]);
                    acc += kind == PoolKind::kAverage ? v : std::pow(std::abs(v), p);
                    ++n;
                  }
              if constexpr (kind == PoolKind::kAverage) {
                const int64_t div = include_pad ? ax[0].padded_count[static_cast<size_t>(o0)] *
                                                      ax[1].padded_count[static_cast<size_t>(o1)] *
                                                      ax[2].padded_count[static_cast<size_t>(o2)]
                                                : n;
                yp[q] = from_double<T>(div > 0 ? acc / static_cast<double>(div) : std::numeric_limits<double>::quiet_NaN());
              } else {
                yp[q] = from_double<T>(std::pow(acc, 1.0 / p));
              }
            }
          }
    }
  };
  if (kind == PoolKind::kMax && x.dtype() == DType::kInt8) {
    run.template operator()<int8_t>();
  } else if (kind == PoolKind::kMax && x.dtype() == DType::kUInt8) {
    run.template operator()<uint8_t>();
  } else {
    visit_float(x.dtype(), [&]<typename T>() {
      if constexpr (std::is_same_v<T, double>) {
        run.template operator()<double>();
      } else {
        run.template operator()<T>();
      }
    }, ctx.node().op_type.c_str());
  }
}

}  // namespace

KILN_REGISTER_OP(max_pool, {.domain = "", .name = "MaxPool", .versions = {1, 8, 10, 11, 12, 22},
                            .infer = infer_pool<PoolKind::kMax>, .compute = compute_pool<PoolKind::kMax>,
                            .prepare = prepare_max_pool}
                               .with_validate(validate_pool).with_macs(macs::pool));
KILN_REGISTER_OP(average_pool, {.domain = "", .name = "AveragePool", .versions = {1, 7, 10, 11, 19, 22},
                                .infer = infer_pool<PoolKind::kAverage>, .compute = compute_pool<PoolKind::kAverage>,
                                .prepare = prepare_average_pool}
                                   .with_validate(validate_pool).with_macs(macs::pool));
KILN_REGISTER_OP(lp_pool, {"", "LpPool", {1, 2, 11, 18, 22}, 0, infer_pool<PoolKind::kLp>,
                           compute_pool<PoolKind::kLp>}.with_validate(validate_pool).with_macs(macs::pool));

}  // namespace kiln::ops
