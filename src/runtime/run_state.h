#pragma once
// What one run of a Plan needs besides the plan: its arena, a slot per step output (arena-backed ones are views
// made once), and the argument arrays the kernels receive. A plan keeps the states of finished runs and hands
// them to later runs (one per run in flight), so a run of a fixed-shape plan allocates nothing for itself:
// only dynamically sized tensors and the outputs it returns are new memory.

#include <memory>
#include <mutex>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::runtime {

class Plan;

struct RunState {
  explicit RunState(const Plan& plan);

  std::shared_ptr<void> arena;
  /// Per step: its output tensors, in the node's output order. Slots of arena-backed values hold their view
  /// between runs; other slots are emptied once their value is released.
  std::vector<std::vector<Tensor>> outputs;
  /// Per step: its input tensors (filled before the step runs).
  std::vector<std::vector<const Tensor*>> inputs;
  /// Per value id: the live tensor (a step slot, a feed or a constant), or null.
  std::vector<const Tensor*> values;
  /// Per value id: the step slot that holds it, when a step produced it.
  std::vector<Tensor*> slots;

  /// Whether p points into the arena (of `arena_bytes`, the plan's).
  bool in_arena(const void* p, size_t arena_bytes) const;
  /// Forgets the run's values and empties the slots that are not arena views (graph outputs, dynamically sized
  /// tensors), so the state holds no memory but its arena and can serve another run: a slot that still held a
  /// tensor would be rewritten in place by the next run, under whoever kept it.
  void drop_outside_arena(size_t arena_bytes);
};

/// A plan's spare run states (Session::run's and those of dropped Bindings). Thread-safe.
class RunStatePool {
 public:
  std::unique_ptr<RunState> acquire(const Plan& plan);
  void release(std::unique_ptr<RunState> state);

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<RunState>> free_;
};

}  // namespace kiln::runtime
