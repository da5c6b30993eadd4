// MatMul (numpy semantics: 1-D operands, broadcast batch dims) and Gemm (transA/transB, alpha/beta, C
// broadcast to M x N). float goes through the reference GEMM; float16/bfloat16 are computed in float;
// double and the integer types use the plain loop (integers wrap like numpy's).

#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/gemm_plain.h"
#include "ops/matmul_prepared.h"
#include "ops/matmul_shape.h"
#include "ops/nn_util.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/op_macs.h"

namespace kiln::ops {
namespace {

bool matmul_type_ok(DType t) {
  return dtype_is_float(t) || t == DType::kInt32 || t == DType::kInt64 || t == DType::kUInt32 || t == DType::kUInt64;
}

// ---- MatMul ----

void infer_matmul(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!matmul_type_ok(t)) ctx.unsupported("MatMul does not take {}", dtype_name(t));
  if (ctx.input_type(1) != t) ctx.fail("A is {} but B is {}", dtype_name(t), dtype_name(ctx.input_type(1)));
  ctx.set_output(0, t, infer_matmul_shape(ctx, ctx.input_shape(0), ctx.input_shape(1)));
}

template <typename T> void run_matmul(const MatMulPlan& p, const T* a, const T* b, T* y) {
  if (p.fold_batches) {
    const int64_t rows = checked_mul(static_cast<int64_t>(p.a_offset.size()), p.M);
    gemm_any<T>(false, false, rows, p.N, p.K, a, p.K, b, p.N, y, p.N, false);
    return;
  }
  for (size_t i = 0; i < p.a_offset.size(); ++i)
    gemm_any<T>(false, false, p.M, p.N, p.K, a + p.a_offset[i], p.K, b + p.b_offset[i], p.N,
                y + static_cast<int64_t>(i) * p.M * p.N, p.N, false);
}

void compute_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype()) ctx.bad_input("A is {} but B is {}", dtype_name(a.dtype()), dtype_name(b.dtype()));
  MatMulPlan p = plan_matmul(ctx, a.dims(), b.dims());
  Tensor& y = ctx.output(0);
  expect_output_dims(ctx, y, p.out_dims);
  visit_numeric(a.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
      std::vector<float> af = to_float_vector<T>(a), bf = to_float_vector<T>(b), yf(static_cast<size_t>(y.numel()));
      run_matmul<float>(p, af.data(), bf.data(), yf.data());
      for (size_t i = 0; i < yf.size(); ++i) y.data<T>()[i] = T(yf[i]);
    } else {
      run_matmul<T>(p, a.data<T>(), b.data<T>(), y.data<T>());
    }
  }, "MatMul");
}

// ---- Gemm ----

struct GemmDims {
  Dim M, N;
};

GemmDims infer_gemm_dims(const InferContext& ctx) {
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  const bool ta = ctx.attr_int("transA", 0) != 0, tb = ctx.attr_int("transB", 0) != 0;
  GemmDims d;
  Dim ka, kb;
  if (a.rank_known) {
    if (a.rank() != 2) ctx.fail("A must be 2-D, got {}", a.str());
    d.M = a.dims[ta ? 1 : 0];
    ka = a.dims[ta ? 0 : 1];
  }
  if (b.rank_known) {
    if (b.rank() != 2) ctx.fail("B must be 2-D, got {}", b.str());
    d.N = b.dims[tb ? 0 : 1];
    kb = b.dims[tb ? 1 : 0];
  }
  if (ka.is_known() && kb.is_known() && ka.value() != kb.value())
    ctx.fail("cannot multiply A {} (transA={}) by B {} (transB={}): K is {} vs {}", a.str(), int(ta), b.str(), int(tb),
             ka.value(), kb.value());
  return d;
}

void infer_gemm(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (!matmul_type_ok(t)) ctx.unsupported("Gemm does not take {}", dtype_name(t));
  if (ctx.input_type(1) != t) ctx.fail("A is {} but B is {}", dtype_name(t), dtype_name(ctx.input_type(1)));
  GemmDims d = infer_gemm_dims(ctx);
  if (ctx.has_input(2)) {
    if (ctx.input_type(2) != t) ctx.fail("C is {} but A is {}", dtype_name(ctx.input_type(2)), dtype_name(t));
    const Shape& c = ctx.input_shape(2);
    if (c.rank_known) {
      if (c.rank() > 2) ctx.fail("C must have rank <= 2 to broadcast to M x N, got {}", c.str());
      const Dim want[2] = {d.M, d.N};
      for (size_t i = 0; i < c.rank(); ++i) {
        const Dim& cd = c.dims[i];
        const Dim& w = want[2 - c.rank() + i];
        if (cd.is_known() && w.is_known() && cd.value() != 1 && cd.value() != w.value())
          ctx.fail("C {} does not broadcast to the {} x {} result", c.str(), d.M.str(), d.N.str());
      }
    }
  } else if (ctx.opset() < 11) {
    ctx.fail("input C is required before opset 11");
  }
  ctx.set_output(0, t, Shape({d.M, d.N}));
}

