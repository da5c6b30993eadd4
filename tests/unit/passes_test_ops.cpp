// Test-only stand-ins for the ai.kiln fused ops, registered at test time only where the real op is missing
// (see passes_test_util.h). Each is the brief's contract written with the ONNX reference kernels:
//   FusedConv:  Y = act(Conv(X, W, B) + Z)
//   FusedMatMul: Y = act(alpha * MatMul(A, op(B)) + bias + Z)
//   ScaledDotProductAttention: Y = Softmax(Q K^T scale + mask) V
//   LayerNormalization: ONNX LayerNormalization-17;  Gelu: ONNX Gelu-20.

#include <cmath>
#include <cstring>
#include <mutex>

#include "kernels/activation.h"
#include "passes/rewrite_util.h"
#include "passes_test_util.h"
#include "runtime/eval_node.h"

namespace kiln::testing {
namespace {

using kernels::Activation;

Activation activation_kind(const std::string& s) {
  static const std::pair<const char*, Activation> kinds[] = {
      {"", Activation::kNone},          {"Relu", Activation::kRelu},           {"Clip", Activation::kClip},
      {"LeakyRelu", Activation::kLeakyRelu}, {"Sigmoid", Activation::kSigmoid}, {"Tanh", Activation::kTanh},
      {"HardSigmoid", Activation::kHardSigmoid}, {"HardSwish", Activation::kHardSwish}, {"Silu", Activation::kSilu},
      {"GeluErf", Activation::kGeluErf}, {"GeluTanh", Activation::kGeluTanh}};
  for (const auto& [name, kind] : kinds)
    if (s == name) return kind;
  throw Error(ErrorCode::kInvalidModel, "test FusedX: unknown activation '" + s + "'");
}

// A node of another op with the fused node's attributes minus the epilogue ones.
ir::Node inner_node(const ir::Node& fused, const std::string& op, std::vector<std::string> drop) {
  ir::Node n = fused;
  n.domain.clear();
  n.op_type = op;
  drop.insert(drop.end(), {"activation", "activation_params"});
  for (const std::string& a : drop) passes::remove_attr(n, a);
  return n;
}

void epilogue(const ops::KernelContext& ctx, Tensor& y, const Tensor* bias, const Tensor* z) {
  float* p = y.data<float>();
  const int64_t n = y.numel();
  if (bias) {
    const int64_t cols = bias->numel();
    for (int64_t i = 0; i < n; ++i) p[i] += bias->data<float>()[i % cols];
  }
  if (z) {
    if (z->dims() != y.dims()) ctx.bad_input("Z {} is not exactly Y's shape {}", dims_str(z->dims()), dims_str(y.dims()));
    for (int64_t i = 0; i < n; ++i) p[i] += z->data<float>()[i];
  }
  kernels::ActivationParams act;
  act.kind = activation_kind(ctx.attr_string("activation", ""));
  std::vector<float> params = ctx.attr_floats("activation_params", {});
  if (params.size() > 0) act.alpha = params[0];
  if (params.size() > 1) act.beta = params[1];
  kernels::apply_activation_f32_ref(act, p, p, n);
}

const Tensor* opt(const ops::KernelContext& ctx, size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; }

// Into the runtime's preallocated output when there is one.
void store(ops::KernelContext& ctx, size_t i, const Tensor& t) {
  if (!ctx.output_allocated(i)) return ctx.set_output(i, t);
  Tensor& out = ctx.output(i);
  if (out.dims() != t.dims() || out.dtype() != t.dtype())
    ctx.fail("computed {} but the plan allocated {}", dims_str(t.dims()), dims_str(out.dims()));
  std::memcpy(out.raw_data(), t.raw_data(), t.nbytes());
}

// ---- FusedConv ----
void infer_fused_conv(ops::InferContext& ctx) {
  ir::Node conv = inner_node(ctx.node(), "Conv", {});
  std::vector<const ops::ValueInfo*> in;
  for (size_t i = 0; i < std::min<size_t>(3, ctx.num_inputs()); ++i) in.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
  std::vector<ops::ValueInfo> out(1);
  ops::InferContext inner(conv, ctx.node_index(), 11, in, out);
  ops::find_op("", "Conv")->infer(inner);
  ctx.set_output(0, out[0].dtype, out[0].shape);
}
void compute_fused_conv(ops::KernelContext& ctx) {
  ir::Node conv = inner_node(ctx.node(), "Conv", {});
  conv.inputs.resize(std::min<size_t>(3, conv.inputs.size()));
  std::vector<const Tensor*> in;
  for (size_t i = 0; i < conv.inputs.size(); ++i) in.push_back(opt(ctx, i));
  Tensor y = runtime::evaluate_node(conv, ctx.node_index(), 11, in).at(0);
  epilogue(ctx, y, nullptr, opt(ctx, 3));
  store(ctx, 0, y);
}

// ---- FusedMatMul ----
ops::ValueInfo transposed(const ops::ValueInfo& b) {
  ops::ValueInfo t = b;
  t.value = nullptr;
  if (t.shape.rank_known && t.shape.rank() >= 2) std::swap(t.shape.dims[t.shape.rank() - 1], t.shape.dims[t.shape.rank() - 2]);
  return t;
}
void infer_fused_matmul(ops::InferContext& ctx) {
  ir::Node mm = inner_node(ctx.node(), "MatMul", {"transB", "alpha"});
  mm.inputs.resize(2);
  const ops::ValueInfo b = ctx.attr_int("transB", 0) ? transposed(ctx.input(1)) : ctx.input(1);
  std::vector<const ops::ValueInfo*> in = {&ctx.input(0), &b};
  std::vector<ops::ValueInfo> out(1);
  ops::InferContext inner(mm, ctx.node_index(), 13, in, out);
  ops::find_op("", "MatMul")->infer(inner);
  ctx.set_output(0, out[0].dtype, out[0].shape);
}
Tensor transpose_last(const Tensor& b, size_t index) {
  ir::Node t;
  t.op_type = "Transpose";
  t.inputs = {0};
  t.outputs = {1};
  std::vector<int64_t> perm;
  for (size_t i = 0; i < b.rank(); ++i) perm.push_back(static_cast<int64_t>(i));
  std::swap(perm[b.rank() - 1], perm[b.rank() - 2]);
  t.attributes = {passes::attr_ints("perm", perm)};
  const Tensor* in[] = {&b};
  return runtime::evaluate_node(t, index, 13, in).at(0);
}
void compute_fused_matmul(ops::KernelContext& ctx) {
  ir::Node mm = inner_node(ctx.node(), "MatMul", {"transB", "alpha"});
  mm.inputs.resize(2);
  Tensor b = ctx.attr_int("transB", 0) ? transpose_last(ctx.input(1), ctx.node_index()) : ctx.input(1);
  const Tensor* in[] = {&ctx.input(0), &b};
  Tensor y = runtime::evaluate_node(mm, ctx.node_index(), 13, in).at(0);
  const float alpha = ctx.attr_float("alpha", 1.0f);
  for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] *= alpha;
  epilogue(ctx, y, opt(ctx, 2), opt(ctx, 3));
  store(ctx, 0, y);
}

// ---- ScaledDotProductAttention ----
void infer_sdpa(ops::InferContext& ctx) {
  Shape s = ctx.input_shape(0);
  if (s.rank_known && ctx.input_shape(2).rank_known && s.rank() > 0) s.dims.back() = ctx.input_shape(2).dims.back();
  ctx.set_output(0, ctx.input_type(0), s);
}
Tensor eval(const std::string& op, int opset, std::vector<const Tensor*> in, std::vector<ir::Attribute> attrs, size_t index) {
  ir::Node n;
  n.op_type = op;
  n.attributes = std::move(attrs);
  for (size_t i = 0; i < in.size(); ++i) n.inputs.push_back(in[i] ? static_cast<int>(i) : -1);
  n.outputs = {static_cast<int>(in.size())};
  return runtime::evaluate_node(n, index, opset, in).at(0);
}
void compute_sdpa(ops::KernelContext& ctx) {
  const size_t at = ctx.node_index();
  Tensor kt = transpose_last(ctx.input(1), at);
  Tensor s = eval("MatMul", 13, {&ctx.input(0), &kt}, {}, at);
  const float scale = ctx.attr_float("scale", 1.0f);
  for (int64_t i = 0; i < s.numel(); ++i) s.data<float>()[i] *= scale;
  if (ctx.has_input(3)) s = eval("Add", 14, {&s, &ctx.input(3)}, {}, at);
  Tensor p = eval("Softmax", 13, {&s}, {passes::attr_int("axis", -1)}, at);
  store(ctx, 0, eval("MatMul", 13, {&p, &ctx.input(2)}, {}, at));
}

// ---- LayerNormalization, Gelu: the ONNX ops at the opsets that define them ----
template <int Opset>
void infer_as_onnx(ops::InferContext& ctx) {
  ir::Node n = ctx.node();
  n.domain.clear();
  std::vector<const ops::ValueInfo*> in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) in.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
  std::vector<ops::ValueInfo> out(ctx.num_outputs());
  ops::InferContext inner(n, ctx.node_index(), Opset, in, out);
  ops::find_op("", n.op_type)->infer(inner);
  for (size_t i = 0; i < out.size(); ++i) ctx.set_output(i, out[i].dtype, out[i].shape);
}
template <int Opset>
void compute_as_onnx(ops::KernelContext& ctx) {
  ir::Node n = ctx.node();
  n.domain.clear();
  std::vector<const Tensor*> in;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) in.push_back(opt(ctx, i));
  std::vector<Tensor> out = runtime::evaluate_node(n, ctx.node_index(), Opset, in);
  for (size_t i = 0; i < out.size(); ++i) store(ctx, i, out[i]);
}

}  // namespace

void ensure_kiln_test_ops() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto add = [](const char* name, ops::InferFn infer, ops::ComputeFn compute) {
      if (ops::find_op("ai.kiln", name)) return;
      static std::vector<std::unique_ptr<ops::OpRegistrar>> keep;
      keep.push_back(std::make_unique<ops::OpRegistrar>(ops::OpSchema{"ai.kiln", name, {1}, 0, infer, compute}));
    };
    add("FusedConv", infer_fused_conv, compute_fused_conv);
    add("FusedMatMul", infer_fused_matmul, compute_fused_matmul);
    add("ScaledDotProductAttention", infer_sdpa, compute_sdpa);
    add("LayerNormalization", infer_as_onnx<17>, compute_as_onnx<17>);
    add("Gelu", infer_as_onnx<20>, compute_as_onnx<20>);
  });
}

}  // namespace kiln::testing
