// Control flow: If, Loop and Scan. Their bodies run through ctx.subgraphs() (the runtime's SubgraphRunner,
// which also resolves values the bodies read from enclosing scopes). Inference takes output types from the
// types the body graphs declare; where a body declares nothing, the output's shape stays unknown and the
// kernel sets the output from the body's results. How many iterations may run (a Loop without a trip count)
// is the runtime's concern: it checks its limits and cancellation at every body run.
//
// Every result a body returns is checked against the type that body declares, so a shape inference promised
// from those declarations always holds at run time.

#include "ops/control_flow_util.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

using control_flow::check_against_declared;
using control_flow::Declared;
using control_flow::declared_output;
using control_flow::merge_dtypes;
using control_flow::merge_shapes;

// A scan output of zero iterations: its element shape is what the body declares when every dim is a number;
// otherwise nothing says what it would have been, and the output is [0].
void empty_scan_output(KernelContext& ctx, size_t out_index, const ir::Graph& body, size_t body_out, int64_t axis) {
  if (!ctx.wants_output(out_index)) return;
  const Declared d = declared_output(body, body_out);
  if (d.dtype == DType::kUndefined)
    ctx.unsupported("scan output {} ran zero iterations and the body graph '{}' declares no type for it; declare "
                    "the body output's type", out_index, body.name);
  std::vector<int64_t> dims{0};
  if (d.shape.is_concrete()) {
    const std::vector<int64_t> elem = d.shape.values();
    dims = control_flow::insert_dim(elem, normalize_axis(ctx, axis, static_cast<int64_t>(elem.size()) + 1), 0);
  }
  ctx.allocate_output(out_index, d.dtype, dims);
}

// Stacks one scan output's per-iteration parts along `axis` into the node's output `out_index`.
void stacked_output(KernelContext& ctx, size_t out_index, const std::vector<Tensor>& parts, int64_t axis,
                    bool reverse) {
  if (!ctx.wants_output(out_index)) return;
  const std::vector<int64_t>& elem = parts.front().dims();
  const int64_t ax = normalize_axis(ctx, axis, static_cast<int64_t>(elem.size()) + 1);
  Tensor& out = ctx.allocate_output(out_index, parts.front().dtype(),
                                    control_flow::insert_dim(elem, ax, static_cast<int64_t>(parts.size())));
  control_flow::stack_into(parts, ax, reverse, out);
}

// Adds one iteration's scan-output element, which must match the first iteration's type and dims.
void collect_part(const NodeContext& ctx, std::vector<Tensor>& parts, Tensor t, size_t k) {
  if (!t.is_tensor())
    ctx.fail("scan output {} is a {}; scan outputs are stacked, so they must be tensors (carry a sequence as a "
             "loop-carried value instead)", k, tensor_kind_name(t.kind()));
  if (!parts.empty() && (parts.front().dtype() != t.dtype() || parts.front().dims() != t.dims()))
    ctx.bad_input("scan output {} is {} {} in one iteration and {} {} in another; it must keep its type and shape",
                  k, dtype_name(parts.front().dtype()), Shape::from(parts.front().dims()).str(), dtype_name(t.dtype()),
                  Shape::from(t.dims()).str());
  parts.push_back(std::move(t));
}

// ---- If ----

void check_if_branches(const NodeContext& ctx, const ir::Graph& then_g, const ir::Graph& else_g, size_t n_out) {
  if (then_g.outputs.size() != else_g.outputs.size())
    ctx.fail("then_branch has {} outputs but else_branch has {}: they must have the same number",
             then_g.outputs.size(), else_g.outputs.size());
  if (n_out != then_g.outputs.size())
    ctx.fail("lists {} outputs, but its branches have {}", n_out, then_g.outputs.size());
  if (!then_g.inputs.empty() || !else_g.inputs.empty()) ctx.fail("If branches take no inputs");
}

