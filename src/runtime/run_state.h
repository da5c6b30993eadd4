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
};

/// A plan's spare run states. Thread-safe.
class RunStatePool {
 public:
  std::unique_ptr<RunState> acquire(const Plan& plan);
  void release(std::unique_ptr<RunState> state);

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<RunState>> free_;
};

}  // namespace kiln::runtime
