#include "runtime/plan.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "base/checked.h"
#include "runtime/concat_in_place.h"
#include "runtime/eval_node.h"
#include "runtime/memory_planner.h"
#include "runtime/prepared_graph.h"

namespace kiln::runtime {

namespace {

// Plan-time folding evaluates nodes whose inputs are all known when the result is small: this resolves the
// Shape -> Gather -> Concat -> Reshape chains of PyTorch exports. Large constant subgraphs are the optimizer's job.
constexpr int64_t kFoldElementLimit = 1 << 16;

// Containers are never "concrete": their tensors are sized by their kernels, and they never live in the arena.
bool all_concrete(const std::vector<ops::ValueInfo>& infos) {
  for (const auto& i : infos)
    if (i.is_container() || i.dtype == DType::kUndefined || !i.shape.is_concrete()) return false;
  return true;
}

int64_t total_elements(const std::vector<ops::ValueInfo>& infos) {
  int64_t n = 0;
  for (const auto& i : infos) n = checked_add(n, checked_numel(i.shape.values()));
  return n;
}

// A Transpose that, at these input dims, moves only dims of size 1 (perm [1, 0, 2] of a [1, S, E] batch of one:
// torch MultiheadAttention's sequence-first layout around every attention block) keeps its elements in order:
// the planner makes its output a view, as for the re-dimming ops (OpSchema::output_views_input), since its size-1
// dims depend on the run's shapes and no schema flag can say so. Measured (Zen 4, batch 1, 2 threads): the two
// per layer of BERT-mini and ViT-tiny each copied 128-200 KiB, 3-6 us on 1 thread, 10-15 us on 2 (lines the
// other core wrote).
bool transpose_keeps_order(const ir::Node& node, const std::vector<int64_t>& dims) {
  std::vector<int64_t> perm;
  if (const ir::Attribute* a = node.attr("perm")) perm = a->ints;
  else
    for (size_t k = dims.size(); k-- > 0;) perm.push_back(static_cast<int64_t>(k));
  if (perm.size() != dims.size()) return false;
  int64_t last = -1;  // the input position of the previous dim of size > 1 in the output
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(dims.size())) return false;
    if (dims[static_cast<size_t>(p)] == 1) continue;
    if (p < last) return false;
    last = p;
  }
  return true;
}

}  // namespace

int OpsetTable::version(std::string_view domain) const {
  if (domain == "ai.onnx") domain = "";
  for (const auto& o : imports) {
    std::string_view d = o.domain == "ai.onnx" ? std::string_view() : std::string_view(o.domain);
    if (d == domain) return static_cast<int>(o.version);
  }
  return 0;
}

void rethrow_with_node(const Error& e, const std::string& label) {
  std::string msg = e.what();
  if (msg.rfind(label, 0) == 0) throw e;
  throw Error(e.code(), label + ": " + msg);
}

const Tensor* Plan::constant(int value) const {
  const Tensor& t = constants_[static_cast<size_t>(value)];
  return t.defined() ? &t : nullptr;
}

// Plan-time inference of a subgraph (an If branch whose outputs declare no type): a throwaway plan of the
// subgraph, fed with the given inputs and the infos the enclosing scopes have for the values it reads.
class PlanSubgraphInferrer : public ops::SubgraphInferrer {
 public:
  PlanSubgraphInferrer(const Plan& plan, const OpsetTable& opsets, const Limits& limits,
                       const Plan::OuterLookup* outer)
      : plan_(plan), opsets_(opsets), limits_(limits), outer_(outer) {}