/// What branch `g` gives for each output: its declarations (kind, element type, shape), completed where a
/// declaration is missing or leaves the rank unknown by what the planner infers when it can, content included.
std::vector<ValueInfo> branch_outputs(InferContext& ctx, const ir::Graph& g) {
  std::vector<ValueInfo> out(g.outputs.size());
  std::vector<bool> declared(out.size());
  bool complete = true;
  for (size_t i = 0; i < out.size(); ++i) {
    const Declared d = declared_output(g, i);
    out[i] = d.info();
    declared[i] = d.declared;
    complete = complete && d.declared && (d.kind != TensorKind::kTensor || (d.dtype != DType::kUndefined && d.shape.rank_known));
  }
  if (complete || !ctx.subgraphs()) return out;
  std::vector<ValueInfo> inferred = ctx.subgraphs()->infer(g, {});
  if (inferred.size() != out.size()) return out;
  for (size_t i = 0; i < out.size(); ++i) {
    const ValueInfo& f = inferred[i];
    if (!declared[i]) {  // nothing declared: what the branch computes
      out[i] = f;
      continue;
    }
    if (out[i].is_container() || f.is_container()) continue;  // a declared container says all there is
    if (out[i].dtype != DType::kUndefined && f.dtype != DType::kUndefined && out[i].dtype != f.dtype)
      ctx.fail("output {} of branch '{}' is declared {} but computes {}", i, g.name, dtype_name(out[i].dtype),
               dtype_name(f.dtype));
    if (out[i].dtype == DType::kUndefined) out[i].dtype = f.dtype;
    if (!out[i].shape.rank_known) out[i].shape = f.shape;
    if (f.value && out[i].shape.rank_known && Shape::from(f.value->dims()) == out[i].shape) {
      out[i].value = f.value;
      out[i].computed = f.computed;
    }
  }
  return out;
}

void infer_if(InferContext& ctx) {
  const ir::Graph& then_g = ctx.attr_graph("then_branch");
  const ir::Graph& else_g = ctx.attr_graph("else_branch");
  check_if_branches(ctx, then_g, else_g, ctx.num_outputs());
  const DType ct = ctx.input_type(0);
  if (ct != DType::kUndefined && ct != DType::kBool) ctx.fail("cond must be bool, not {}", dtype_name(ct));
  const Tensor* cond = ctx.input_value(0);
  if (cond && cond->numel() == 1) {  // the branch is known: what it gives alone
    const std::vector<ValueInfo> b = branch_outputs(ctx, cond->int_at(0) != 0 ? then_g : else_g);
    for (size_t i = 0; i < ctx.num_outputs(); ++i) {
      if (b[i].value && !b[i].is_container()) ctx.set_output_value(i, *b[i].value);
      else ctx.set_output_info(i, b[i]);
    }
    return;
  }
  const std::vector<ValueInfo> t = branch_outputs(ctx, then_g), e = branch_outputs(ctx, else_g);
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    if (t[i].is_container() || e[i].is_container()) {
      // A container from either branch: both must say the same kind, or nothing is known before the run.
      ValueInfo v;
      if (t[i].kind == e[i].kind && t[i].holds == e[i].holds) {
        v.kind = t[i].kind;
        v.holds = t[i].holds;
        v.dtype = merge_dtypes(ctx, t[i].dtype, e[i].dtype, fmt::format("output {}", i));
        v.shape = merge_shapes(t[i].shape, e[i].shape);
      }
      ctx.set_output_info(i, v);
    } else {
      ctx.set_output(i, merge_dtypes(ctx, t[i].dtype, e[i].dtype, fmt::format("output {}", i)),
                     merge_shapes(t[i].shape, e[i].shape));
    }
  }
}

