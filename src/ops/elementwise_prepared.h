#pragma once
// Fast paths (OpSchema::prepare) of the float32 element-wise, normalisation and reduction ops, over the
// vunary, vbinary and vrow kernel families. Each op's file registers its prepare function from here; any
// dtype or case a fast path does not cover runs the op's reference compute, decided at run time when it
// depends on shapes or values.

#include <algorithm>
#include <cstdint>
#include <memory>

#include "kernels/thread_pool.h"
#include "ops/op.h"

namespace kiln::ops {

// Unary: Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Gelu (and ai.kiln.Gelu), Softplus, Clip,
// Erf, Exp, Log, Sqrt, Neg, Abs; Pow with the constant exponent 2.
std::unique_ptr<PreparedKernel> prepare_unary(PrepareContext& ctx);
std::unique_ptr<PreparedKernel> prepare_pow(PrepareContext& ctx);
// Binary with broadcasting: Add, Sub, Mul, Div, and two-input Max, Min.
std::unique_ptr<PreparedKernel> prepare_binary(PrepareContext& ctx);
// Softmax and LogSoftmax (any axis).
std::unique_ptr<PreparedKernel> prepare_softmax(PrepareContext& ctx);
// LayerNormalization (ONNX-17, output Y only; and ai.kiln.LayerNormalization).
std::unique_ptr<PreparedKernel> prepare_layer_norm(PrepareContext& ctx);
// BatchNormalization in inference mode.
std::unique_ptr<PreparedKernel> prepare_batch_norm(PrepareContext& ctx);
// ReduceSum and ReduceMean over trailing axes.
std::unique_ptr<PreparedKernel> prepare_reduce(PrepareContext& ctx);

namespace prepared_detail {

/// The op's reference compute (the fallback of every fast path here).
void run_reference(KernelContext& ctx);
/// True when input i of the prepare context is float32 (known type).
bool input_is_f32(const PrepareContext& ctx, size_t i);

/// Calls fn(begin, end) over [0, n) split into chunks of at least `grain` (a multiple of 16) across the
/// pool's threads, or once on the calling thread when the work is too small to pay for a hand-off. Results
/// never depend on the split (each element or row is computed the same way whichever thread runs it).
template <class F> void for_chunks(kernels::ThreadPool* pool, int64_t n, int64_t grain, F fn) {
  const int64_t threads = pool ? static_cast<int64_t>(pool->threads()) : 1;
  if (threads <= 1 || n < 2 * grain) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads * 4, n / grain);
  int64_t per = (n + chunks - 1) / chunks;
  per = (per + 15) / 16 * 16;
  chunks = (n + per - 1) / per;
  pool->parallel_for(static_cast<size_t>(chunks), [&](size_t c) {
    const int64_t b = static_cast<int64_t>(c) * per;
    fn(b, std::min(n, b + per));
  });
}

}  // namespace prepared_detail
}  // namespace kiln::ops