  std::vector<ops::ValueInfo> infer(const ir::Graph& g, std::span<const ops::ValueInfo> inputs) override {
    if (inputs.size() != g.inputs.size()) return {};
    std::unordered_map<int, ops::ValueInfo> fed;
    for (size_t i = 0; i < inputs.size(); ++i) fed[g.inputs[i]] = inputs[i];
    const Plan::OuterLookup lookup = [this](const std::string& name) { return plan_.find_in_scope(name, outer_); };
    std::vector<std::string> outer_names;
    ir::collect_outer_names(g, outer_names);
    for (const std::string& name : outer_names) {
      const int id = g.find(name);
      if (id < 0) continue;  // read only by deeper subgraphs: they look it up themselves
      const ops::ValueInfo* info = lookup(name);
      if (!info || info->dtype == DType::kUndefined) return {};
      fed[id] = *info;
    }
    std::shared_ptr<Plan> sub;
    try {
      sub = Plan::build_in_scope(g, opsets_, fed, limits_, &lookup);
    } catch (const Error&) {
      return {};  // the body's errors surface when it runs
    }
    std::vector<ops::ValueInfo> out;
    for (int id : g.outputs) {
      ops::ValueInfo info = sub->infos()[static_cast<size_t>(id)];
      if (info.value) {  // a constant of the throwaway plan: keep a copy alive with the info
        info.computed = std::make_shared<const Tensor>(info.value->clone());
        info.value = info.computed.get();
      } else {
        info.computed.reset();
      }
      out.push_back(std::move(info));
    }
    return out;
  }

 private:
  const Plan& plan_;
  const OpsetTable& opsets_;
  const Limits& limits_;
  const Plan::OuterLookup* outer_;
};

const ops::ValueInfo* Plan::find_in_scope(const std::string& name, const OuterLookup* outer) const {
  const int id = graph_->find(name);
  if (id >= 0 && infos_[static_cast<size_t>(id)].dtype != DType::kUndefined) return &infos_[static_cast<size_t>(id)];
  return outer ? (*outer)(name) : nullptr;
}

std::shared_ptr<const Plan> Plan::build(const ir::Graph& graph, const OpsetTable& opsets,
                                        const std::unordered_map<int, ops::ValueInfo>& fed, const Limits& limits,
                                        const PreparedGraph* prepared) {
  return build_in_scope(graph, opsets, fed, limits, nullptr, prepared);
}

std::shared_ptr<Plan> Plan::build_in_scope(const ir::Graph& graph, const OpsetTable& opsets,
                                           const std::unordered_map<int, ops::ValueInfo>& fed, const Limits& limits,
                                           const OuterLookup* outer, const PreparedGraph* prepared) {
  auto plan = std::make_shared<Plan>();
  plan->graph_ = &graph;
  plan->opsets_ = &opsets;
  const size_t nv = graph.values.size();
  plan->infos_.assign(nv, {});
  plan->constants_.assign(nv, {});
  for (const auto& [id, t] : graph.initializers) {
    if (fed.count(id)) continue;  // a fed graph input overrides its initializer
    plan->constants_[static_cast<size_t>(id)] = t;
  }
  for (const auto& [id, info] : fed) {
    plan->infos_[static_cast<size_t>(id)] = info;
    plan->infos_[static_cast<size_t>(id)].value = nullptr;
    plan->fed_.push_back(id);
  }
  std::sort(plan->fed_.begin(), plan->fed_.end());
  for (size_t v = 0; v < nv; ++v) {
    const Tensor& c = plan->constants_[v];
    if (c.defined()) plan->infos_[v] = {c.dtype(), Shape::from(c.dims()), &c};
  }
  for (int n : ir::topological_order(graph)) {
    const ir::Node& node = graph.nodes[static_cast<size_t>(n)];
    Step step;
    step.node = n;
    step.schema = ops::find_op(node.domain, node.op_type);
    step.opset = opsets.version(node.domain);
    step.outputs = node.outputs;
    if (prepared) step.prepared = prepared->kernel(&node);
    if (!step.schema)
      fail(ErrorCode::kUnsupported, "{}: kiln has no implementation of operator '{}'{}",
           node.label(static_cast<size_t>(n)), node.op_type,
           node.domain.empty() ? "" : " (domain '" + node.domain + "')");
    plan->steps_.push_back(std::move(step));
  }
  plan->infer_and_fold(limits, outer);
  plan->plan_lifetimes_and_memory(limits);
  return plan;
}

