// Session::bind and Binding: the checks and plan choice of Session::run done once, then runs on a run state
// the binding keeps, so its output tensors are rewritten in place and a steady-state run allocates nothing.

#include <chrono>

#include "api/session_impl.h"

namespace kiln {

struct Binding::Impl {
  std::shared_ptr<Session::Impl> session;
  std::shared_ptr<const runtime::Plan> plan;
  std::unordered_map<int, Tensor> feeds;  // by value id; share memory with the caller's tensors
  std::vector<size_t> positions;          // of the bound outputs among the graph's outputs
  std::unique_ptr<runtime::RunState> state;
  std::vector<Tensor> graph_outputs;      // every graph output of the last run
  NamedTensors outputs;

  // The run state goes back to the plan's pool, as a finished Session::run leaves its own: a later run or binding
  // of the plan reuses its arena instead of allocating a second one (kiln bench's first run and its binding held
  // two: MobileNet-v3 at batch 8, 43 MiB each).
  ~Impl() {
    if (!state) return;
    state->drop_outside_arena(plan->arena_bytes());
    plan->run_states().release(std::move(state));
  }
};

Binding Session::bind(const NamedTensors& feeds, const std::vector<std::string>& output_names) const {
  auto b = std::make_unique<Binding::Impl>();
  b->session = impl_;
  Impl::CheckedFeeds checked = impl_->check_feeds(feeds);
  b->positions = impl_->output_positions(output_names);
  b->plan = impl_->plan_for(*impl_->model.graph, checked.fed, nullptr);
  b->feeds = std::move(checked.by_id);
  b->state = b->plan->run_states().acquire(*b->plan);
  const ir::Graph& g = *impl_->model.graph;
  b->graph_outputs.resize(g.outputs.size());
  for (size_t pos : b->positions) b->outputs.emplace_back(g.value(g.outputs[pos]).name, Tensor());
  return Binding(std::move(b));
}

Binding::Binding(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Binding::Binding(Binding&&) noexcept = default;
Binding& Binding::operator=(Binding&&) noexcept = default;
Binding::~Binding() = default;

const NamedTensors& Binding::outputs() const { return impl_->outputs; }

void Binding::run(const RunOptions& options, RunStats* stats) {
  if (!options.output_names.empty())
    fail(ErrorCode::kInvalidArgument, "a Binding's outputs are chosen at Session::bind, not in RunOptions::output_names");
  auto start = std::chrono::steady_clock::now();
  Impl& b = *impl_;
  runtime::RunControl control = b.session->control_for(options);
  runtime::MemoryStats memory;
  {
    runtime::Executor executor(*b.plan, control, memory, *b.state);
    executor.run_into(b.feeds, b.graph_outputs);
  }
  for (size_t i = 0; i < b.positions.size(); ++i) b.outputs[i].second = b.graph_outputs[b.positions[i]];
  if (stats) {
    stats->milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    stats->peak_bytes = b.plan->arena_bytes() + memory.peak_dynamic_bytes;
    stats->arena_bytes = b.plan->arena_bytes();
    stats->plan_reused = true;
    stats->steps = b.plan->steps().size();
    stats->packed_weight_bytes = b.session->prepared->packed_bytes();
  }
}

}  // namespace kiln