void compute_gemm(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const bool ta = ctx.attr_int("transA", 0) != 0, tb = ctx.attr_int("transB", 0) != 0;
  const float alpha = ctx.attr_float("alpha", 1.0f), beta = ctx.attr_float("beta", 1.0f);
  if (a.rank() != 2 || b.rank() != 2) ctx.bad_input("A {} and B {} must be 2-D", dims_str(a.dims()), dims_str(b.dims()));
  const int64_t M = a.dim(ta ? 1 : 0), K = a.dim(ta ? 0 : 1), N = b.dim(tb ? 0 : 1);
  if (b.dim(tb ? 1 : 0) != K)
    ctx.bad_input("cannot multiply A {} (transA={}) by B {} (transB={})", dims_str(a.dims()), int(ta),
                  dims_str(b.dims()), int(tb));
  // C broadcast to M x N: strides 0 along broadcast axes.
  int64_t cs_m = 0, cs_n = 0;
  if (c) {
    std::vector<int64_t> cd = c->dims();
    if (cd.size() > 2) ctx.bad_input("C {} must have rank <= 2", dims_str(cd));
    while (cd.size() < 2) cd.insert(cd.begin(), 1);
    if ((cd[0] != 1 && cd[0] != M) || (cd[1] != 1 && cd[1] != N))
      ctx.bad_input("C {} does not broadcast to the {} x {} result", dims_str(c->dims()), M, N);
    cs_m = cd[0] == 1 ? 0 : cd[1];
    cs_n = cd[1] == 1 ? 0 : 1;
  }
  Tensor& y = ctx.output(0);
  expect_output_dims(ctx, y, {M, N});
  const bool use_c = c && beta != 0.0f;
  visit_numeric(a.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, float>) {
      float* ys = y.data<float>();
      if (use_c)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) ys[m * N + n] = c->data<float>()[m * cs_m + n * cs_n];
      kernels::gemm_f32_ref(ta, tb, M, N, K, alpha, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1),
                        use_c ? beta : 0.0f, ys, N);
    } else {
      // Other types: the product in the compute type (float for halves), then alpha * AB + beta * C.
      using Acc = std::conditional_t<std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>, float, T>;
      std::vector<Acc> av(static_cast<size_t>(a.numel())), bv(static_cast<size_t>(b.numel()));
      for (size_t i = 0; i < av.size(); ++i) av[i] = static_cast<Acc>(a.data<T>()[i]);
      for (size_t i = 0; i < bv.size(); ++i) bv[i] = static_cast<Acc>(b.data<T>()[i]);
      std::vector<Acc> acc(static_cast<size_t>(checked_mul(M, N)));
      gemm_any<Acc>(ta, tb, M, N, K, av.data(), a.dim(1), bv.data(), b.dim(1), acc.data(), N, false);
      T* ys = y.data<T>();
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double v = static_cast<double>(alpha) * static_cast<double>(acc[static_cast<size_t>(m * N + n)]);
          if (use_c) v += static_cast<double>(beta) * static_cast<double>(c->data<T>()[m * cs_m + n * cs_n]);
          if constexpr (std::is_integral_v<T>) ys[m * N + n] = static_cast<T>(v);
          else ys[m * N + n] = T(static_cast<Acc>(v));
        }
    }
  }, "Gemm");
}

}  // namespace

KILN_REGISTER_OP(matmul,
                 {"", "MatMul", {1, 9, 13}, 0, infer_matmul, compute_matmul, false, false, false, prepare_matmul}.with_macs(macs::matmul));
KILN_REGISTER_OP(gemm, {"", "Gemm", {1, 6, 7, 9, 11, 13}, 0, infer_gemm, compute_gemm, false, false, false,
                        prepare_gemm}.with_macs(macs::gemm));

}  // namespace kiln::ops
