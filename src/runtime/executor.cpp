#include "runtime/executor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/checked.h"
#include "runtime/eval_node.h"
#include "runtime/memory_planner.h"
#include "runtime/test_fault.h"

namespace kiln::runtime {

Executor::Executor(const Plan& plan, RunControl& control, MemoryStats& stats, const Executor* parent)
    : plan_(plan),
      control_(control),
      stats_(stats),
      parent_(parent),
      owned_state_(plan.run_states().acquire(plan)),
      state_(owned_state_.get()) {}

Executor::Executor(const Plan& plan, RunControl& control, MemoryStats& stats, RunState& kept)
    : plan_(plan), control_(control), stats_(stats), parent_(nullptr), state_(&kept) {}

Executor::~Executor() {
  // A pooled state keeps nothing but its arena between runs (arena views are made once per state); a kept state
  // (a Binding's) keeps its slots, so its outputs are rewritten in place.
  if (owned_state_) {
    owned_state_->drop_outside_arena(plan_.arena_bytes());
    plan_.run_states().release(std::move(owned_state_));
    return;
  }
  std::fill(state_->values.begin(), state_->values.end(), nullptr);
}

void Executor::check_control() const {
  if (control_.cancel && control_.cancel->load(std::memory_order_relaxed))
    fail(ErrorCode::kCancelled, "the run was cancelled");
  if (control_.deadline && std::chrono::steady_clock::now() > *control_.deadline)
    fail(ErrorCode::kCancelled, "the run passed its deadline (timeout) and was stopped");
}

void Executor::count_macs(const Step& step, const ops::KernelContext& ctx) {
  const int64_t macs = step.schema->macs(ctx);
  const int64_t limit = control_.limits.max_run_macs;
  if (macs > limit - control_.macs)
    fail(ErrorCode::kLimitExceeded,
         "this node would do about {} multiply-adds, which takes the run past its limit of {} ({} done before it); "
         "raise SessionOptions::max_run_macs if the model is meant to do this much work",
         macs, limit, control_.macs);
  control_.macs += macs;
}

void Executor::check_allocation(int64_t bytes, const std::string& what) {
  if (bytes > control_.limits.max_tensor_bytes)
    fail(ErrorCode::kLimitExceeded, "{} would need {} bytes, over the limit of {} bytes for one tensor", what, bytes,
         control_.limits.max_tensor_bytes);
  if (static_cast<int64_t>(stats_.arena_bytes + stats_.dynamic_bytes) + bytes > control_.limits.max_run_bytes)
    fail(ErrorCode::kLimitExceeded, "{} ({} bytes) would take the run past its memory limit of {} bytes", what,
         bytes, control_.limits.max_run_bytes);
}

Tensor Executor::allocate(DType dtype, const std::vector<int64_t>& dims, const std::string& what) {
  int64_t bytes = checked_mul(checked_numel(dims, "tensor element count"),
                              static_cast<int64_t>(std::max<size_t>(dtype_size(dtype), 1)), "tensor byte size");
  check_allocation(bytes, fmt::format("{} ({} of {})", what, dims_str(dims), dtype_name(dtype)));
  return Tensor(dtype, dims);
}

void Executor::allocate_output(const Step& step, size_t o, DType dtype, const std::vector<int64_t>& dims,
                               Tensor& slot) {
  if (slot.defined() && slot.owns_memory() && slot.dtype() == dtype && slot.dims() == dims &&
      !in_arena(slot.raw_data()))
    return;
  // The description is formatted only here, not on the path above that a Binding's steady state takes.
  const ir::Graph& g = plan_.graph();
  const int v = plan_.graph().nodes[static_cast<size_t>(step.node)].outputs[o];
  slot = allocate(dtype, dims,
                  fmt::format("{}: output '{}'", g.nodes[static_cast<size_t>(step.node)].label(static_cast<size_t>(step.node)),
                              v >= 0 ? g.value(v).name : "(unused)"));
}

const Tensor* Executor::lookup(const std::string& name) const {
  for (const Executor* e = this; e; e = e->parent_) {
    int id = e->plan_.graph().find(name);
    if (id < 0) continue;
    if (const Tensor* c = e->plan_.constant(id)) return c;
    if (const Tensor* t = e->state_->values[static_cast<size_t>(id)]) return t;
  }
  return nullptr;
}

std::vector<Tensor> Executor::run(const std::unordered_map<int, Tensor>& feeds) {
  std::vector<Tensor> outputs(plan_.graph().outputs.size());
  run_into(feeds, outputs);
  return outputs;
}

void Executor::run_into(const std::unordered_map<int, Tensor>& feeds, std::span<Tensor> outputs) {
  RunState& st = *state_;
  for (const auto& [id, t] : feeds) st.values[static_cast<size_t>(id)] = &t;
  stats_.arena_bytes += plan_.arena_bytes();
  const auto& steps = plan_.steps();
  for (size_t s = 0; s < steps.size(); ++s) {
    check_control();
    if (!control_.on_step) {
      execute_step(steps[s], s);
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    execute_step(steps[s], s);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    int depth = 0;
    for (const Executor* e = parent_; e; e = e->parent_) ++depth;
    control_.on_step(plan_, steps[s], depth, ms);
  }
  stats_.arena_bytes -= plan_.arena_bytes();
  const ir::Graph& g = plan_.graph();
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const int id = g.outputs[i];
    if (const Tensor* c = plan_.constant(id)) {
      outputs[i] = c->clone();
      continue;
    }
    const Tensor* t = st.values[static_cast<size_t>(id)];
    if (!t || !t->defined()) fail(ErrorCode::kInternal, "graph output '{}' was not computed", g.value(id).name);
    // Outputs must not point into the arena or into caller memory (a fed value that is also an output).
    // (Assigned, not chosen by ?:, whose prvalue would copy the dims: a Binding's run allocates nothing.)
    if (t->owns_memory() && plan_.arena_offset(id) < 0 && !feeds.count(id)) outputs[i] = *t;
    else outputs[i] = t->clone();
  }
}

void Executor::allocate_dynamic_outputs(const Step& step, std::vector<Tensor>& outputs) {
  const ir::Graph& g = plan_.graph();
  const ir::Node& node = g.nodes[static_cast<size_t>(step.node)];
  const std::vector<const Tensor*>& inputs = state_->inputs[static_cast<size_t>(&step - plan_.steps().data())];
  std::vector<ops::ValueInfo> infos(node.outputs.size());
  std::vector<ops::ValueInfo> in_infos(inputs.size());
  std::vector<const ops::ValueInfo*> in_ptrs(inputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) continue;
    in_infos[i] = ops::ValueInfo::of(*inputs[i], true);
    in_ptrs[i] = &in_infos[i];
  }
  ops::InferContext ictx(node, static_cast<size_t>(step.node), step.opset, in_ptrs, infos);
  step.schema->infer(ictx);
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    const ops::ValueInfo& info = infos[o];
    outputs[o] = Tensor();
    if (info.is_container() || info.dtype == DType::kUndefined || !info.shape.is_concrete())
      continue;  // the kernel allocates (containers: the kernel builds them)
    const int v = node.outputs[o];
    outputs[o] = allocate(info.dtype, info.shape.values(),
                          fmt::format("{}: output '{}'", node.label(static_cast<size_t>(step.node)),
                                      v >= 0 ? g.value(v).name : "(unused)"));
  }
}