void Plan::infer_and_fold(const Limits& limits, const OuterLookup* outer) {
  const ir::Graph& g = *graph_;
  PlanSubgraphInferrer subgraphs(*this, *opsets_, limits, outer);
  std::vector<Step> kept;
  for (Step& step : steps_) {
    const ir::Node& node = g.nodes[static_cast<size_t>(step.node)];
    const std::string label = node.label(static_cast<size_t>(step.node));
    std::vector<const ops::ValueInfo*> in(node.inputs.size(), nullptr);
    std::vector<TensorKind> kinds(node.inputs.size(), TensorKind::kTensor);
    bool inputs_known = true, shapes_concrete = true;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      int v = node.inputs[i];
      if (v < 0) continue;
      const ops::ValueInfo& info = infos_[static_cast<size_t>(v)];
      in[i] = &info;
      kinds[i] = info.kind;
      if (!info.value) inputs_known = false;
      if (!info.shape.is_concrete() || info.is_container()) shapes_concrete = false;
    }
    std::vector<ops::ValueInfo> out(node.outputs.size());
    try {
      ops::InferContext ctx(node, static_cast<size_t>(step.node), step.opset, in, out);
      ops::check_container_inputs(ctx, *step.schema, kinds);
      ctx.set_subgraphs(&subgraphs);
      step.schema->infer(ctx);
    } catch (const Error& e) {
      rethrow_with_node(e, label);
    }
    // Inference computed every output's content itself (Shape of a concrete shape, Concat of known pieces):
    // those are constants now, and the node needs no step.
    bool all_computed = !node.outputs.empty();
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (node.outputs[o] >= 0 && !out[o].value) all_computed = false;
    if (all_computed && !step.schema->nondeterministic) {
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        int v = node.outputs[o];
        if (v < 0) continue;
        constants_[static_cast<size_t>(v)] = *out[o].value;
        const Tensor& c = constants_[static_cast<size_t>(v)];
        infos_[static_cast<size_t>(v)] = {c.dtype(), Shape::from(c.dims()), &c};
      }
      continue;
    }
    bool has_subgraph = false;
    for (const auto& a : node.attributes) has_subgraph |= a.g != nullptr || !a.graphs.empty();
    bool foldable = !step.schema->nondeterministic && !has_subgraph && all_concrete(out) &&
                    (inputs_known || (step.schema->reads_only_input_shapes && shapes_concrete)) &&
                    total_elements(out) <= kFoldElementLimit;
    if (foldable) {
      // Shape-only ops get placeholder views: they read dims, never elements.
      std::vector<Tensor> placeholders(node.inputs.size());
      std::vector<const Tensor*> args(node.inputs.size(), nullptr);
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        if (!in[i]) continue;
        if (in[i]->value) {
          args[i] = in[i]->value;
        } else {
          placeholders[i] = Tensor::view(in[i]->dtype, in[i]->shape.values(), nullptr, nullptr);
          args[i] = &placeholders[i];
        }
      }
      std::vector<Tensor> results;
      try {
        results = evaluate_node(node, static_cast<size_t>(step.node), step.opset, args);
      } catch (const Error& e) {
        rethrow_with_node(e, label);
      }
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        int v = node.outputs[o];
        if (v < 0) continue;
        constants_[static_cast<size_t>(v)] = std::move(results[o]);
        const Tensor& c = constants_[static_cast<size_t>(v)];
        infos_[static_cast<size_t>(v)] = {c.dtype(), Shape::from(c.dims()), &c};
      }
      continue;  // folded: no step at run time
    }
    step.shapes_known = all_concrete(out);
    if (step.shapes_known) step.output_dims.resize(node.outputs.size());
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      int v = node.outputs[o];
      if (v < 0) continue;
      if (step.shapes_known && !out[o].is_container() && out[o].dtype != DType::kUndefined)
        step.output_dims[o] = out[o].shape.values();
      out[o].value = nullptr;
      out[o].computed.reset();
      if (step.shapes_known) {
        int64_t bytes = checked_mul(checked_numel(out[o].shape.values()),
                                    static_cast<int64_t>(std::max<size_t>(dtype_size(out[o].dtype), 1)));
        if (bytes > limits.max_tensor_bytes)
          fail(ErrorCode::kLimitExceeded,
               "{}: output '{}' would need {} bytes ({} of {}), over the limit of {} bytes for one tensor",
               label, g.value(v).name, bytes, out[o].shape.str(), dtype_name(out[o].dtype), limits.max_tensor_bytes);
      }
      infos_[static_cast<size_t>(v)] = std::move(out[o]);
    }
    kept.push_back(std::move(step));
  }
  steps_ = std::move(kept);
}

