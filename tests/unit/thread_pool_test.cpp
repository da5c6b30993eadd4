// kernels::ThreadPool: every item runs exactly once whatever the timing, a failing item's exception reaches the
// caller, and calls that find the pool busy (nested, or from another thread) run inline instead of waiting.

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"

using kiln::kernels::ThreadPool;

TEST(ThreadPool, EveryItemRunsExactlyOnceInManyJobs) {
  ThreadPool pool(2);
  for (size_t n : {2u, 3u, 17u, 1000u}) {
    std::vector<std::atomic<int>> hits(n);
    for (int job = 0; job < 200; ++job) pool.parallel_for(n, [&](size_t i) { hits[i].fetch_add(1); });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 200) << "n " << n << " item " << i;
  }
}

TEST(ThreadPool, MoreThreadsThanCoresStillRunEverything) {
  ThreadPool pool(8);
  EXPECT_EQ(pool.threads(), 8u);
  std::atomic<long> sum{0};
  for (int job = 0; job < 50; ++job) pool.parallel_for(64, [&](size_t i) { sum += static_cast<long>(i); });
  EXPECT_EQ(sum.load(), 50L * (63 * 64 / 2));
}

TEST(ThreadPool, AnItemsExceptionReachesTheCallerAndThePoolKeepsWorking) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.parallel_for(100,
                                 [&](size_t i) {
                                   ran++;
                                   if (i == 7) throw std::runtime_error("item 7");
                                 }),
               std::runtime_error);
  EXPECT_LE(ran.load(), 100);
  std::atomic<int> after{0};
  pool.parallel_for(10, [&](size_t) { after++; });
  EXPECT_EQ(after.load(), 10);
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(8 * 8);
  pool.parallel_for(8, [&](size_t i) { pool.parallel_for(8, [&](size_t j) { hits[i * 8 + j]++; }); });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, CallersOnSeveralThreadsAllComplete) {
  ThreadPool pool(2);
  std::vector<std::thread> callers;
  std::vector<long> sums(4, 0);
  for (size_t c = 0; c < sums.size(); ++c)
    callers.emplace_back([&, c] {
      for (int job = 0; job < 100; ++job) {
        std::atomic<long> s{0};
        pool.parallel_for(32, [&](size_t i) { s += static_cast<long>(i); });
        sums[c] += s.load();
      }
    });
  for (std::thread& t : callers) t.join();
  for (long s : sums) EXPECT_EQ(s, 100L * (31 * 32 / 2));
}
