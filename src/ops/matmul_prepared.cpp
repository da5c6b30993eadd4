#include "ops/matmul_prepared.h"

#include <algorithm>
#include <initializer_list>
#include <numeric>
#include <span>
#include <vector>

#include "kernels/gemm/gemm.h"
#include "ops/batch_layout.h"
#include "ops/fused_activation.h"
#include "ops/packed_weights.h"

namespace kiln::ops {
namespace {

using kernels::GemmArgs;
using kernels::GemmSide;
using kernels::MatrixRef;

enum class Kind { kMatMul, kGemm, kFusedMatMul };

// Operand slots of the BatchLayout a batched product uses.
constexpr int kOpA = 0, kOpB = 1, kOpC = 2;

// A constant operand packed once, with the dims it had: at run time the packed form is used only for a tensor
// of those dims (a constant cannot change, but a kernel still checks what it reads).
struct PackedConstant {
  kernels::PackedGemmOperand packed;
  std::vector<int64_t> dims;
  bool usable_for(const Tensor& t) const { return !packed.empty() && t.dims() == dims; }
};

bool all_float32(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t && t->dtype() != DType::kFloat32) return false;
  return true;
}

// True when every dim before the last two is 1: the tensor is one matrix however many dims it has.
bool single_matrix(const std::vector<int64_t>& dims) {
  for (size_t i = 0; i + 2 < dims.size(); ++i)
    if (dims[i] != 1) return false;
  return true;
}

// Runs g over the batch: one call when B is shared and A's batches follow each other (the batches fold into
// M: a linear layer over [batch, seq, hidden]), else one strided batched call per outer index of L (a single
// call whenever the batch dims merge into one, e.g. every attention head against its own K).
void run_batched(GemmArgs g, const BatchLayout& L, bool a_packed, bool b_packed, kernels::ThreadPool* pool) {
  if (L.rank == 0) {
    kernels::gemm_f32(g, pool);
    return;
  }
  bool b_shared = true;
  for (int d = 0; d < L.rank; ++d) b_shared = b_shared && L.strides[kOpB][d] == 0;
  if (b_shared && !a_packed && !g.a.trans && g.a.ld == g.K && L.contiguous(kOpA, g.M * g.K)) {
    g.M *= L.count;
    kernels::gemm_f32(g, pool);
    return;
  }
  const int inner = L.rank - 1;
  const int64_t n_inner = L.dims[inner];
  g.batch = n_inner;
  g.stride_a = L.strides[kOpA][inner];
  g.stride_b = L.strides[kOpB][inner];
  g.stride_c = g.stride_residual = L.strides[kOpC][inner];
  const float* a0 = g.a.data;
  const float* b0 = g.b.data;
  float* c0 = g.c;
  const float* r0 = g.epilogue.residual;
  for (int64_t first = 0; first < L.count; first += n_inner) {
    if (!a_packed) g.a.data = a0 + L.offset(kOpA, first);
    if (!b_packed) g.b.data = b0 + L.offset(kOpB, first);
    const int64_t c_off = L.offset(kOpC, first);
    g.c = c0 + c_off;
    if (r0) g.epilogue.residual = r0 + c_off;
    kernels::gemm_f32(g, pool);
  }
}

class PreparedMatMul final : public PreparedKernel {
 public:
  Kind kind = Kind::kMatMul;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
  kernels::ActivationParams act;
  PackedConstant a_const, b_const;
  // FusedMatMul's split: the output widths, and B's columns for each, packed apart (every part one GEMM).
  std::vector<int64_t> split;
  std::vector<PackedConstant> b_parts;
  // Gemm with a constant row or column C and beta != 1: beta * C, so the epilogue adds it as a plain bias.
  std::vector<float> c_scaled;
  std::vector<int64_t> c_dims;
  ComputeFn reference = nullptr;

