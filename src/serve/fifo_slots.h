#pragma once
// At most N holders at once, served in arrival order. std::counting_semaphore lets any waiter through when a slot
// frees, so under a steady queue some requests wait many turns: with `instances: 1` and 16 gRPC clients on the
// 2-core Zen 2, p50 was 35 ms but p99 159 ms (KServe's FIFO server: 58 / 59 ms). In arrival order a request waits
// for the ones ahead of it only.

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace kiln::serve {

class FifoSlots {
 public:
  explicit FifoSlots(int64_t slots) : free_(slots) {}
  FifoSlots(const FifoSlots&) = delete;
  FifoSlots& operator=(const FifoSlots&) = delete;

  void acquire() {
    std::unique_lock lock(mutex_);
    const uint64_t ticket = next_ticket_++;
    turn_.wait(lock, [&] { return ticket == serving_ && free_ > 0; });
    ++serving_;
    --free_;
    if (free_ > 0) turn_.notify_all();  // the next ticket may take the next free slot
  }

  void release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    turn_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable turn_;
  uint64_t next_ticket_ = 0;  ///< handed to the next arrival
  uint64_t serving_ = 0;      ///< the ticket whose turn it is
  int64_t free_;
};

}  // namespace kiln::serve