void compute_if(KernelContext& ctx) {
  const ir::Graph& then_g = ctx.attr_graph("then_branch");
  const ir::Graph& else_g = ctx.attr_graph("else_branch");
  check_if_branches(ctx, then_g, else_g, ctx.num_outputs());
  const Tensor& cond = ctx.input(0);
  if (!cond.is_tensor()) ctx.fail("cond must be a bool tensor, not a {}", tensor_kind_name(cond.kind()));
  if (cond.dtype() != DType::kBool) ctx.fail("cond must be bool, not {}", dtype_name(cond.dtype()));
  if (cond.numel() != 1)
    ctx.bad_input("cond must hold one element, but its shape is {}", Shape::from(cond.dims()).str());
  const ir::Graph& branch = cond.int_at(0) != 0 ? then_g : else_g;
  std::vector<Tensor> outs = ctx.subgraphs().run(branch, {});
  if (outs.size() != ctx.num_outputs())
    ctx.fail("branch '{}' returned {} values for {} outputs", branch.name, outs.size(), ctx.num_outputs());
  for (size_t i = 0; i < outs.size(); ++i) {
    check_against_declared(ctx, outs[i], branch, i, fmt::format("output {} of branch '{}'", i, branch.name));
    if (ctx.wants_output(i)) ctx.set_output(i, std::move(outs[i]));
  }
}

// ---- Loop ----

struct LoopShape {
  size_t n_carried, n_scan;
};

// Body: (iteration_num, cond, carried...) -> (cond, carried..., scan outputs...).
LoopShape loop_shape(const NodeContext& ctx, const ir::Graph& body, size_t n_in, size_t n_out) {
  if (n_in < 2) ctx.fail("Loop takes M and cond (either may be empty) before its loop-carried values");
  const size_t n = n_in - 2;
  if (body.inputs.size() != n + 2)
    ctx.fail("body '{}' takes {} inputs, but {} loop-carried values need {} (iteration_num, cond, values)", body.name,
             body.inputs.size(), n, n + 2);
  if (body.outputs.size() < n + 1)
    ctx.fail("body '{}' returns {} values, but needs cond and {} loop-carried values", body.name, body.outputs.size(), n);
  const size_t k = body.outputs.size() - 1 - n;
  if (n_out != n + k)
    ctx.fail("lists {} outputs, but the body returns {} loop-carried values and {} scan outputs", n_out, n, k);
  return {n, k};
}

