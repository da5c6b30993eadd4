#pragma once
// The one pool kernels split work through. A session owns one with a fixed thread count; kernels receive it as a
// pointer that may be null (run on the calling thread). Work is split into items whose results never depend on
// how many threads ran them.
//
// Why kiln's own pool and not pthreadpool (which the design first named): pthreadpool's caller waits, after every
// job, until each worker has woken and checked in, even when the caller has done all the items itself. When
// another process holds a core (a shared CI machine, a server with other work), every job then waits for a
// descheduled worker's next time slice: on this 2-core machine with one busy core, BERT-mini at 2 threads ran in
// 192 ms against 10.5 ms at 1 thread. Here a job's items are claimed from a shared counter; the caller claims them
// too, and waits only for items a worker has actually started, so a worker that is late finds nothing left to do.
//
// Which thread runs which item: thread t (the caller is 0, worker i is i + 1) first claims the t-th of `threads`
// equal consecutive ranges of the items, then helps with the others' (a late or descheduled thread's range goes to
// the others, as above). Kernels number their items so that a range covers the same part of a tensor from one
// node to the next (the same rows of every plane: see kernels/plane_split.h), so the data a node reads is mostly
// in its own core's cache. With items taken in any order, half of every tensor moved between the cores at each
// node: on a Zen 2 host whose two vCPUs shared no L3, writing lines last held by the other core cost 5x writing
// one's own, and MobileNet-v2's 112x112 expansion (96x12544x16, 0.74 ms on 1 thread) took 0.87 ms on 2.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace kiln::kernels {

class ThreadPool {
 public:
  /// `threads` == 0: the CPUs this process may use (see usable_cpus()). 1: no worker threads.
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t threads() const { return threads_; }

  /// Calls fn(i) for every i in [0, n), spread over the pool's threads; returns once all calls returned. A call
  /// made while the pool is busy with another caller's job (a second thread running the same session, or fn
  /// itself calling parallel_for) runs its items on the calling thread.
  template <typename F> void parallel_for(size_t n, F&& fn) {
    if (n == 0) return;
    if (n == 1 || threads_ == 1) {
      for (size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    run(n, [](void* ctx, size_t i) { (*static_cast<std::remove_reference_t<F>*>(ctx))(i); }, &fn);
  }

 private:
  struct Job;
  void run(size_t n, void (*task)(void*, size_t), void* ctx);
  void worker_loop(uint32_t seen, size_t slot);
  static void work_on(Job& job, size_t slot);

  size_t threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex submit_;                    // one job at a time; a caller that cannot take it runs inline
  std::atomic<uint32_t> epoch_{0};       // bumped to announce a job (or shutdown); workers sleep on it
  std::atomic<Job*> job_{nullptr};       // the job being run, null between jobs
  std::atomic<int> inside_{0};           // workers that may hold a pointer to the current job
  std::atomic<int> sleeping_{0};         // workers blocked on epoch_ (a job announcement must wake them)
  std::atomic<bool> stopping_{false};
};

/// Calls fn(i) for i in [0, n) on `pool`, or inline when `pool` is null.
template <typename F> void parallel_for(ThreadPool* pool, size_t n, F&& fn) {
  if (pool) {
    pool->parallel_for(n, std::forward<F>(fn));
  } else {
    for (size_t i = 0; i < n; ++i) fn(i);
  }
}

/// The CPUs this process may use: its affinity mask, further limited by a cgroup v2 CPU quota (cpu.max) or a
/// cgroup v1 CFS quota when one is set. At least 1.
size_t usable_cpus();

/// What usable_cpus() is made of, for `kiln info`.
struct CpuBudget {
  size_t online = 1;        ///< processors the OS has online
  size_t affinity = 1;      ///< CPUs in this process's affinity mask
  size_t cgroup_quota = 0;  ///< CPUs' worth of time the cgroup quota allows, rounded up (0: no quota)
  size_t usable = 1;        ///< min(affinity, cgroup_quota when set): usable_cpus()
};
CpuBudget cpu_budget();

}  // namespace kiln::kernels
