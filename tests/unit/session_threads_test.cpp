// Threads a session uses (intra_op_threads, usable_cpus), that an idle session burns no CPU after a run, and
// the per-step profile hook (RunOptions::profile). No speed is asserted: the idle test checks for a busy loop.

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>

#include <time.h>

#include <chrono>
#include <thread>

#include "kernels/thread_pool.h"
#include "kiln/session.h"
#include "model_paths.h"

using namespace kiln;

namespace {

using kiln::testing::kSuperResolutionModel;

Tensor image(int64_t batch) {
  Tensor t(DType::kFloat32, {batch, 1, 24, 20});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i % 17) / 17.0f;
  return t;
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// CPU time the whole process (every thread) uses while the calling thread sleeps for `seconds`.
double idle_cpu_seconds(double seconds) {
  double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  return process_cpu_seconds() - before;
}

TEST(UsableCpus, AtLeastOneAndNoMoreThanTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  const size_t n = kernels::usable_cpus();
  EXPECT_GE(n, 1u);
  EXPECT_LE(n, static_cast<size_t>(CPU_COUNT(&set)));
  kernels::CpuBudget b = kernels::cpu_budget();
  EXPECT_EQ(b.usable, n);
  EXPECT_EQ(b.affinity, static_cast<size_t>(CPU_COUNT(&set)));
  EXPECT_LE(b.affinity, b.online);
  if (b.cgroup_quota > 0) {
    EXPECT_LE(b.usable, b.cgroup_quota);
  }
}

TEST(SessionThreads, ReportsTheThreadsAsked) {
  SessionOptions two;
  two.intra_op_threads = 2;
  EXPECT_EQ(Session::from_file(kSuperResolutionModel, two).threads(), 2u);
  SessionOptions one;
  one.intra_op_threads = 1;
  EXPECT_EQ(Session::from_file(kSuperResolutionModel, one).threads(), 1u);
  EXPECT_EQ(Session::from_file(kSuperResolutionModel).threads(), kernels::usable_cpus());  // 0: the usable CPUs
  SessionOptions bad;
  bad.intra_op_threads = -1;
  EXPECT_THROW(Session::from_file(kSuperResolutionModel, bad), Error);
}

TEST(SessionThreads, ResultsDoNotDependOnTheThreadCount) {
  SessionOptions one, two;
  one.intra_op_threads = 1;
  two.intra_op_threads = 2;
  Tensor a = Session::from_file(kSuperResolutionModel, one).run({{"input", image(3)}}).at(0).second;
  Tensor b = Session::from_file(kSuperResolutionModel, two).run({{"input", image(3)}}).at(0).second;
  ASSERT_EQ(a.dims(), b.dims());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]) << i;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// RunOptions::calling_thread_only (kiln serve under load): the same results as a run split over the session's
// threads, and the work stays on the calling thread: the session's worker, asleep before, takes no part (what
// the process spends beyond the calling thread is a small fraction of the run; a worker sharing the work would
// take about half).
TEST(SessionThreads, CallingThreadOnlyKeepsTheWorkOnTheCaller) {
  SessionOptions two;
  two.intra_op_threads = 2;
  Session session = Session::from_file(kSuperResolutionModel, two);
  const Tensor pooled = session.run({{"input", image(8)}}).at(0).second;
  RunOptions alone;
  alone.calling_thread_only = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the worker stops polling and sleeps
  const double process_before = process_cpu_seconds(), thread_before = thread_cpu_seconds();
  Tensor result;
  for (int i = 0; i < 10; ++i) result = session.run({{"input", image(8)}}, alone).at(0).second;
  const double caller = thread_cpu_seconds() - thread_before;
  const double others = process_cpu_seconds() - process_before - caller;
  EXPECT_LT(others, 0.1 * caller + 0.002) << "caller " << caller << " s, other threads " << others << " s";
  ASSERT_EQ(result.dims(), pooled.dims());
  for (int64_t i = 0; i < result.numel(); ++i) ASSERT_EQ(result.data<float>()[i], pooled.data<float>()[i]) << i;
}

// A finished run must not leave worker threads spin-waiting (a known complaint about ONNX Runtime): over one
// second of idling after a 2-thread run, the process uses well under a tenth of a core.
TEST(SessionThreads, IdleAfterARunBurnsNoCpu) {
  SessionOptions two;
  two.intra_op_threads = 2;
  Session session = Session::from_file(kSuperResolutionModel, two);
  for (int i = 0; i < 3; ++i) session.run({{"input", image(4)}});  // batch 4: work split over the pool
  EXPECT_LT(idle_cpu_seconds(1.0), 0.1);
}

// Workers poll for the next job for a bounded time, then sleep: a pool left idle costs nothing.
TEST(ThreadPoolIdle, IdleWorkersBurnNoCpu) {
  kernels::ThreadPool pool(2);
  std::vector<double> out(4096);
  for (int r = 0; r < 50; ++r)
    pool.parallel_for(out.size(), [&](size_t i) { out[i] += static_cast<double>(i) * 0.5; });
  EXPECT_LT(idle_cpu_seconds(1.0), 0.1);
}

TEST(RunProfile, OneCallPerStepWithItsNodeAndTime) {
  Session session = Session::from_file(kSuperResolutionModel);
  std::vector<StepProfile> steps;
  RunOptions options;
  options.profile = [&](const StepProfile& s) { steps.push_back(s); };
  RunStats stats;
  auto start = std::chrono::steady_clock::now();
  session.run({{"input", image(1)}}, options, &stats);
  double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(steps.size(), stats.steps);
  double total = 0;
  size_t convs = 0;
  for (const StepProfile& s : steps) {
    EXPECT_FALSE(s.node.empty());
    EXPECT_FALSE(s.op_type.empty());
    EXPECT_EQ(s.depth, 0);
    EXPECT_GE(s.milliseconds, 0.0);
    total += s.milliseconds;
    convs += s.op_type == "Conv" || s.op_type == "ai.kiln.FusedConv";  // the passes fuse Conv + Relu
  }
  EXPECT_EQ(convs, 4u);
  EXPECT_LE(total, wall);
  // Without a sink nothing is called and the run is the same.
  steps.clear();
  session.run({{"input", image(1)}});
  EXPECT_TRUE(steps.empty());
}

}  // namespace
