#include "kernels/thread_pool.h"

#include <pthreadpool.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include "base/error.h"

namespace kiln::kernels {

namespace {

// A quota of `quota` µs per `period` µs allows ceil(quota / period) CPUs' worth of time.
size_t cpus_from_quota(double quota, double period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<size_t>(std::max(1.0, std::ceil(quota / period)));
}

size_t cgroup_cpu_limit() {
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) return quota == "max" ? 0 : cpus_from_quota(std::stod(quota), period);
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double q = 0;
  if (q1 >> q && p1 >> period) return cpus_from_quota(q, period);
  return 0;
}

}  // namespace

CpuBudget cpu_budget() {
  CpuBudget b;
  b.online = static_cast<size_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  cpu_set_t set;
  CPU_ZERO(&set);
  b.affinity = sched_getaffinity(0, sizeof(set), &set) == 0 ? static_cast<size_t>(std::max(1, CPU_COUNT(&set)))
                                                            : b.online;
  b.cgroup_quota = cgroup_cpu_limit();
  b.usable = b.cgroup_quota > 0 ? std::min(b.affinity, b.cgroup_quota) : b.affinity;
  return b;
}

size_t usable_cpus() { return cpu_budget().usable; }

ThreadPool::ThreadPool(size_t threads) : threads_(threads == 0 ? usable_cpus() : threads) {
  if (threads_ > 1) {
    pool_ = pthreadpool_create(threads_);
    if (!pool_) fail(ErrorCode::kInternal, "could not start a pool of {} threads", threads_);
    threads_ = pthreadpool_get_threads_count(pool_);
  }
}

ThreadPool::~ThreadPool() {
  if (pool_) pthreadpool_destroy(pool_);
}

void ThreadPool::run_1d(size_t n, void (*task)(void*, size_t), void* ctx) {
  pthreadpool_parallelize_1d(pool_, task, ctx, n, 0);
}

void ThreadPool::park_workers() {
  if (!pool_) return;
  // A no-op job with YIELD_WORKERS: afterwards the workers wait on a futex instead of spinning.
  pthreadpool_parallelize_1d(pool_, [](void*, size_t) {}, nullptr, threads_, PTHREADPOOL_FLAG_YIELD_WORKERS);
}

}  // namespace kiln::kernels