  void run(KernelContext& ctx) const override {
    if (kind == Kind::kGemm) {
      run_gemm(ctx);
    } else if (!split.empty()) {
      run_split(ctx);
    } else {
      run_matmul(ctx);
    }
  }
  size_t packed_bytes() const override {
    size_t parts = 0;
    for (const PackedConstant& p : b_parts) parts += p.packed.bytes();
    return a_const.packed.bytes() + b_const.packed.bytes() + parts + c_scaled.size() * sizeof(float);
  }
  std::string describe() const override {
    std::string s = kind == Kind::kGemm ? "gemm" : kind == Kind::kMatMul ? "matmul" : "fused_matmul";
    if (!a_const.packed.empty())
      s += fmt::format(" packed-A {}x{}", a_const.packed.rows(), a_const.packed.cols());
    if (!b_const.packed.empty())
      s += fmt::format(" packed-B {}x{}", b_const.packed.rows(), b_const.packed.cols());
    s += std::string(" ") + kernels::gemm_kernel_name();
    if (act.kind != kernels::Activation::kNone) s += std::string(" +") + kernels::activation_name(act.kind);
    if (!split.empty()) s += fmt::format(" split {}", fmt::join(split, "/"));
    if (!split.empty() && b_parts.empty()) s += " (B not constant: reference)";
    return s;
  }