void Executor::execute_step(const Step& step, size_t index) {
  RunState& st = *state_;
  const ir::Graph& g = plan_.graph();
  const ir::Node& node = g.nodes[static_cast<size_t>(step.node)];
  std::vector<const Tensor*>& inputs = st.inputs[index];
  bool containers = false;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const int v = node.inputs[i];
    if (v < 0) continue;
    const Tensor* t = plan_.constant(v);
    if (!t) t = st.values[static_cast<size_t>(v)];
    if (!t && parent_) t = parent_->lookup(g.value(v).name);  // an outer-scope value
    if (!t)
      fail(ErrorCode::kInternal, "{}: input '{}' has no value", node.label(static_cast<size_t>(step.node)),
           g.value(v).name);
    inputs[i] = t;
    containers |= t->kind() != TensorKind::kTensor;
  }
  std::vector<Tensor>& outputs = st.outputs[index];
  try {
    if (containers) {
      // The plan refuses containers it knows of; a branch that returns one undeclared is caught here.
      std::vector<TensorKind> kinds(inputs.size(), TensorKind::kTensor);
      for (size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i]) kinds[i] = inputs[i]->kind();
      ops::check_container_inputs(ops::NodeContext(node, static_cast<size_t>(step.node), step.opset),
                                  *step.schema, kinds);
    }
    if (step.view_of_input) {
      // The planner kept input 0's memory alive for this view's readers; a slot still viewing the same
      // memory with the same dims is reused as is.
      const Tensor& in = *inputs[0];
      const std::vector<int64_t>& dims = step.output_dims[0];
      if (outputs[0].raw_data() != in.raw_data() || outputs[0].dims() != dims) outputs[0] = in.reshaped(dims);
    } else if (step.shapes_known) {
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        const int v = node.outputs[o];
        const ops::ValueInfo* info = v >= 0 ? &plan_.infos()[static_cast<size_t>(v)] : nullptr;
        if (!info || info->is_container() || info->dtype == DType::kUndefined) {
          outputs[o] = Tensor();
          continue;
        }
        const int64_t off = plan_.arena_offset(v);
        if (off >= 0) {
          // Made once per run state; remade only when a kernel replaced it (set_output) in an earlier run.
          void* at = static_cast<char*>(st.arena.get()) + off;
          if (outputs[o].raw_data() != at || outputs[o].dtype() != info->dtype)
            outputs[o] = Tensor::view(info->dtype, step.output_dims[o], at, st.arena);
        } else {
          allocate_output(step, o, info->dtype, step.output_dims[o], outputs[o]);
        }
      }
    } else {
      allocate_dynamic_outputs(step, outputs);
    }
    ops::KernelContext kctx(node, static_cast<size_t>(step.node), step.opset, inputs, outputs, this);
    kctx.set_threads(control_.threads);
    kctx.set_output_image_stride(step.output_image_stride);
    if (control_.limits.max_run_macs > 0 && step.schema->macs && !step.view_of_input) count_macs(step, kctx);
    if (step.view_of_input) {
      // no kernel: the output views the input
    } else if (step.concat_in_place) {
      copy_concat_stragglers(node, inputs, step.output_image_stride ? step.output_dims[0][0] : 1);
    } else if (step.prepared) {
      step.prepared->run(kctx);
    } else {
      step.schema->compute(kctx);
    }
    if (!test_fault_node().empty() && !step.view_of_input && node.name == test_fault_node() && !outputs.empty())
      inject_test_fault(outputs[0]);  // tests only (runtime/test_fault.h)
  } catch (const Error& e) {
    rethrow_with_node(e, node.label(static_cast<size_t>(step.node)));
  }
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    const int v = node.outputs[o];
    if (v < 0) continue;
    if (!outputs[o].defined())
      fail(ErrorCode::kInternal, "{}: the kernel did not produce output '{}'",
           node.label(static_cast<size_t>(step.node)), g.value(v).name);
    if ((plan_.arena_offset(v) < 0 || !step.shapes_known) && outputs[o].owns_memory())
      stats_.dynamic_bytes += outputs[o].nbytes();
    st.values[static_cast<size_t>(v)] = &outputs[o];
  }
  stats_.peak_dynamic_bytes = std::max(stats_.peak_dynamic_bytes, stats_.dynamic_bytes);
  for (int v : step.release) release(v);
}

