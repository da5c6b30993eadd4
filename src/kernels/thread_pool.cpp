#include "kernels/thread_pool.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <exception>
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

namespace {

// How long a worker keeps polling for the next job before it sleeps: long enough to cover the serial gap between
// two parallel steps of one run (microseconds), short enough that a finished run leaves no core busy.
constexpr auto kSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Sleeps while *word == expected (Linux futex; the kernel checks the value and sleeps atomically), and wakes every
// thread sleeping on word. (libstdc++ 12's atomic wait/notify lost wake-ups here.)
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Spins, then yields: for waits that end when another thread finishes an item it has started.
template <typename Done> void wait_until(Done&& done) {
  for (int k = 0; !done(); ++k) {
    if (k < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

}  // namespace

// A job's items are cut into up to kMaxRanges consecutive ranges, one per thread (threads beyond share them).
constexpr size_t kMaxRanges = 16;

struct ThreadPool::Job {
  void (*task)(void*, size_t) = nullptr;
  void* ctx = nullptr;
  size_t n = 0;
  struct alignas(64) Range {           // items [next, end) unclaimed; one cache line each
    std::atomic<size_t> next{0};
    size_t end = 0;
  };
  Range ranges[kMaxRanges];
  size_t range_count = 1;
  std::atomic<size_t> finished{0};    // items whose call returned (or was skipped after a failure)
  std::atomic<bool> failed{false};
  std::exception_ptr error;           // the first exception an item threw, written once under `failed`
};

// Claims items until none is left: those of range `slot` first, then the next ranges'. An item that throws stops
// the calls of the items not yet started; the exception reaches parallel_for's caller.
void ThreadPool::work_on(Job& job, size_t slot) {
  size_t count = 0;
  for (size_t k = 0; k < job.range_count; ++k) {
    Job::Range& r = job.ranges[(slot + k) % job.range_count];
    // next may run past end (every claimant adds 1): it only tells that the range is done.
    for (size_t i; (i = r.next.fetch_add(1, std::memory_order_relaxed)) < r.end; ++count) {
      if (job.failed.load(std::memory_order_relaxed)) continue;
      try {
        job.task(job.ctx, i);
      } catch (...) {
        if (!job.failed.exchange(true)) job.error = std::current_exception();
      }
    }
  }
  if (count) job.finished.fetch_add(count, std::memory_order_release);
}

ThreadPool::ThreadPool(size_t threads) : threads_(threads == 0 ? usable_cpus() : threads) {
  workers_.reserve(threads_ - 1);
  // Each worker starts from the epoch of its creation, not of its first reading: a pool destroyed before a worker
  // first ran would otherwise leave that worker waiting for an announcement that already came.
  const uint32_t start = epoch_.load();
  for (size_t i = 1; i < threads_; ++i) workers_.emplace_back([this, start, i] { worker_loop(start, i % kMaxRanges); });
}

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  epoch_.fetch_add(1);
  futex_wake_all(epoch_);
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::worker_loop(uint32_t seen, size_t slot) {
  for (;;) {
    // Wait for the next announcement: poll for kSpin, then sleep on the epoch. The seq_cst order of
    // (sleeping_++, epoch check) here against (epoch++, sleeping_ check) in run() means a job announced while
    // this thread goes to sleep either is seen by the check inside wait() or finds sleeping_ > 0 and wakes it.
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    for (int k = 1; epoch_.load() == seen; ++k) {
      if (k % 64 == 0 && std::chrono::steady_clock::now() > spin_until) {
        sleeping_.fetch_add(1);
        futex_wait(epoch_, seen);
        sleeping_.fetch_sub(1);
      } else {
        cpu_relax();
      }
    }
    seen = epoch_.load();
    if (stopping_.load()) return;
    // inside_ is raised before the job is read, so run() cannot return (ending the job's life) between this
    // thread's reading the pointer and its last touch of the job.
    inside_.fetch_add(1);
    if (Job* job = job_.load()) work_on(*job, slot);
    inside_.fetch_sub(1);
  }
}

void ThreadPool::run(size_t n, void (*task)(void*, size_t), void* ctx) {
  std::unique_lock<std::mutex> lock(submit_, std::try_to_lock);
  if (!lock.owns_lock()) {  // another caller's job, or a nested call: this caller's items run here
    for (size_t i = 0; i < n; ++i) task(ctx, i);
    return;
  }
  Job job;
  job.task = task;
  job.ctx = ctx;
  job.n = n;
  job.range_count = std::min(threads_, kMaxRanges);
  for (size_t t = 0; t < job.range_count; ++t) {
    job.ranges[t].next.store(t * n / job.range_count, std::memory_order_relaxed);
    job.ranges[t].end = (t + 1) * n / job.range_count;
  }
  job_.store(&job);
  epoch_.fetch_add(1);
  if (sleeping_.load() > 0) futex_wake_all(epoch_);
  work_on(job, 0);
  // Nothing is left to claim. Late workers find no job; the caller waits only for items already started and for
  // workers that may still hold the job's address.
  job_.store(nullptr);
  wait_until([&] { return job.finished.load(std::memory_order_acquire) == n; });
  wait_until([&] { return inside_.load() == 0; });
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace kiln::kernels
