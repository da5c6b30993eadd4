#pragma once
// At most N holders at once, served in arrival order. std::counting_semaphore lets any waiter through when a slot
// frees, so under a steady queue some requests wait many turns: with `instances: 1` and 16 gRPC clients on the
// 2-core Zen 2, p50 was 35 ms but p99 159 ms (KServe's FIFO server: 58 / 59 ms). In arrival order a request waits
// for the ones ahead of it only.
//
// A freed slot is handed straight to the first waiter, and only that waiter is woken (each waits on its own
// condition variable). One condition variable for all, notified to all, woke every waiter at each release to find
// it was not its turn: with 16 clients that is up to 15 futile wake-ups per run. super_resolution with
// `"instances": 2, "threads": 1` and 16 kiln-loadgen clients (2-core EPYC, 2026-12-07, two rounds each):
// binary HTTP 518 and 462/s before, 566 and 534/s after; gRPC 513 and 478/s before, 560 and 511/s after.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

namespace kiln::serve {

class FifoSlots {
 public:
  explicit FifoSlots(int64_t slots) : slots_(slots), free_(slots) {}
  FifoSlots(const FifoSlots&) = delete;
  FifoSlots& operator=(const FifoSlots&) = delete;

  void acquire() {
    std::unique_lock lock(mutex_);
    if (free_ > 0 && waiting_.empty()) {
      --free_;
      return;
    }
    Waiter me;
    waiting_.push_back(&me);
    me.turn.wait(lock, [&] { return me.granted; });
  }

  /// How many holders it admits at once.
  int64_t slots() const { return slots_; }

  /// Threads waiting for a slot now (tests).
  size_t waiting() {
    std::lock_guard lock(mutex_);
    return waiting_.size();
  }

  void release() {
    std::lock_guard lock(mutex_);
    if (waiting_.empty()) {
      ++free_;
      return;
    }
    Waiter* next = waiting_.front();
    waiting_.pop_front();
    next->granted = true;  // the slot passes to it directly: free_ stays as it is
    // Notified under the lock: the waiter (and its condition variable, on its stack) cannot leave before this.
    next->turn.notify_one();
  }

 private:
  struct Waiter {
    std::condition_variable turn;
    bool granted = false;
  };
  const int64_t slots_;
  std::mutex mutex_;
  std::deque<Waiter*> waiting_;  ///< in arrival order
  int64_t free_;
};

}  // namespace kiln::serve
