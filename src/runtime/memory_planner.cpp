#include "runtime/memory_planner.h"

#include <algorithm>
#include <map>
#include <optional>

namespace kiln::runtime {

namespace {

size_t align_up(size_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// Free space in the arena: offset -> size, kept coalesced.
class FreeList {
 public:
  // Best fit; returns SIZE_MAX when nothing fits.
  size_t take(size_t bytes) {
    auto best = blocks_.end();
    for (auto it = blocks_.begin(); it != blocks_.end(); ++it)
      if (it->second >= bytes && (best == blocks_.end() || it->second < best->second)) best = it;
    if (best == blocks_.end()) return SIZE_MAX;
    size_t off = best->first, size = best->second;
    blocks_.erase(best);
    if (size > bytes) blocks_[off + bytes] = size - bytes;
    return off;
  }
  void give(size_t off, size_t bytes) {
    auto [it, ok] = blocks_.emplace(off, bytes);
    auto next = std::next(it);
    if (next != blocks_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      blocks_.erase(next);
    }
    if (it != blocks_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        blocks_.erase(it);
      }
    }
  }
  // The free block ending exactly at `end`, if any (offset, size).
  std::optional<std::pair<size_t, size_t>> tail_at(size_t end) const {
    if (blocks_.empty()) return std::nullopt;
    auto last = std::prev(blocks_.end());
    if (last->first + last->second != end) return std::nullopt;
    return *last;
  }
  void drop_tail() { blocks_.erase(std::prev(blocks_.end())); }

 private:
  std::map<size_t, size_t> blocks_;
};

}  // namespace

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests) {
  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  int steps = 0;
  for (const auto& r : requests) steps = std::max(steps, r.last_step + 1);
  std::vector<std::vector<size_t>> born(static_cast<size_t>(steps)), dies(static_cast<size_t>(steps));
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].bytes == 0) continue;
    born[static_cast<size_t>(requests[i].first_step)].push_back(i);
    dies[static_cast<size_t>(requests[i].last_step)].push_back(i);
  }
  FreeList free;
  size_t top = 0;
  for (size_t s = 0; s < static_cast<size_t>(steps); ++s) {
    // Largest first within a step gives tighter packing.
    std::sort(born[s].begin(), born[s].end(),
              [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });
    for (size_t i : born[s]) {
      size_t bytes = align_up(requests[i].bytes);
      size_t off = free.take(bytes);
      if (off == SIZE_MAX) {
        // Grow the arena; start inside a free block at its end rather than leave that block unused.
        off = top;
        if (auto tail = free.tail_at(top)) {
          off = tail->first;
          free.drop_tail();
        }
        top = off + bytes;
      }
      plan.offsets[i] = off;
    }
    for (size_t i : dies[s]) free.give(plan.offsets[i], align_up(requests[i].bytes));
  }
  plan.arena_bytes = top;
  return plan;
}

}  // namespace kiln::runtime
