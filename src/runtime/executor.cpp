#include "runtime/executor.h"

#include <cstdlib>

#include "base/checked.h"
#include "runtime/eval_node.h"
#include "runtime/memory_planner.h"

namespace kiln::runtime {

Executor::Executor(const Plan& plan, RunControl& control, MemoryStats& stats, const Executor* parent)
    : plan_(plan), control_(control), stats_(stats), parent_(parent), values_(plan.graph().values.size()) {}

void Executor::check_control() const {
  if (control_.cancel && control_.cancel->load(std::memory_order_relaxed))
    fail(ErrorCode::kCancelled, "the run was cancelled");
  if (control_.deadline && std::chrono::steady_clock::now() > *control_.deadline)
    fail(ErrorCode::kCancelled, "the run passed its deadline (timeout) and was stopped");
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

const Tensor* Executor::lookup(const std::string& name) const {
  for (const Executor* e = this; e; e = e->parent_) {
    int id = e->plan_.graph().find(name);
    if (id < 0) continue;
    if (const Tensor* c = e->plan_.constant(id)) return c;
    const Tensor& t = e->values_[static_cast<size_t>(id)];
    if (t.defined()) return &t;
  }
  return nullptr;
}

std::vector<Tensor> Executor::run(const std::unordered_map<int, Tensor>& feeds) {
  for (const auto& [id, t] : feeds) values_[static_cast<size_t>(id)] = t;
  if (plan_.arena_bytes() > 0) {
    void* mem = std::aligned_alloc(kArenaAlignment, plan_.arena_bytes());
    if (!mem) fail(ErrorCode::kLimitExceeded, "out of memory allocating a {}-byte arena", plan_.arena_bytes());
    arena_ = std::shared_ptr<void>(mem, std::free);
  }
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
  std::vector<Tensor> outputs;
  outputs.reserve(g.outputs.size());
  for (int id : g.outputs) {
    if (const Tensor* c = plan_.constant(id)) {
      outputs.push_back(c->clone());
      continue;
    }
    Tensor& t = values_[static_cast<size_t>(id)];
    if (!t.defined())
      fail(ErrorCode::kInternal, "graph output '{}' was not computed", g.value(id).name);
    // Outputs must not point into the arena or into caller memory (a fed value that is also an output).
    outputs.push_back(t.owns_memory() && plan_.arena_offset(id) < 0 && !feeds.count(id) ? t : t.clone());
  }
  return outputs;
}

void Executor::execute_step(const Step& step, size_t index) {
  const ir::Graph& g = plan_.graph();
  const ir::Node& node = g.nodes[static_cast<size_t>(step.node)];
  const std::string label = node.label(static_cast<size_t>(step.node));
  std::vector<const Tensor*> inputs(node.inputs.size(), nullptr);
  std::vector<TensorKind> kinds(node.inputs.size(), TensorKind::kTensor);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    int v = node.inputs[i];
    if (v < 0) continue;
    const Tensor* t = plan_.constant(v);
    if (!t && values_[static_cast<size_t>(v)].defined()) t = &values_[static_cast<size_t>(v)];
    if (!t && parent_) t = parent_->lookup(g.value(v).name);  // an outer-scope value
    if (!t) fail(ErrorCode::kInternal, "{}: input '{}' has no value", label, g.value(v).name);
    inputs[i] = t;
    kinds[i] = t->kind();
  }
  std::vector<Tensor> outputs(node.outputs.size());
  try {
    // The plan refuses containers it knows of; a branch that returns one undeclared is caught here.
    ops::check_container_inputs(ops::NodeContext(node, static_cast<size_t>(step.node), step.opset), *step.schema,
                                kinds);
    std::vector<ops::ValueInfo> infos(node.outputs.size());
    if (step.shapes_known) {
      for (size_t o = 0; o < node.outputs.size(); ++o)
        if (node.outputs[o] >= 0) infos[o] = plan_.infos()[static_cast<size_t>(node.outputs[o])];
    } else {
      // Sizes depend on values only known now: infer again with every input's data in hand.
      std::vector<ops::ValueInfo> in_infos(inputs.size());
      std::vector<const ops::ValueInfo*> in_ptrs(inputs.size(), nullptr);
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i]) continue;
        in_infos[i] = ops::ValueInfo::of(*inputs[i], true);
        in_ptrs[i] = &in_infos[i];
      }
      ops::InferContext ictx(node, static_cast<size_t>(step.node), step.opset, in_ptrs, infos);
      step.schema->infer(ictx);
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const ops::ValueInfo& info = infos[o];
      if (info.is_container() || info.dtype == DType::kUndefined || !info.shape.is_concrete())
        continue;  // the kernel allocates (containers: the kernel builds them)
      int v = node.outputs[o];
      int64_t off = v >= 0 && step.shapes_known ? plan_.arena_offset(v) : -1;
      if (off >= 0) {
        outputs[o] = Tensor::view(info.dtype, info.shape.values(), static_cast<char*>(arena_.get()) + off, arena_);
      } else {
        outputs[o] = allocate(info.dtype, info.shape.values(),
                              fmt::format("{}: output '{}'", label, v >= 0 ? g.value(v).name : "(unused)"));
      }
    }
    ops::KernelContext kctx(node, static_cast<size_t>(step.node), step.opset, inputs, outputs, this);
    kctx.set_threads(control_.threads);
    if (step.prepared)
      step.prepared->run(kctx);
    else
      step.schema->compute(kctx);
  } catch (const Error& e) {
    rethrow_with_node(e, label);
  }
  for (size_t o = 0; o < node.outputs.size(); ++o) {
    int v = node.outputs[o];
    if (v < 0) continue;
    if (!outputs[o].defined())
      fail(ErrorCode::kInternal, "{}: the kernel did not produce output '{}'", label, g.value(v).name);
    if (plan_.arena_offset(v) < 0 || !step.shapes_known) stats_.dynamic_bytes += outputs[o].nbytes();
    values_[static_cast<size_t>(v)] = std::move(outputs[o]);
  }
  stats_.peak_dynamic_bytes = std::max(stats_.peak_dynamic_bytes, stats_.dynamic_bytes);
  for (int v : step.release) {
    Tensor& t = values_[static_cast<size_t>(v)];
    if (!t.defined()) continue;
    if (plan_.arena_offset(v) < 0 || !step.shapes_known) {
      if (t.owns_memory()) stats_.dynamic_bytes -= std::min(stats_.dynamic_bytes, t.nbytes());
    }
    t = Tensor();
  }
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
