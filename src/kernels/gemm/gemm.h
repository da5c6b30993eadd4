#pragma once
// Single-precision GEMM for the fast path: C = epilogue(alpha * A·B), where either operand may have been packed
// once ahead of time (the constant weights of Conv, Gemm, MatMul and RNNs; the prepared kernel owns them), and
// the epilogue (bias, residual, activation) is applied to each tile while it is still in registers or cache.
// The micro-kernel is chosen from the active ISA tier (kernels/isa.h) through the family's list (gemm_list.h).
// The reference operators never call this: they keep gemm_f32_ref (kernels/gemm_ref.h) as the oracle.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/activation.h"
#include "kernels/thread_pool.h"

namespace kiln::kernels {

/// A matrix in memory: row-major with leading dimension `ld`; when `trans`, the memory holds the transpose of
/// the logical operand (logical element (r, c) is data[c * ld + r]).
struct MatrixRef {
  const float* data = nullptr;
  int64_t ld = 0;
  bool trans = false;
};

enum class GemmSide : uint8_t { kA, kB };

/// An operand packed into the panel layout of the micro-kernel that was active when it was packed. Immutable
/// once built; shared by every plan and thread of a session. It owns its bytes (pack_gemm_operand) or views
/// bytes owned elsewhere (gemm_operand_view: a prepared kernel's packed constants, possibly in a mapped engine).
class PackedGemmOperand {
 public:
  PackedGemmOperand() = default;
  GemmSide side() const { return side_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  /// Bytes held (counted in the session's memory stats).
  size_t bytes() const { return bytes_; }
  const float* data() const { return data_.get(); }
  /// Index of the gemm_list.h kernel whose layout this is.
  int kernel() const { return kernel_; }
  bool empty() const { return !data_; }

 private:
  friend PackedGemmOperand gemm_operand_view(GemmSide, int64_t, int64_t, const float*, size_t,
                                             std::shared_ptr<const void>);
  GemmSide side_ = GemmSide::kA;
  int64_t rows_ = 0, cols_ = 0;
  size_t bytes_ = 0;
  int kernel_ = -1;
  std::shared_ptr<const float> data_;
};

/// Bytes the packed form of a logical `rows` x `cols` operand `side` takes in the active kernel's layout (a
/// multiple of 64, at least 64).
size_t gemm_packed_bytes(GemmSide side, int64_t rows, int64_t cols);

/// Packs the logical `rows` x `cols` matrix `m` as operand `side` in the active kernel's layout into `dst`
/// (gemm_packed_bytes(side, rows, cols) bytes, 64-byte aligned).
void pack_gemm_operand_into(GemmSide side, MatrixRef m, int64_t rows, int64_t cols, float* dst);

/// The operand whose packed bytes (`bytes` of them, as pack_gemm_operand_into wrote them at the active kernel)
/// are at `data`, kept alive by `owner`: no copy. Throws InvalidArgument when `bytes` is not what the sizes need.
PackedGemmOperand gemm_operand_view(GemmSide side, int64_t rows, int64_t cols, const float* data, size_t bytes,
                                    std::shared_ptr<const void> owner);

/// Packs the logical `rows` x `cols` matrix `m` to serve as operand `side` (A: M x K; B: K x N), in the panel
/// layout of the kernel active now (recorded in kernel()).
PackedGemmOperand pack_gemm_operand(GemmSide side, MatrixRef m, int64_t rows, int64_t cols);

/// What happens to alpha * A·B before it is stored, in this order: + bias, + beta * residual, activation.
struct GemmEpilogue {
  float alpha = 1.0f;
  enum class BiasAxis : uint8_t { kPerColumn, kPerRow };
  const float* bias = nullptr;  ///< bias[n] (kPerColumn: Gemm, MatMul + Add) or bias[m] (kPerRow: Conv's NCHW)
  BiasAxis bias_axis = BiasAxis::kPerColumn;
  const float* residual = nullptr;  ///< residual[m * ldr + n]; may be C itself (same ld)
  int64_t ldr = 0;
  float beta = 1.0f;
  ActivationParams activation;
};

/// A B operand produced on demand instead of read from memory (implicit GEMM: a convolution gathers its input
/// windows while B is packed and never materialises im2col). fill() writes the logical rows [k0, k0 + kc) by
/// columns [n0, n0 + nc) of B row-major into dst, whose leading dimension is ld. Called from several threads.
/// gemm_f32 asks for at most 256 columns by 64 rows at a time (ld = nc), into a per-thread staging buffer that it
/// packs from: only the current cache block of B ever exists, except on several threads where row ranges would
/// each fill the same blocks: then all of B is packed once for the call (while it takes at most 4 Mi floats).
struct GemmBSource {
  void (*fill)(const void* ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst, int64_t ld) = nullptr;
  const void* ctx = nullptr;
};

/// One GEMM, or `batch` of them at fixed strides (batched MatMul, per-group or per-image convolution).
struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  MatrixRef a;                                  ///< logical M x K (ignored when packed_a is set)
  const PackedGemmOperand* packed_a = nullptr;  ///< prepacked A, shared across the batch
  MatrixRef b;                                  ///< logical K x N (ignored when packed_b is set)
  const PackedGemmOperand* packed_b = nullptr;  ///< prepacked B, shared across the batch
  const GemmBSource* b_source = nullptr;        ///< B computed on demand (batch must be 1)
  float* c = nullptr;
  int64_t ldc = 0;
  GemmEpilogue epilogue;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0, stride_residual = 0;  ///< elements between batch entries
};

/// Computes args on `pool` (null: the calling thread). Packs unpacked operands into per-thread buffers that are
/// reused across calls (no heap allocation once warm); a row-major A is read in place (its rows copied a K block
/// at a time to rows further apart when they would crowd one L1 set: K = 1024), and so is a row-major B
/// when A comes in few row panels (prepacked or packed, within half of L2: a 1x1 convolution's input). K == 0
/// stores the epilogue of zero. Uses the kernel a packed operand was packed for (both packed: the same one, else an
/// InvalidArgument error), else the active tier's. The bits do not depend on the pool's thread count (each
/// element is summed by one thread in a fixed order; the activation sees the same row segments), given an
/// activation whose result for an element does not depend on its neighbours. Problems under ~3 MFLOP run on
/// the calling thread.
void gemm_f32(const GemmArgs& args, ThreadPool* pool);

/// Name of the micro-kernel gemm_f32 uses at the active tier ("gemm_f32_6x16_avx2"), for plan dumps.
const char* gemm_kernel_name();

}  // namespace kiln::kernels
