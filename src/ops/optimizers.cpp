// The training optimizers of domain ai.onnx.preview.training (opset 1): Adagrad, Adam and Momentum.
//
// Each takes R (learning rate, scalar), T (update count, int64 scalar), then n tensors to optimize X_1..X_n,
// their gradients G_1..G_n, and one block of n tensors per state the optimizer keeps (Adagrad: H, the summed
// squared gradients; Momentum: V, the momentum; Adam: V then H). The outputs are the n updated X, then the n
// updated values of each state, block by block. Every formula is element-wise: an element of X_new depends only
// on the same element of X, G and the states, so each tensor is a flat loop.
//
// The ONNX reference computes the scalar coefficients (R / (1 + T * decay_factor), beta ** T, ...) in float64;
// kiln computes every element in double and rounds once when storing.

#include <cmath>
#include <string>
#include <vector>

#include "base/checked.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

constexpr const char* kTrainingDomain = "ai.onnx.preview.training";

/// How many per-tensor states an optimizer carries after X and G (H for Adagrad, V for Momentum, V and H for Adam).
size_t states_of(const std::string& op) { return op == "Adam" ? 2 : 1; }

/// The number n of tensors optimized, from the node's input and output counts; fails naming the expected layout.
size_t tensors_optimized(const NodeContext& ctx, size_t num_inputs, size_t num_outputs) {
  const std::string& op = ctx.node().op_type;
  const size_t states = states_of(op);
  const size_t per_tensor_in = 2 + states;  // X, G, states
  const char* layout = op == "Adam" ? "R, T, X_1..X_n, G_1..G_n, V_1..V_n, H_1..H_n"
                       : op == "Adagrad" ? "R, T, X_1..X_n, G_1..G_n, H_1..H_n"
                                         : "R, T, X_1..X_n, G_1..G_n, V_1..V_n";
  if (num_inputs < 2 + per_tensor_in || (num_inputs - 2) % per_tensor_in != 0)
    ctx.fail("{} takes {} (2 + {}n inputs for n optimized tensors), but the node has {} inputs", op, layout,
             per_tensor_in, num_inputs);
  const size_t n = (num_inputs - 2) / per_tensor_in;
  if (num_outputs != n * (1 + states))
    ctx.fail("{} inputs give {} optimized tensor(s), so the node must list {} outputs (each new X, then each new "
             "state), not {}", num_inputs, n, n * (1 + states), num_outputs);
  return n;
}

