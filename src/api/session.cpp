#include "api/session_impl.h"

#include <chrono>

#include "api/fixed_input_shapes.h"
#include "api/model_check.h"
#include "api/node_validation.h"
#include "ops/onnx_schema_table.h"
#include "passes/pipeline.h"
#include "runtime/input_check.h"

namespace kiln {

namespace {

std::string signature(const ir::Graph* graph, const std::unordered_map<int, ops::ValueInfo>& fed) {
  std::vector<int> ids;
  for (const auto& [id, info] : fed) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  std::string key = fmt::format("{}:", static_cast<const void*>(graph));
  for (int id : ids) {
    const ops::ValueInfo& info = fed.at(id);
    if (info.is_container())  // a container's tensors may differ in shape: the key holds what they share
      key += fmt::format("{}/{}{}/{}/{};", id, static_cast<int>(info.kind), static_cast<int>(info.holds),
                         static_cast<int>(info.dtype), info.shape.str());
    else
      key += fmt::format("{}/{}/{};", id, static_cast<int>(info.dtype), dims_str(info.shape.values()));
  }
  return key;
}

IoInfo io_info(const ir::Value& v, const char* role) {
  const ir::FlatType t = ir::flatten_type(v.type);
  if (!t.runnable)
    fail(ErrorCode::kUnsupported, "graph {} '{}' is a {}; kiln runs tensors, sequences of tensors and optionals",
         role, v.name, t.what);
  return {v.name, t.dtype, t.shape, t.kind, t.holds};
}

// A node whose input count or attributes do not exist at the declared opset (what an exporter with no mapping
// at that opset leaves behind) would be run with the wrong meaning: refuse it as `check` reports it.
void refuse_forms_the_opset_lacks(const ir::Model& model) {
  // An opset newer than the standard kiln was built with: its operators' meaning is not known (ONNX Runtime
  // refuses it too, as Fail: kUnsupported here).
  if (model.opset("") > ops::newest_standard_opset()) {
    const Finding f = unreleased_opset_finding(model.opset(""));
    fail(ErrorCode::kUnsupported, "{} (fix: {})", f.message, f.fix);
  }
  std::vector<Finding> findings;
  check_opsets(model, findings);
  std::string msg;
  size_t errors = 0;
  for (const Finding& f : findings) {
    if (f.severity != Severity::kError) continue;
    ++errors;
    msg += fmt::format("\n  {}: {} (fix: {})", f.where, f.message, f.fix);
  }
  if (errors)
    fail(ErrorCode::kInvalidModel, "{} node form{} not exist at the model's opset {}:{}", errors,
         errors == 1 ? " does" : "s do", model.opset(""), msg);
}

}  // namespace

Session::Impl::Impl(ir::Model m, const SessionOptions& options, ops::PackedWeightSource* packed,
                    const std::function<void(std::string_view)>& on_pass)
    : model(std::move(m)) {
  opsets.imports = model.opsets;
  limits.max_tensor_bytes = options.max_tensor_bytes;
  limits.max_run_bytes = options.max_run_bytes;
  limits.max_nesting = options.max_nesting;
  limits.max_subgraph_runs = options.max_subgraph_runs;
  limits.max_run_macs = options.max_run_macs;
  strict_symbols = options.strict_symbols;
  warn = options.warn;
  max_plans_ = static_cast<size_t>(std::max(1, options.max_cached_plans));
  if (options.intra_op_threads < 0)
    fail(ErrorCode::kInvalidArgument, "intra_op_threads is {}; use 0 (every CPU this process may use) or a count",
         options.intra_op_threads);
  if (!model.graph) fail(ErrorCode::kInvalidModel, "the model has no graph");
  ir::validate(*model.graph, limits.max_nesting);
  check_ops_supported(model);
  refuse_forms_the_opset_lacks(model);
  refuse_invalid_nodes(model);
  fix_input_shapes(*model.graph, options.fixed_input_shapes);
  const ir::Graph& g = *model.graph;
  for (int id : g.required_inputs()) inputs.push_back(io_info(g.value(id), "input"));
  for (int id : g.inputs)
    if (g.is_initializer(id)) overridable_inputs.push_back(io_info(g.value(id), "input"));
  for (int id : g.outputs) outputs.push_back(io_info(g.value(id), "output"));
  info.ir_version = model.ir_version;
  info.producer_name = model.producer_name;
  info.producer_version = model.producer_version;
  info.graph_name = g.name;
  info.domain = model.domain;
  info.doc_string = model.doc_string;
  info.graph_doc_string = g.doc_string;
  info.model_version = model.model_version;
  info.has_model_version = model.has_model_version;
  for (const auto& o : model.opsets) info.opsets.emplace_back(o.domain, o.version);
  info.metadata = model.metadata;
  threads = std::make_unique<kernels::ThreadPool>(static_cast<size_t>(options.intra_op_threads));
  // Passes rewrite the checked model (refusals above name the user's nodes, as loaded); inputs, outputs and
  // model facts above were read before, and no pass renames them. The opset table then gains ai.kiln when a
  // fusion introduced kiln's own ops.
  optimize_graph(options, on_pass);
  prepared = runtime::PreparedGraph::build(*model.graph, opsets, limits, packed);
}

void Session::Impl::optimize_graph(const SessionOptions& options,
                                   const std::function<void(std::string_view)>& on_pass) {
  if (options.graph_optimization_level < 0 || options.graph_optimization_level > 2)
    fail(ErrorCode::kInvalidArgument, "graph_optimization_level is {}; use 0 (none), 1 (basic) or 2 (all)",
         options.graph_optimization_level);
  passes::PipelineOptions pipeline;
  pipeline.level = static_cast<passes::Level>(options.graph_optimization_level);
  pipeline.disabled = options.disabled_passes;
  if (on_pass) pipeline.after_each = [&](const passes::Pass& pass, const ir::Model&) { on_pass(pass.name()); };
  pass_runs = passes::optimize(model, pipeline);
  opsets.imports = model.opsets;
}

void Session::Impl::warn_once(const std::string& key, const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (!warned_.insert(key).second) return;
  }
  if (warn) warn(message);
  else fmt::print(stderr, "kiln: warning: {}\n", message);
}