void Executor::copy_concat_stragglers(const ir::Node& node, const std::vector<const Tensor*>& inputs,
                                      int64_t images) {
  char* arena = static_cast<char*>(state_->arena.get());
  // At batch > 1 (`images`) each image's slices lie an output image apart.
  int64_t out_image = 0;
  for (const Tensor* in : inputs) out_image += static_cast<int64_t>(in->nbytes()) / images;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    char* slice = arena + plan_.arena_offset(node.inputs[i]);
    if (inputs[i]->raw_data() == slice) continue;
    const int64_t in_image = static_cast<int64_t>(inputs[i]->nbytes()) / images;
    for (int64_t n = 0; n < images; ++n)
      std::memcpy(slice + n * out_image, static_cast<const char*>(inputs[i]->raw_data()) + n * in_image,
                  static_cast<size_t>(in_image));
  }
}

bool Executor::in_arena(const void* p) const { return state_->in_arena(p, plan_.arena_bytes()); }

void Executor::release(int v) {
  RunState& st = *state_;
  const Tensor* t = st.values[static_cast<size_t>(v)];
  if (!t) return;
  st.values[static_cast<size_t>(v)] = nullptr;
  Tensor* slot = st.slots[static_cast<size_t>(v)];
  if (in_arena(t->raw_data())) return;  // arena memory and views of it stay, made once per run state
  // Memory accounting counts every owned non-arena tensor once, when made; it ends at the last reader, also
  // for feeds (a Loop's carried value is made by one iteration's body and fed to the next).
  if (t->owns_memory()) stats_.dynamic_bytes -= std::min(stats_.dynamic_bytes, t->nbytes());
  if (slot == t) *slot = Tensor();  // feeds belong to the caller
}

std::vector<Tensor> Executor::run(const ir::Graph& graph, std::span<const Tensor> inputs) {
  check_control();
  if (++control_.subgraph_runs > control_.limits.max_subgraph_runs)
    fail(ErrorCode::kLimitExceeded,
         "subgraphs (Loop iterations, Scan steps, If branches) ran more than {} times in one run; a Loop whose trip "
         "count or condition never ends stops here. Raise SessionOptions::max_subgraph_runs if the model needs more",
         control_.limits.max_subgraph_runs);
  if (inputs.size() != graph.inputs.size())
    fail(ErrorCode::kInvalidModel, "subgraph '{}' declares {} inputs but is given {}", graph.name,
         graph.inputs.size(), inputs.size());
  std::unordered_map<int, ops::ValueInfo> fed;
  std::unordered_map<int, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    int id = graph.inputs[i];
    fed[id] = ops::ValueInfo::of(inputs[i], false);
    feeds[id] = inputs[i];
  }
  std::vector<std::string> outer;
  ir::collect_outer_names(graph, outer);
  for (const std::string& name : outer) {
    int id = graph.find(name);
    if (id < 0) continue;  // only read by deeper subgraphs: found through the executor chain
    const Tensor* t = lookup(name);
    if (!t) fail(ErrorCode::kInvalidModel, "subgraph '{}' reads '{}', which no enclosing scope defines", graph.name, name);
    fed[id] = ops::ValueInfo::of(*t, false);
    feeds[id] = *t;
  }
  std::shared_ptr<const Plan> plan = control_.plan_subgraph(graph, fed);
  Executor sub(*plan, control_, stats_, this);
  return sub.run(feeds);
}

}  // namespace kiln::runtime