void Plan::plan_lifetimes_and_memory(const Limits& limits) {
  const ir::Graph& g = *graph_;
  const size_t nv = g.values.size();
  const int never = -1;
  std::vector<int> last_use(nv, never), first_def(nv, never);
  std::vector<char> is_output(nv, 0);
  for (int o : g.outputs) is_output[static_cast<size_t>(o)] = 1;
  std::vector<char> is_input(nv, 0);
  for (int i : g.inputs) is_input[static_cast<size_t>(i)] = 1;
  implicit_inputs_.assign(steps_.size(), {});
  // Views: each value's memory root (itself, or the value a chain of re-dimming steps views).
  std::vector<int> root(nv);
  for (size_t v = 0; v < nv; ++v) root[v] = static_cast<int>(v);
  for (Step& step : steps_) {
    const ir::Node& node = g.nodes[static_cast<size_t>(step.node)];
    const bool transpose = node.op_type == "Transpose" && node.domain.empty();
    if (!(step.schema->output_views_input || transpose) || !step.shapes_known || node.inputs.empty() ||
        node.outputs.empty())
      continue;
    const int in = node.inputs[0], out = node.outputs[0];
    if (in < 0 || out < 0 || is_output[static_cast<size_t>(out)]) continue;  // outputs get memory of their own
    const ops::ValueInfo& a = infos_[static_cast<size_t>(in)];
    const ops::ValueInfo& b = infos_[static_cast<size_t>(out)];
    if (a.is_container() || a.dtype != b.dtype || a.dtype == DType::kString || !a.shape.is_concrete() ||
        checked_numel(a.shape.values()) != checked_numel(b.shape.values()))
      continue;
    // Not of a graph input: a view of the caller's tensor, whose memory differs from run to run, would be made
    // again in every run (a heap allocation in the steady state), where the copy goes to the arena.
    if (transpose && (is_input[static_cast<size_t>(in)] || !transpose_keeps_order(node, a.shape.values()))) continue;
    step.view_of_input = true;
    root[static_cast<size_t>(out)] = root[static_cast<size_t>(in)];
  }
  for (size_t s = 0; s < steps_.size(); ++s) {
    const ir::Node& node = g.nodes[static_cast<size_t>(steps_[s].node)];
    for (int v : node.inputs)
      if (v >= 0) last_use[static_cast<size_t>(v)] = static_cast<int>(s);
    // Values a subgraph reads from this scope must live until the node that runs the subgraph.
    for (const std::string& name : ir::node_outer_names(node)) {
      int v = g.find(name);
      if (v < 0) continue;  // from a scope further out
      last_use[static_cast<size_t>(v)] = static_cast<int>(s);
      implicit_inputs_[s].push_back(v);
    }
    for (int v : steps_[s].outputs)
      if (v >= 0) first_def[static_cast<size_t>(v)] = static_cast<int>(s);
  }
  // A view's readers keep its root's memory alive (steps are in order, so roots are final by now).
  for (size_t v = 0; v < nv; ++v)
    if (root[v] != static_cast<int>(v) && last_use[v] != never)
      last_use[static_cast<size_t>(root[v])] = std::max(last_use[static_cast<size_t>(root[v])], last_use[v]);
  // Concats that take their inputs in place: the inputs get no buffer of their own, and the output's lives from
  // its first input's producer on.
  const std::vector<InPlaceConcat> concats =
      find_in_place_concats(g, steps_, infos_, constants_, root, is_output, implicit_inputs_);
  std::vector<char> in_concat(nv, 0);
  std::vector<int> first_write(nv, never);
  for (const InPlaceConcat& c : concats) {
    steps_[static_cast<size_t>(c.step)].concat_in_place = true;
    // At batch > 1 the producers write their images an output image apart (the Concat's step records it too).
    const int64_t image_stride =
        c.image_bytes / static_cast<int64_t>(dtype_size(infos_[static_cast<size_t>(c.output)].dtype));
    steps_[static_cast<size_t>(c.step)].output_image_stride = image_stride;
    int first = c.step;
    for (int v : c.inputs) {
      in_concat[static_cast<size_t>(v)] = 1;
      first = std::min(first, first_def[static_cast<size_t>(v)]);
      steps_[static_cast<size_t>(first_def[static_cast<size_t>(v)])].output_image_stride = image_stride;
    }
    first_write[static_cast<size_t>(c.output)] = first;
  }
  std::vector<BufferRequest> requests;
  std::vector<int> request_value;
  for (size_t s = 0; s < steps_.size(); ++s) {
    Step& step = steps_[s];
    if (!step.shapes_known) continue;
    for (int v : step.outputs) {
      if (v < 0 || is_output[static_cast<size_t>(v)] || root[static_cast<size_t>(v)] != v) continue;
      if (in_concat[static_cast<size_t>(v)]) continue;
      const ops::ValueInfo& info = infos_[static_cast<size_t>(v)];
      if (info.dtype == DType::kString) continue;  // strings need constructed objects: heap-allocated
      if (info.is_container()) continue;           // containers own their tensors: never in the arena
      int64_t bytes = checked_mul(checked_numel(info.shape.values()), static_cast<int64_t>(dtype_size(info.dtype)));
      int last = std::max(last_use[static_cast<size_t>(v)], static_cast<int>(s));
      const int first = first_write[static_cast<size_t>(v)] != never ? first_write[static_cast<size_t>(v)]
                                                                     : static_cast<int>(s);
      requests.push_back({static_cast<size_t>(bytes), first, last});
      request_value.push_back(v);
    }
  }
  MemoryPlan mem = plan_memory(requests);
  arena_offsets_.assign(nv, -1);
  for (size_t r = 0; r < requests.size(); ++r)
    arena_offsets_[static_cast<size_t>(request_value[r])] = static_cast<int64_t>(mem.offsets[r]);
  for (const InPlaceConcat& c : concats)
    for (size_t i = 0; i < c.inputs.size(); ++i)
      arena_offsets_[static_cast<size_t>(c.inputs[i])] = arena_offsets_[static_cast<size_t>(c.output)] + c.byte_offsets[i];
  arena_bytes_ = mem.arena_bytes;
  if (static_cast<int64_t>(arena_bytes_) > limits.max_run_bytes)
    fail(ErrorCode::kLimitExceeded, "a run at these input shapes needs {} bytes of intermediate memory, over the "
         "limit of {} bytes", arena_bytes_, limits.max_run_bytes);
  // Release lists: a value dies after its last reader; values never read die right after they are written.
  for (size_t v = 0; v < nv; ++v) {
    if (is_output[v] || constants_[v].defined()) continue;
    int at = last_use[v] != never ? last_use[v] : first_def[v];
    if (at == never) continue;
    steps_[static_cast<size_t>(at)].release.push_back(static_cast<int>(v));
  }
}

}  // namespace kiln::runtime