std::shared_ptr<const runtime::Plan> Session::Impl::plan_for(const ir::Graph& graph,
                                                             const std::unordered_map<int, ops::ValueInfo>& fed,
                                                             bool* reused) {
  std::string key = signature(&graph, fed);
  {
    std::lock_guard lock(mutex_);
    auto it = plan_index_.find(key);
    if (it != plan_index_.end()) {
      plans_.splice(plans_.begin(), plans_, it->second);  // most recently used first
      if (reused) *reused = true;
      return it->second->second;
    }
  }
  // Built outside the lock: plans for other shapes may be built or run meanwhile.
  auto plan = runtime::Plan::build(graph, opsets, fed, limits, prepared.get());
  std::lock_guard lock(mutex_);
  if (reused) *reused = false;
  if (auto it = plan_index_.find(key); it != plan_index_.end()) return it->second->second;  // built twice at once
  plans_.emplace_front(key, plan);
  plan_index_[key] = plans_.begin();
  while (plans_.size() > max_plans_) {
    plan_index_.erase(plans_.back().first);
    plans_.pop_back();
  }
  return plan;
}

Session::Session(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

const std::vector<IoInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<IoInfo>& Session::overridable_inputs() const { return impl_->overridable_inputs; }
const std::vector<IoInfo>& Session::outputs() const { return impl_->outputs; }
const ModelInfo& Session::model_info() const { return impl_->info; }
size_t Session::threads() const { return impl_->threads->threads(); }

Session::Impl::CheckedFeeds Session::Impl::check_feeds(const NamedTensors& feeds) {
  const ir::Graph& g = *model.graph;
  CheckedFeeds checked;
  runtime::SymbolBindings symbols;
  symbols.strict = strict_symbols;
  if (engine) {  // before the model's own dim checks: for an engine, the fix is a rebuild, not a re-export
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
    for (const auto& [name, tensor] : feeds)
      if (tensor.defined()) shapes.emplace_back(name, tensor.dims());
    engine::check_feeds_in_profiles(engine->profiles, shapes, engine->build.source_model);
  }
  for (const auto& [name, tensor] : feeds) {
    int id = g.find(name);
    bool is_input = id >= 0 && std::find(g.inputs.begin(), g.inputs.end(), id) != g.inputs.end();
    if (!is_input) {
      std::string names;
      for (const IoInfo& in : inputs) names += (names.empty() ? "'" : ", '") + in.name + "'";
      fail(ErrorCode::kInvalidArgument, "'{}' is not an input of the model; its inputs are {}", name, names);
    }
    if (checked.by_id.count(id)) fail(ErrorCode::kInvalidArgument, "input '{}' is fed twice", name);
    if (!tensor.defined()) fail(ErrorCode::kInvalidArgument, "input '{}' is fed an empty (undefined) tensor", name);
    runtime::check_input_value(g.value(id), tensor, symbols);
    checked.by_id[id] = tensor;
    checked.fed[id] = ops::ValueInfo::of(tensor, false);
  }
  for (const auto& [symbol, message] : symbols.conflicts) warn_once("symbol:" + symbol, message);
  std::vector<int> missing;
  for (int id : g.required_inputs())
    if (!checked.by_id.count(id)) missing.push_back(id);
  if (!missing.empty()) runtime::report_missing_inputs(g, missing);
  return checked;
}

std::vector<size_t> Session::Impl::output_positions(const std::vector<std::string>& names) const {
  const ir::Graph& g = *model.graph;
  std::vector<size_t> positions;
  if (names.empty()) {
    for (size_t i = 0; i < g.outputs.size(); ++i) positions.push_back(i);
    return positions;
  }
  for (const std::string& name : names) {
    int id = g.find(name);
    auto at = std::find(g.outputs.begin(), g.outputs.end(), id);
    if (id < 0 || at == g.outputs.end()) {
      std::string all;
      for (const IoInfo& o : outputs) all += (all.empty() ? "'" : ", '") + o.name + "'";
      fail(ErrorCode::kInvalidArgument, "'{}' is not an output of the model; its outputs are {}", name, all);
    }
    positions.push_back(static_cast<size_t>(at - g.outputs.begin()));
  }
  return positions;
}

runtime::RunControl Session::Impl::control_for(const RunOptions& options) {
  runtime::RunControl control;
  control.cancel = options.cancel;
  control.deadline = options.deadline;
  control.limits = limits;
  control.threads = options.calling_thread_only ? nullptr : threads.get();
  if (options.profile)
    control.on_step = [&options](const runtime::Plan& p, const runtime::Step& step, int depth, double ms) {
      const ir::Node& node = p.graph().nodes[static_cast<size_t>(step.node)];
      StepProfile sp;
      sp.node = node.name.empty() ? fmt::format("#{}", step.node) : node.name;
      sp.op_type = node.qualified_op();
      if (step.concat_in_place) sp.kernel = "in place (the producers wrote their slices)";
      else if (step.view_of_input) sp.kernel = "view (no copy)";
      else if (step.prepared) sp.kernel = step.prepared->describe();
      sp.index = static_cast<size_t>(step.node);
      sp.depth = depth;
      sp.milliseconds = ms;
      options.profile(sp);
    };
  control.plan_subgraph = [this](const ir::Graph& sub, const std::unordered_map<int, ops::ValueInfo>& sub_fed) {
    return plan_for(sub, sub_fed, nullptr);
  };
  return control;
}

NamedTensors Session::run(const NamedTensors& feeds, const RunOptions& options, RunStats* stats) const {
  auto start = std::chrono::steady_clock::now();
  const ir::Graph& g = *impl_->model.graph;
  Impl::CheckedFeeds checked = impl_->check_feeds(feeds);
  const std::vector<size_t> positions = impl_->output_positions(options.output_names);

  bool reused = false;
  auto plan = impl_->plan_for(g, checked.fed, &reused);
  runtime::RunControl control = impl_->control_for(options);
  runtime::MemoryStats memory;
  runtime::Executor executor(*plan, control, memory);
  // Nothing parks the pool's workers after a run: they poll for the next job for 100 µs and then sleep on a
  // futex (kernels/thread_pool.h), so an idle session burns no CPU (SessionThreads.IdleAfterARunBurnsNoCpu).
  std::vector<Tensor> all = executor.run(checked.by_id);

  NamedTensors result;
  for (size_t pos : positions) result.emplace_back(g.value(g.outputs[pos]).name, all[pos]);
  if (stats) {
    stats->milliseconds =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    stats->peak_bytes = plan->arena_bytes() + memory.peak_dynamic_bytes;
    stats->arena_bytes = plan->arena_bytes();
    stats->plan_reused = reused;
    stats->steps = plan->steps().size();
    stats->packed_weight_bytes = impl_->prepared->packed_bytes();
  }
  return result;
}

}  // namespace kiln
