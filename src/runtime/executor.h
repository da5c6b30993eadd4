#pragma once
// Runs a Plan: feeds in, outputs out. Intermediates with plan-time shapes live in one arena at the planned
// offsets; others are sized at run time by re-running inference on the actual values. Values are released
// after their last reader. Subgraphs (If/Loop/Scan) run through the same machinery, with values of enclosing
// scopes found by name.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/plan.h"

namespace kiln::runtime {

/// Per-run controls shared by a run and the subgraphs it starts.
struct RunControl {
  const std::atomic<bool>* cancel = nullptr;  ///< set to true from another thread to stop the run
  std::optional<std::chrono::steady_clock::time_point> deadline;
  Limits limits;
  int64_t subgraph_runs = 0;  ///< counted against limits.max_subgraph_runs
  int64_t macs = 0;           ///< counted against limits.max_run_macs
  /// The session's pool for kernels that split work (null: the calling thread).
  kernels::ThreadPool* threads = nullptr;
  /// Profiling: when set, called after each step with its wall time; `depth` is 0 for the top graph's steps
  /// and 1+ inside subgraphs (whose time is also inside the enclosing step's). Unset, no clock is read.
  std::function<void(const Plan& plan, const Step& step, int depth, double milliseconds)> on_step;
  /// Builds (or finds cached) plans for subgraphs; supplied by the session.
  std::function<std::shared_ptr<const Plan>(const ir::Graph&, const std::unordered_map<int, ops::ValueInfo>&)>
      plan_subgraph;
};

/// Memory accounting of one run (arena plus dynamically sized tensors).
struct MemoryStats {
  size_t arena_bytes = 0;
  size_t dynamic_bytes = 0;
  size_t peak_dynamic_bytes = 0;
  size_t peak_bytes() const { return arena_bytes + peak_dynamic_bytes; }
};

class Executor : public ops::SubgraphRunner {
 public:
  /// `parent` is the executor of the enclosing graph when this one runs a subgraph.
  Executor(const Plan& plan, RunControl& control, MemoryStats& stats, const Executor* parent = nullptr);
  /// Runs on a state the caller keeps between runs (a Binding): the tensors of its step slots, graph outputs
  /// included, stay after the run and are written again in place by the next one when dtype and dims agree.
  Executor(const Plan& plan, RunControl& control, MemoryStats& stats, RunState& kept);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  /// Runs with tensors for the plan's fed values (by value id) and returns the graph outputs in order.
  std::vector<Tensor> run(const std::unordered_map<int, Tensor>& feeds);
  /// The same, writing the graph outputs into `outputs` (one per graph output, in order).
  void run_into(const std::unordered_map<int, Tensor>& feeds, std::span<Tensor> outputs);

  /// SubgraphRunner: runs `graph` (a body of the node being executed) with its inputs in order.
  std::vector<Tensor> run(const ir::Graph& graph, std::span<const Tensor> inputs) override;
  /// SubgraphRunner: checks an allocation a kernel sizes itself against the run's limits.
  void check_allocation(int64_t bytes, const std::string& what) override;

 private:
  /// A live value of this scope or an enclosing one, by name (for subgraphs' outer references).
  const Tensor* lookup(const std::string& name) const;
  void check_control() const;
  /// Adds the node's multiply-add estimate to the run's count; refuses it when that passes limits.max_run_macs.
  void count_macs(const Step& step, const ops::KernelContext& ctx);
  Tensor allocate(DType dtype, const std::vector<int64_t>& dims, const std::string& what);
  /// A step's output tensor: the slot's tensor when it already has this dtype and these dims and owns memory
  /// outside the arena (kept from the previous run of a Binding), else a new one, checked against the limits.
  void allocate_output(const Step& step, size_t o, DType dtype, const std::vector<int64_t>& dims, Tensor& slot);
  void execute_step(const Step& step, size_t index);
  /// Sizes the outputs of a step whose shapes were not known at plan time (inference with the inputs' data).
  void allocate_dynamic_outputs(const Step& step, std::vector<Tensor>& outputs);
  /// Frees a value after its last reader (arena views stay, made once per run state).
  void release(int value);
  /// True when p points into this run's arena (arena views, and views of them, are kept between runs).
  bool in_arena(const void* p) const;
  /// An in-place Concat's inputs that a kernel put somewhere else than their slice (set_output) are copied there;
  /// `images` > 1 when each image's slices lie an output image apart (Step::output_image_stride).
  void copy_concat_stragglers(const ir::Node& node, const std::vector<const Tensor*>& inputs, int64_t images);

  const Plan& plan_;
  RunControl& control_;
  MemoryStats& stats_;
  const Executor* parent_;
  std::unique_ptr<RunState> owned_state_;  ///< from the plan's pool, returned to it at the end (null if kept)
  RunState* state_;
};

}  // namespace kiln::runtime
