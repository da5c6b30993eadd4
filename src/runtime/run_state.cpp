#include "runtime/run_state.h"

#include <cstdlib>

#include "base/error.h"
#include "runtime/memory_planner.h"
#include "runtime/plan.h"

namespace kiln::runtime {

RunState::RunState(const Plan& plan) {
  const ir::Graph& g = plan.graph();
  if (plan.arena_bytes() > 0) {
    void* mem = std::aligned_alloc(kArenaAlignment, (plan.arena_bytes() + kArenaAlignment - 1) / kArenaAlignment *
                                                        kArenaAlignment);
    if (!mem) fail(ErrorCode::kLimitExceeded, "out of memory allocating a {}-byte arena", plan.arena_bytes());
    arena = std::shared_ptr<void>(mem, std::free);
  }
  const auto& steps = plan.steps();
  outputs.resize(steps.size());
  inputs.resize(steps.size());
  values.assign(g.values.size(), nullptr);
  slots.assign(g.values.size(), nullptr);
  for (size_t s = 0; s < steps.size(); ++s) {
    const ir::Node& node = g.nodes[static_cast<size_t>(steps[s].node)];
    inputs[s].assign(node.inputs.size(), nullptr);
    outputs[s].resize(node.outputs.size());
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const int v = node.outputs[o];
      if (v < 0) continue;
      slots[static_cast<size_t>(v)] = &outputs[s][o];
    }
  }
}

bool RunState::in_arena(const void* p, size_t arena_bytes) const {
  const char* base = static_cast<const char*>(arena.get());
  return base && p >= base && p < base + arena_bytes;
}

void RunState::drop_outside_arena(size_t arena_bytes) {
  for (size_t v = 0; v < values.size(); ++v) {
    values[v] = nullptr;
    if (Tensor* slot = slots[v]; slot && !in_arena(slot->raw_data(), arena_bytes)) *slot = Tensor();
  }
}

std::unique_ptr<RunState> RunStatePool::acquire(const Plan& plan) {
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      std::unique_ptr<RunState> s = std::move(free_.back());
      free_.pop_back();
      return s;
    }
  }
  return std::make_unique<RunState>(plan);
}

void RunStatePool::release(std::unique_ptr<RunState> state) {
  std::lock_guard lock(mutex_);
  free_.push_back(std::move(state));
}

}  // namespace kiln::runtime
