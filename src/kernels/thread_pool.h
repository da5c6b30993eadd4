#pragma once
// The one pool kernels split work through (pthreadpool, the pool XNNPACK and PyTorch use). A session owns one
// with a fixed thread count; kernels receive it as a pointer that may be null (run on the calling thread).
// Work is split into items whose results never depend on how many threads ran them.

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

struct pthreadpool;

namespace kiln::kernels {

class ThreadPool {
 public:
  /// `threads` == 0: the CPUs this process may use (see usable_cpus()). 1: no worker threads.
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t threads() const { return threads_; }

  /// Calls fn(i) for every i in [0, n), spread over the pool's threads; returns once all calls returned.
  template <typename F> void parallel_for(size_t n, F&& fn) {
    if (n == 0) return;
    if (n == 1 || threads_ == 1) {
      for (size_t i = 0; i < n; ++i) fn(i);
      return;
    }
    run_1d(n, [](void* ctx, size_t i) { (*static_cast<std::remove_reference_t<F>*>(ctx))(i); }, &fn);
  }

  /// Puts idle workers to sleep in the kernel now instead of letting them spin-wait for the next job (called
  /// when a run ends, so a finished session burns no CPU).
  void park_workers();

 private:
  void run_1d(size_t n, void (*task)(void*, size_t), void* ctx);

  size_t threads_ = 1;
  pthreadpool* pool_ = nullptr;
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