bool is_optimizer_float(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

/// True when two shapes are known to differ (a known dim against another known dim, or known ranks).
bool known_to_differ(const Shape& a, const Shape& b) {
  if (!a.rank_known || !b.rank_known) return false;
  if (a.rank() != b.rank()) return true;
  for (size_t i = 0; i < a.rank(); ++i)
    if (a.dims[i].is_known() && b.dims[i].is_known() && a.dims[i].value() != b.dims[i].value()) return true;
  return false;
}

void check_optimizer_attrs(const NodeContext& ctx) {
  if (ctx.node().op_type != "Momentum") return;
  for (const char* name : {"alpha", "beta", "norm_coefficient", "mode"})
    if (!ctx.has_attr(name)) ctx.fail("Momentum requires attribute '{}'", name);
  const std::string mode = ctx.attr_string("mode");
  if (mode != "standard" && mode != "nesterov")
    ctx.fail("Momentum's mode must be 'standard' or 'nesterov', got '{}'", mode);
}

void infer_optimizer(InferContext& ctx) {
  const size_t n = tensors_optimized(ctx, ctx.num_inputs(), ctx.num_outputs());
  check_optimizer_attrs(ctx);
  if (!is_optimizer_float(ctx.input_type(0)))
    ctx.fail("R (the learning rate) must be float or double, not {}", dtype_name(ctx.input_type(0)));
  if (ctx.input_type(1) != DType::kInt64)
    ctx.fail("T (the update count) must be int64, not {}", dtype_name(ctx.input_type(1)));
  const size_t blocks = 1 + states_of(ctx.node().op_type);  // G and each state, after the X block
  for (size_t j = 0; j < n; ++j) {
    const size_t x = 2 + j;
    const DType t = ctx.input_type(x);
    if (!is_optimizer_float(t)) ctx.fail("input {} (X_{}) must be float or double, not {}", x, j + 1, dtype_name(t));
    for (size_t b = 1; b <= blocks; ++b) {
      const size_t i = x + b * n;
      if (ctx.input_type(i) != t)
        ctx.fail("input {} must have X_{}'s type {}, not {}", i, j + 1, dtype_name(t), dtype_name(ctx.input_type(i)));
      if (known_to_differ(ctx.input_shape(i), ctx.input_shape(x)))
        ctx.unsupported("input {} has shape {} but X_{} has {}: kiln needs the gradient and states shaped like the "
                        "tensor they belong to", i, ctx.input_shape(i).str(), j + 1, ctx.input_shape(x).str());
    }
    for (size_t b = 0; b < blocks; ++b) ctx.set_output(j + b * n, t, ctx.input_shape(x));
  }
}

/// The optimizers' attributes, as the float32 values ONNX stores, widened to double.
struct Coefficients {
  double norm_coefficient = 0, norm_coefficient_post = 0, epsilon = 0, decay_factor = 0, alpha = 0, beta = 0;
  bool nesterov = false;
};

Coefficients read_coefficients(const NodeContext& ctx) {
  const std::string& op = ctx.node().op_type;
  Coefficients c;
  c.norm_coefficient = ctx.attr_float("norm_coefficient", 0.0f);
  if (op == "Adagrad") {
    c.decay_factor = ctx.attr_float("decay_factor", 0.0f);
    c.epsilon = ctx.attr_float("epsilon", 1e-6f);
  } else if (op == "Adam") {
    c.norm_coefficient_post = ctx.attr_float("norm_coefficient_post", 0.0f);
    c.epsilon = ctx.attr_float("epsilon", 1e-6f);
    c.alpha = ctx.attr_float("alpha", 0.9f);
    c.beta = ctx.attr_float("beta", 0.999f);
  } else {
    c.alpha = ctx.attr_float("alpha", 0.0f);
    c.beta = ctx.attr_float("beta", 0.0f);
    c.nesterov = ctx.attr_string("mode") == "nesterov";
  }
  return c;
}

/// Element-wise update of one optimized tensor. `state` holds 1 or 2 inputs, `new_state` the matching outputs.
template <typename T>
void update_one(const std::string& op, const Coefficients& c, double r, int64_t t, const Tensor& x, const Tensor& g,
                std::vector<const Tensor*> state, Tensor& x_new, std::vector<Tensor*> new_state) {
  const int64_t count = x.numel();
  const T* xs = x.data<T>();
  const T* gs = g.data<T>();
  T* xo = x_new.data<T>();
  if (op == "Adagrad") {
    const double rate = r / (1.0 + static_cast<double>(t) * c.decay_factor);
    const T* h = state[0]->data<T>();
    T* ho = new_state[0]->data<T>();
    for (int64_t i = 0; i < count; ++i) {
      const double gr = c.norm_coefficient * xs[i] + gs[i];  // gradient of the L2 term added
      const double h_new = h[i] + gr * gr;
      xo[i] = static_cast<T>(xs[i] - rate * gr / (std::sqrt(h_new) + c.epsilon));
      ho[i] = static_cast<T>(h_new);
    }
  } else if (op == "Adam") {
    // Bias correction of both averages, skipped at T = 0 where 1 - alpha**0 would divide by zero.
    const double td = static_cast<double>(t);
    const double rate = t > 0 ? r * std::sqrt(1.0 - std::pow(c.beta, td)) / (1.0 - std::pow(c.alpha, td)) : r;
    const T* v = state[0]->data<T>();
    const T* h = state[1]->data<T>();
    T* vo = new_state[0]->data<T>();
    T* ho = new_state[1]->data<T>();
    for (int64_t i = 0; i < count; ++i) {
      const double gr = c.norm_coefficient * xs[i] + gs[i];
      const double v_new = c.alpha * v[i] + (1.0 - c.alpha) * gr;
      const double h_new = c.beta * h[i] + (1.0 - c.beta) * (gr * gr);
      const double x_step = xs[i] - rate * (v_new / (std::sqrt(h_new) + c.epsilon));
      xo[i] = static_cast<T>((1.0 - c.norm_coefficient_post) * x_step);
      vo[i] = static_cast<T>(v_new);
      ho[i] = static_cast<T>(h_new);
    }
  } else {
    // The first update (T = 0) takes the whole gradient, later ones scale it by beta.
    const double beta = t > 0 ? c.beta : 1.0;
    const T* v = state[0]->data<T>();
    T* vo = new_state[0]->data<T>();
    for (int64_t i = 0; i < count; ++i) {
      const double gr = c.norm_coefficient * xs[i] + gs[i];
      const double v_new = c.alpha * v[i] + beta * gr;
      const double direction = c.nesterov ? gr + c.alpha * v_new : v_new;
      xo[i] = static_cast<T>(xs[i] - r * direction);
      vo[i] = static_cast<T>(v_new);
    }
  }
}

void compute_optimizer(KernelContext& ctx) {
  const std::string& op = ctx.node().op_type;
  const size_t n = tensors_optimized(ctx, ctx.num_inputs(), ctx.num_outputs());
  const size_t states = states_of(op);
  const Tensor& r = ctx.input(0);
  const Tensor& t = ctx.input(1);
  if (r.numel() != 1) ctx.bad_input("R (the learning rate) must be a scalar, got shape {}", dims_str(r.dims()));
  if (t.numel() != 1) ctx.bad_input("T (the update count) must be a scalar, got shape {}", dims_str(t.dims()));
  const Coefficients c = read_coefficients(ctx);
  const double rate = r.double_at(0);
  const int64_t step = t.data<int64_t>()[0];
  for (size_t j = 0; j < n; ++j) {
    const Tensor& x = ctx.input(2 + j);
    for (size_t b = 1; b <= 1 + states; ++b) {
      const Tensor& other = ctx.input(2 + j + b * n);
      if (other.dims() != x.dims())
        ctx.unsupported("input {} has shape {} but X_{} has {}: kiln needs the gradient and states shaped like the "
                        "tensor they belong to", 2 + j + b * n, dims_str(other.dims()), j + 1, dims_str(x.dims()));
    }
    std::vector<const Tensor*> state;
    std::vector<Tensor*> new_state;
    for (size_t s = 0; s < states; ++s) {
      state.push_back(&ctx.input(2 + j + (2 + s) * n));
      new_state.push_back(&ctx.output(j + (1 + s) * n));
    }
    const Tensor& g = ctx.input(2 + j + n);
    Tensor& x_new = ctx.output(j);
    if (x.dtype() == DType::kFloat64)
      update_one<double>(op, c, rate, step, x, g, state, x_new, new_state);
    else
      update_one<float>(op, c, rate, step, x, g, state, x_new, new_state);
  }
}

}  // namespace

KILN_REGISTER_OP(adagrad, {.domain = kTrainingDomain, .name = "Adagrad", .versions = {1}, .infer = infer_optimizer,
                           .compute = compute_optimizer});
KILN_REGISTER_OP(adam, {.domain = kTrainingDomain, .name = "Adam", .versions = {1}, .infer = infer_optimizer,
                        .compute = compute_optimizer});
KILN_REGISTER_OP(momentum, {.domain = kTrainingDomain, .name = "Momentum", .versions = {1}, .infer = infer_optimizer,
                            .compute = compute_optimizer});

}  // namespace kiln::ops