 private:
  void run_matmul(KernelContext& ctx) const;
  void run_gemm(KernelContext& ctx) const;
  void run_split(KernelContext& ctx) const;
};

void PreparedMatMul::run_matmul(KernelContext& ctx) const {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const bool fused = kind == Kind::kFusedMatMul;
  const Tensor* bias = fused && ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const Tensor* z = fused && ctx.has_input(3) ? &ctx.input(3) : nullptr;
  Tensor& y = ctx.output(0);
  if (!all_float32({&a, &b, bias, z, &y}) || a.rank() == 0 || b.rank() == 0) return reference(ctx);
  const std::vector<int64_t>& ad = a.dims();
  const std::vector<int64_t>& bd = b.dims();
  const size_t ar = ad.size(), br = bd.size();
  const bool tb = trans_b && br >= 2;
  const int64_t K = ad[ar - 1];
  const int64_t M = ar >= 2 ? ad[ar - 2] : 1;
  const int64_t kb = br == 1 ? bd[0] : bd[br - (tb ? 1 : 2)];
  const int64_t N = br == 1 ? 1 : bd[br - (tb ? 2 : 1)];
  if (kb != K) return reference(ctx);  // it reports the mismatch
  // Y is [broadcast batch..., M (when A is a matrix), N (when B is)]: check inference sized it so.
  const size_t a_nb = ar - std::min<size_t>(ar, 2), b_nb = br - std::min<size_t>(br, 2);
  const size_t y_nb = std::max(a_nb, b_nb);
  const size_t y_rank = y_nb + (ar >= 2 ? 1 : 0) + (br >= 2 ? 1 : 0);
  if (y.rank() != y_rank || (ar >= 2 && y.dim(y_nb) != M) || (br >= 2 && y.dims().back() != N))
    return reference(ctx);
  for (size_t d = 0; d < y_nb; ++d) {
    int64_t want = 1;
    if (d + a_nb >= y_nb && ad[d + a_nb - y_nb] != 1) want = ad[d + a_nb - y_nb];
    if (d + b_nb >= y_nb && bd[d + b_nb - y_nb] != 1) want = bd[d + b_nb - y_nb];
    if (y.dim(d) != want) return reference(ctx);
  }
  if ((z && z->dims() != y.dims()) || (bias && (bias->rank() != 1 || bias->dim(0) != N))) return reference(ctx);
  if (y.numel() == 0) return;

  const BatchOperand operands[] = {
      {{ad.data(), a_nb}, M * K}, {{bd.data(), b_nb}, K * N}, {{y.dims().data(), y_nb}, M * N}};
  BatchLayout L;
  if (!broadcast_batch(operands, L)) return reference(ctx);
  GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  const bool a_packed = a_const.usable_for(a), b_packed = b_const.usable_for(b);
  if (a_packed) g.packed_a = &a_const.packed;
  else g.a = MatrixRef{a.data<float>(), K, false};
  if (b_packed) g.packed_b = &b_const.packed;
  else g.b = MatrixRef{b.data<float>(), tb ? K : N, tb};
  g.c = y.data<float>();
  g.ldc = N;
  g.epilogue.alpha = alpha;
  if (bias) g.epilogue.bias = bias->data<float>();
  if (z) {
    g.epilogue.residual = z->data<float>();
    g.epilogue.ldr = N;
  }
  g.epilogue.activation = act;
  run_batched(g, L, a_packed, b_packed, ctx.threads());
}

void PreparedMatMul::run_gemm(KernelContext& ctx) const {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Tensor& y = ctx.output(0);
  if (!all_float32({&a, &b, c, &y}) || a.rank() != 2 || b.rank() != 2 || (c && c->rank() > 2)) return reference(ctx);
  const int64_t M = a.dim(trans_a ? 1 : 0), K = a.dim(trans_a ? 0 : 1), N = b.dim(trans_b ? 0 : 1);
  if (b.dim(trans_b ? 1 : 0) != K || y.dims() != std::vector<int64_t>{M, N}) return reference(ctx);
  // C broadcast to M x N: rows (cm) and columns (cn), each 1 or the full size.
  const bool use_c = c && beta != 0.0f;
  const int64_t cm = use_c && c->rank() == 2 ? c->dim(0) : 1;
  const int64_t cn = use_c && c->rank() >= 1 ? c->dim(c->rank() - 1) : 1;
  if ((cm != 1 && cm != M) || (cn != 1 && cn != N)) return reference(ctx);
  if (y.numel() == 0) return;

  GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  if (a_const.usable_for(a)) g.packed_a = &a_const.packed;
  else g.a = MatrixRef{a.data<float>(), a.dim(1), trans_a};
  if (b_const.usable_for(b)) g.packed_b = &b_const.packed;
  else g.b = MatrixRef{b.data<float>(), b.dim(1), trans_b};
  g.c = y.data<float>();
  g.ldc = N;
  g.epilogue.alpha = alpha;
  if (use_c) {
    const bool rows = cm != 1, cols = cn != 1;
    const float* scaled = !c_scaled.empty() && c->dims() == c_dims ? c_scaled.data() : nullptr;
    if (rows && cols) {
      g.epilogue.residual = c->data<float>();
      g.epilogue.ldr = N;
      g.epilogue.beta = beta;
    } else if ((rows || cols) && (beta == 1.0f || scaled)) {
      g.epilogue.bias = scaled ? scaled : c->data<float>();
      g.epilogue.bias_axis =
          rows ? kernels::GemmEpilogue::BiasAxis::kPerRow : kernels::GemmEpilogue::BiasAxis::kPerColumn;
    } else {
      // A scalar C, or a vector fed at run time with beta != 1: broadcast into Y, which the epilogue then reads
      // back as its residual (gemm.h allows the residual to be C itself).
      const float* cv = c->data<float>();
      float* yv = y.data<float>();
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) yv[m * N + n] = cv[(rows ? m : 0) + (cols ? n : 0)];
      g.epilogue.residual = yv;
      g.epilogue.ldr = N;
      g.epilogue.beta = beta;
    }
  }
  kernels::gemm_f32(g, ctx.threads());
}