void infer_loop(InferContext& ctx) {
  const ir::Graph& body = ctx.attr_graph("body");
  const LoopShape ls = loop_shape(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  if (ctx.has_input(0) && ctx.input_type(0) != DType::kUndefined && ctx.input_type(0) != DType::kInt64)
    ctx.fail("M must be int64, not {}", dtype_name(ctx.input_type(0)));
  if (ctx.has_input(1) && ctx.input_type(1) != DType::kUndefined && ctx.input_type(1) != DType::kBool)
    ctx.fail("cond must be bool, not {}", dtype_name(ctx.input_type(1)));
  // Without a cond input the body's cond is ignored, so a known M is the exact iteration count.
  Dim trips;
  const Tensor* m = ctx.input_value(0);
  if (m && m->numel() == 1 && !ctx.has_input(1)) trips = Dim(std::max<int64_t>(m->int_at(0), 0));
  for (size_t j = 0; j < ls.n_carried; ++j) {
    const ValueInfo& init = ctx.input(2 + j);
    const Declared d = declared_output(body, 1 + j);
    const DType t = merge_dtypes(ctx, init.dtype, d.dtype, fmt::format("loop-carried value {}", j));
    const bool none = trips.is_known() && trips.value() == 0;
    // A carried container may change kind (an optional sequence in, the sequence out): after one iteration it
    // is what the body declares, and when the body declares nothing, nothing is known before the run.
    ValueInfo out(t, none ? init.shape : merge_shapes(init.shape, d.shape));
    if (none) {
      out.kind = init.kind;
      out.holds = init.holds;
    } else if (d.declared) {
      out.kind = d.kind;
      out.holds = d.holds;
    } else if (init.is_container()) {
      out = ValueInfo();
    }
    ctx.set_output_info(j, out);
  }
  for (size_t k = 0; k < ls.n_scan; ++k) {
    const Declared d = declared_output(body, 1 + ls.n_carried + k);
    Shape s = Shape::unknown_rank();
    if (d.shape.rank_known) {
      s = d.shape;
      s.dims.insert(s.dims.begin(), trips);
    }
    ctx.set_output(ls.n_carried + k, d.dtype, s);
  }
}

void compute_loop(KernelContext& ctx) {
  const ir::Graph& body = ctx.attr_graph("body");
  const LoopShape ls = loop_shape(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  const bool has_m = ctx.has_input(0), has_cond = ctx.has_input(1);
  int64_t max_trips = 0;
  if (has_m) {
    const Tensor& m = ctx.input(0);
    if (!m.is_tensor()) ctx.fail("M must be an int64 tensor, not a {}", tensor_kind_name(m.kind()));
    if (m.dtype() != DType::kInt64) ctx.fail("M must be int64, not {}", dtype_name(m.dtype()));
    if (m.numel() != 1) ctx.bad_input("M must hold one element, but its shape is {}", Shape::from(m.dims()).str());
    max_trips = m.int_at(0);
  }
  bool cond = true;
  if (has_cond) {
    const Tensor& c = ctx.input(1);
    if (!c.is_tensor()) ctx.fail("cond must be a bool tensor, not a {}", tensor_kind_name(c.kind()));
    if (c.dtype() != DType::kBool) ctx.fail("cond must be bool, not {}", dtype_name(c.dtype()));
    if (c.numel() != 1) ctx.bad_input("cond must hold one element, but its shape is {}", Shape::from(c.dims()).str());
    cond = c.int_at(0) != 0;
  }
  std::vector<Tensor> carried;
  for (size_t j = 0; j < ls.n_carried; ++j) carried.push_back(ctx.input(2 + j));
  std::vector<std::vector<Tensor>> scans(ls.n_scan);

  int64_t i = 0;
  for (; (!has_m || i < max_trips) && (!has_cond || cond); ++i) {
    std::vector<Tensor> in;
    in.reserve(2 + ls.n_carried);
    in.push_back(Tensor::scalar<int64_t>(i));
    in.push_back(Tensor::scalar<bool>(cond));
    for (Tensor& t : carried) in.push_back(std::move(t));
    std::vector<Tensor> out = ctx.subgraphs().run(body, in);
    if (out.size() != 1 + ls.n_carried + ls.n_scan)
      ctx.fail("body '{}' returned {} values, expected {}", body.name, out.size(), 1 + ls.n_carried + ls.n_scan);
    for (size_t o = 0; o < out.size(); ++o)
      check_against_declared(ctx, out[o], body, o, fmt::format("body output {} (iteration {})", o, i));
    if (has_cond) {
      if (out[0].dtype() != DType::kBool || out[0].numel() != 1)
        ctx.bad_input("the body's cond output must be one bool, not {} {}", dtype_name(out[0].dtype()),
                      Shape::from(out[0].dims()).str());
      cond = out[0].int_at(0) != 0;
    }
    carried.clear();
    for (size_t j = 0; j < ls.n_carried; ++j) {
      const bool untyped_empty = ctx.input(2 + j).is_optional() && ctx.input(2 + j).dtype() == DType::kUndefined;
      if (!untyped_empty && out[1 + j].dtype() != ctx.input(2 + j).dtype())
        ctx.fail("loop-carried value {} enters as {} but the body returns {}", j, dtype_name(ctx.input(2 + j).dtype()),
                 dtype_name(out[1 + j].dtype()));
      carried.push_back(std::move(out[1 + j]));
    }
    for (size_t k = 0; k < ls.n_scan; ++k) collect_part(ctx, scans[k], std::move(out[1 + ls.n_carried + k]), k);
  }

  for (size_t j = 0; j < ls.n_carried; ++j)
    if (ctx.wants_output(j)) ctx.set_output(j, std::move(carried[j]));
  for (size_t k = 0; k < ls.n_scan; ++k) {
    if (i == 0) {
      empty_scan_output(ctx, ls.n_carried + k, body, 1 + ls.n_carried + k, 0);
    } else {
      stacked_output(ctx, ls.n_carried + k, scans[k], 0, false);
    }
  }
}

// ---- Scan (opset 9 and later; Scan-8 is in scan8.cpp) ----

struct ScanSetup {
  size_t n_state = 0, n_scan_in = 0, n_scan_out = 0;
  std::vector<int64_t> in_axes, in_dirs, out_axes, out_dirs;  // axes not yet normalised
};

// Body: (states..., scan input elements...) -> (states..., scan output elements...).
ScanSetup scan_setup(const NodeContext& ctx, const ir::Graph& body, size_t n_in, size_t n_out) {
  ScanSetup s;
  const int64_t m = ctx.attr_int("num_scan_inputs");
  if (m < 1 || static_cast<size_t>(m) > n_in)
    ctx.fail("num_scan_inputs is {}, but the node has {} inputs", m, n_in);
  s.n_scan_in = static_cast<size_t>(m);
  s.n_state = n_in - s.n_scan_in;
  if (body.inputs.size() != n_in)
    ctx.fail("body '{}' takes {} inputs, but the node passes {} states and {} scan elements", body.name,
             body.inputs.size(), s.n_state, s.n_scan_in);
  if (body.outputs.size() < s.n_state)
    ctx.fail("body '{}' returns {} values, fewer than the {} states", body.name, body.outputs.size(), s.n_state);
  s.n_scan_out = body.outputs.size() - s.n_state;
  if (n_out != s.n_state + s.n_scan_out)
    ctx.fail("lists {} outputs, but the body returns {} states and {} scan outputs", n_out, s.n_state, s.n_scan_out);
  auto list = [&](const char* name, size_t n, bool flags) {
    std::vector<int64_t> v = ctx.attr_ints(name, std::vector<int64_t>(n, 0));
    if (v.size() != n) ctx.fail("{} has {} entries, but there are {}", name, v.size(), n);
    for (int64_t x : v)
      if (flags && x != 0 && x != 1) ctx.fail("{} entries must be 0 or 1, not {}", name, x);
    return v;
  };
  s.in_axes = list("scan_input_axes", s.n_scan_in, false);
  s.in_dirs = list("scan_input_directions", s.n_scan_in, true);
  s.out_axes = list("scan_output_axes", s.n_scan_out, false);
  s.out_dirs = list("scan_output_directions", s.n_scan_out, true);
  return s;
}

void infer_scan(InferContext& ctx) {
  if (ctx.opset() < 9) return control_flow::infer_scan8(ctx);
  const ir::Graph& body = ctx.attr_graph("body");
  const ScanSetup s = scan_setup(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  Dim seq;
  bool seq_set = false;
  for (size_t j = 0; j < s.n_scan_in; ++j) {
    const Shape& in = ctx.input_shape(s.n_state + j);
    if (!in.rank_known) continue;
    const int64_t ax = normalize_axis(ctx, s.in_axes[j], static_cast<int64_t>(in.rank()));
    const Dim& d = in.dims[static_cast<size_t>(ax)];
    if (!seq_set) {
      seq = d;
      seq_set = true;
    } else if (seq.is_known() && d.is_known() && seq.value() != d.value()) {
      ctx.fail("scan inputs have sequence lengths {} and {}: they must be equal", seq.value(), d.value());
    } else if (!(seq == d)) {
      seq = seq.is_known() ? seq : d.is_known() ? d : Dim();
    }
  }
  for (size_t j = 0; j < s.n_state; ++j) {
    const ValueInfo& init = ctx.input(j);
    const Declared d = declared_output(body, j);
    ctx.set_output(j, merge_dtypes(ctx, init.dtype, d.dtype, fmt::format("state {}", j)),
                   merge_shapes(init.shape, d.shape));
  }
  for (size_t k = 0; k < s.n_scan_out; ++k) {
    const Declared d = declared_output(body, s.n_state + k);
    Shape out = Shape::unknown_rank();
    if (d.shape.rank_known) {
      out = d.shape;
      const int64_t ax = normalize_axis(ctx, s.out_axes[k], static_cast<int64_t>(d.shape.rank()) + 1);
      out.dims.insert(out.dims.begin() + ax, seq);
    }
    ctx.set_output(s.n_state + k, d.dtype, out);
  }
}

void compute_scan(KernelContext& ctx) {
  if (ctx.opset() < 9) return control_flow::compute_scan8(ctx);
  const ir::Graph& body = ctx.attr_graph("body");
  const ScanSetup s = scan_setup(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  std::vector<int64_t> axes(s.n_scan_in);
  int64_t len = -1;
  for (size_t j = 0; j < s.n_scan_in; ++j) {
    const Tensor& in = ctx.input(s.n_state + j);
    if (in.rank() == 0) ctx.bad_input("scan input {} is a scalar; it needs an axis to scan", j);
    axes[j] = normalize_axis(ctx, s.in_axes[j], static_cast<int64_t>(in.rank()));
    const int64_t l = in.dim(static_cast<size_t>(axes[j]));
    if (len >= 0 && l != len)
      ctx.bad_input("scan input {} has sequence length {}, but scan input 0 has {}: they must be equal", j, l, len);
    len = l;
  }
  std::vector<Tensor> states;
  for (size_t j = 0; j < s.n_state; ++j) states.push_back(ctx.input(j));
  std::vector<std::vector<Tensor>> scans(s.n_scan_out);
  for (int64_t t = 0; t < len; ++t) {
    std::vector<Tensor> in;
    in.reserve(s.n_state + s.n_scan_in);
    for (Tensor& st : states) in.push_back(std::move(st));
    for (size_t j = 0; j < s.n_scan_in; ++j)
      in.push_back(control_flow::slice_along(ctx.input(s.n_state + j), axes[j], s.in_dirs[j] ? len - 1 - t : t));
    std::vector<Tensor> out = ctx.subgraphs().run(body, in);
    if (out.size() != s.n_state + s.n_scan_out)
      ctx.fail("body '{}' returned {} values, expected {}", body.name, out.size(), s.n_state + s.n_scan_out);
    for (size_t o = 0; o < out.size(); ++o)
      check_against_declared(ctx, out[o], body, o, fmt::format("body output {} (iteration {})", o, t));
    states.clear();
    for (size_t j = 0; j < s.n_state; ++j) {
      const Tensor& init = ctx.input(j);
      if (out[j].dtype() != init.dtype() || out[j].dims() != init.dims())
        ctx.bad_input("state {} enters as {} {} but the body returns {} {}; states keep their type and shape", j,
                      dtype_name(init.dtype()), Shape::from(init.dims()).str(), dtype_name(out[j].dtype()),
                      Shape::from(out[j].dims()).str());
      states.push_back(std::move(out[j]));
    }
    for (size_t k = 0; k < s.n_scan_out; ++k) collect_part(ctx, scans[k], std::move(out[s.n_state + k]), k);
  }
  for (size_t j = 0; j < s.n_state; ++j)
    if (ctx.wants_output(j)) ctx.set_output(j, std::move(states[j]));
  for (size_t k = 0; k < s.n_scan_out; ++k) {
    if (len == 0) {
      empty_scan_output(ctx, s.n_state + k, body, s.n_state + k, s.out_axes[k]);
    } else {
      stacked_output(ctx, s.n_state + k, scans[k], s.out_axes[k], s.out_dirs[k] != 0);
    }
  }
}

}  // namespace
KILN_REGISTER_OP(if_op, {.domain = "", .name = "If", .versions = {1, 11, 13, 16, 19, 21, 23, 24, 25},
                         .infer = infer_if, .compute = compute_if, .accepts_containers = true});
KILN_REGISTER_OP(loop, {.domain = "", .name = "Loop", .versions = {1, 11, 13, 16, 19, 21, 23, 24, 25},
                        .infer = infer_loop, .compute = compute_loop, .accepts_containers = true});
KILN_REGISTER_OP(scan, {"", "Scan", {8, 9, 11, 16, 19, 21, 23, 24, 25}, 0, infer_scan, compute_scan});
}  // namespace kiln::ops