// FusedMatMul with split outputs: B is one constant matrix packed per part, so each part is one GEMM over all of
// A's rows (A's batches folded into M: B is shared) that writes its own output with its share of the bias. The
// parts cost one more read of A each (an activation of the in-projection, in cache), where one GEMM of all N
// followed by Slices copies the whole result once more.
void PreparedMatMul::run_split(KernelContext& ctx) const {
  const Tensor& a = ctx.input(0);
  const Tensor* bias = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const bool shapes_ok = !b_parts.empty() && b_parts[0].usable_for(ctx.input(1)) && !ctx.has_input(3) &&
                         all_float32({&a, bias}) && a.rank() >= 2 && ctx.num_outputs() == split.size();
  if (!shapes_ok) return reference(ctx);
  const int64_t K = a.dims().back();
  const int64_t N = std::accumulate(split.begin(), split.end(), int64_t{0});
  if (K != b_parts[0].packed.rows() || (bias && (bias->rank() != 1 || bias->dim(0) != N))) return reference(ctx);
  // Output i must be A's dims with the last one split[i] (inference sized it so).
  for (size_t i = 0; i < split.size(); ++i) {
    const Tensor& y = ctx.output(i);
    if (y.dtype() != DType::kFloat32 || y.rank() != a.rank() || y.dims().back() != split[i]) return reference(ctx);
    for (size_t d = 0; d + 1 < a.rank(); ++d)
      if (y.dim(d) != a.dim(d)) return reference(ctx);
  }
  if (a.numel() == 0) return;
  int64_t first = 0;
  for (size_t i = 0; i < split.size(); ++i) {
    GemmArgs g;
    g.M = a.numel() / K;
    g.N = split[i];
    g.K = K;
    g.a = MatrixRef{a.data<float>(), K, false};
    g.packed_b = &b_parts[i].packed;
    g.c = ctx.output(i).data<float>();
    g.ldc = split[i];
    g.epilogue.alpha = alpha;
    if (bias) g.epilogue.bias = bias->data<float>() + first;
    g.epilogue.activation = act;
    kernels::gemm_f32(g, ctx.threads());
    first += split[i];
  }
}

// ---- prepare ----

bool inputs_float32(const PrepareContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype != DType::kFloat32) return false;
  return true;
}

// The constant of input i when it is a float32 tensor with at least one element, else nullptr.
const Tensor* constant_f32(const PrepareContext& ctx, size_t i) {
  const Tensor* t = ctx.input_value(i);
  return t && t->is_tensor() && t->dtype() == DType::kFloat32 && t->numel() > 0 ? t : nullptr;
}

PackedConstant pack_constant(PrepareContext& ctx, const Tensor& t, GemmSide side, MatrixRef m, int64_t rows,
                             int64_t cols) {
  PackedConstant p;
  p.packed = pack_gemm_weights(ctx, side == GemmSide::kA ? "matmul A" : "matmul B", side, rows, cols, [&] { return m; });
  p.dims = t.dims();
  return p;
}

std::unique_ptr<PreparedMatMul> make_kernel(const PrepareContext& ctx, Kind kind) {
  const OpSchema* schema = find_op(ctx.node().domain, ctx.node().op_type);
  if (!schema || !schema->compute || !inputs_float32(ctx)) return nullptr;
  auto k = std::make_unique<PreparedMatMul>();
  k->kind = kind;
  k->reference = schema->compute;
  return k;
}

// FusedMatMul's split: B's columns of each part packed apart, when B is one constant matrix whose N the widths
// add up to (else no part is packed and the kernel runs the reference).
void prepare_split(PrepareContext& ctx, PreparedMatMul& k) {
  const Tensor* b = constant_f32(ctx, 1);
  if (!b || b->rank() < 2 || !single_matrix(b->dims())) return;
  const std::vector<int64_t>& d = b->dims();
  const int64_t K = d[d.size() - (k.trans_b ? 1 : 2)];
  const int64_t N = d[d.size() - (k.trans_b ? 2 : 1)];
  if (std::accumulate(k.split.begin(), k.split.end(), int64_t{0}) != N) return;
  int64_t first = 0;
  for (int64_t w : k.split) {
    // Stored K x N: the part's columns start `first` in; stored N x K (transB): its rows do.
    const MatrixRef part = k.trans_b ? MatrixRef{b->data<float>() + first * K, K, true}
                                     : MatrixRef{b->data<float>() + first, N, false};
    k.b_parts.push_back(pack_constant(ctx, *b, GemmSide::kB, part, K, w));
    first += w;
  }
}

// MatMul and FusedMatMul: pack B when it is one constant matrix; else A, when that is.
std::unique_ptr<PreparedKernel> prepare_batched(PrepareContext& ctx, Kind kind) {
  auto k = make_kernel(ctx, kind);
  if (!k) return nullptr;
  if (kind == Kind::kFusedMatMul) {
    k->trans_b = ctx.attr_int("transB", 0) != 0;
    k->alpha = ctx.attr_float("alpha", 1.0f);
    k->act = read_fused_activation(ctx);
    k->split = ctx.attr_ints("split");
  }
  if (!k->split.empty()) {
    prepare_split(ctx, *k);
    return k;
  }
  if (const Tensor* b = constant_f32(ctx, 1); b && single_matrix(b->dims())) {
    const std::vector<int64_t>& d = b->dims();
    const bool tb = k->trans_b && d.size() >= 2;
    const int64_t K = d.size() == 1 ? d[0] : d[d.size() - (tb ? 1 : 2)];
    const int64_t N = d.size() == 1 ? 1 : d[d.size() - (tb ? 2 : 1)];
    k->b_const = pack_constant(ctx, *b, GemmSide::kB, MatrixRef{b->data<float>(), tb ? K : N, tb}, K, N);
  } else if (const Tensor* a = constant_f32(ctx, 0); a && single_matrix(a->dims())) {
    const std::vector<int64_t>& d = a->dims();
    const int64_t M = d.size() >= 2 ? d[d.size() - 2] : 1, K = d.back();
    k->a_const = pack_constant(ctx, *a, GemmSide::kA, MatrixRef{a->data<float>(), K, false}, M, K);
  }
  return k;
}

}  // namespace

std::unique_ptr<PreparedKernel> prepare_matmul(PrepareContext& ctx) { return prepare_batched(ctx, Kind::kMatMul); }

std::unique_ptr<PreparedKernel> prepare_fused_matmul(PrepareContext& ctx) {
  return prepare_batched(ctx, Kind::kFusedMatMul);
}

std::unique_ptr<PreparedKernel> prepare_gemm(PrepareContext& ctx) {
  auto k = make_kernel(ctx, Kind::kGemm);
  if (!k) return nullptr;
  k->trans_a = ctx.attr_int("transA", 0) != 0;
  k->trans_b = ctx.attr_int("transB", 0) != 0;
  k->alpha = ctx.attr_float("alpha", 1.0f);
  k->beta = ctx.attr_float("beta", 1.0f);
  const Tensor* b = constant_f32(ctx, 1);
  const Tensor* a = constant_f32(ctx, 0);
  if (b && b->rank() == 2) {
    const int64_t K = b->dim(k->trans_b ? 1 : 0), N = b->dim(k->trans_b ? 0 : 1);
    k->b_const = pack_constant(ctx, *b, GemmSide::kB, MatrixRef{b->data<float>(), b->dim(1), k->trans_b}, K, N);
  } else if (a && a->rank() == 2) {
    const int64_t M = a->dim(k->trans_a ? 1 : 0), K = a->dim(k->trans_a ? 0 : 1);
    k->a_const = pack_constant(ctx, *a, GemmSide::kA, MatrixRef{a->data<float>(), a->dim(1), k->trans_a}, M, K);
  }
  // A constant vector C with beta != 1 becomes a bias once, scaled here.
  if (const Tensor* c = constant_f32(ctx, 2); c && c->rank() <= 2 && k->beta != 1.0f && k->beta != 0.0f) {
    int64_t not_one = 0;
    for (int64_t d : c->dims()) not_one += d != 1 ? 1 : 0;
    if (not_one == 1) {
      k->c_dims = c->dims();
      k->c_scaled.resize(static_cast<size_t>(c->numel()));
      for (size_t i = 0; i < k->c_scaled.size(); ++i) k->c_scaled[i] = k->beta * c->data<float>()[i];
    }
  }
  return k;
}

}  // namespace kiln::ops
