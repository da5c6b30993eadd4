#include "load_run.h"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <optional>
#include <thread>

namespace kiln::loadgen {

namespace {

using Clock = std::chrono::steady_clock;

double cpu_seconds_so_far() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// What the clients share: the requests left to send, the first answer's outputs and the failures.
class Shared {
 public:
  explicit Shared(LoadBounds bounds) : unbounded_(bounds.requests == 0), left_(bounds.requests) {}

  // Claims one request; false once the count is used up.
  bool claim() { return unbounded_ || left_.fetch_sub(1, std::memory_order_relaxed) > 0; }

  // The first answer's outputs become the ones every later answer must declare.
  bool same_as_first(const AnswerShape& shape) {
    std::lock_guard lock(mutex_);
    if (!first_) first_ = shape;
    return *first_ == shape;
  }

  void fail(const std::string& what) {
    std::lock_guard lock(mutex_);
    ++failed_;
    if (first_failure_.empty()) first_failure_ = what;
  }

  int64_t failed() const { return failed_; }
  const std::string& first_failure() const { return first_failure_; }

 private:
  const bool unbounded_;
  std::atomic<int64_t> left_;
  std::mutex mutex_;
  std::optional<AnswerShape> first_;
  int64_t failed_ = 0;
  std::string first_failure_;
};

void client_loop(InferClient& client, Shared& shared, Clock::time_point stop_at, std::vector<double>& latencies_ms) {
  while (Clock::now() < stop_at && shared.claim()) {
    const Clock::time_point start = Clock::now();
    try {
      const AnswerShape shape = client.infer();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (shared.same_as_first(shape))
        latencies_ms.push_back(ms);
      else
        shared.fail("an answer declares other outputs or shapes than the first answer");
    } catch (const std::exception& e) {
      shared.fail(e.what());
    }
  }
}

}  // namespace

LoadResult run_load(int clients, const std::function<std::unique_ptr<InferClient>()>& connect, LoadBounds bounds) {
  Shared shared(bounds);
  std::vector<std::vector<double>> latencies(clients);
  // The clock starts once every client has connected (connecting is not part of the load): the clients report
  // in on `connected`, then wait for `go`, given once the start time and the time bound are set.
  std::latch connected(clients), go(1);
  Clock::time_point start, stop_at = Clock::time_point::max();
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      std::unique_ptr<InferClient> client;
      try {
        client = connect();
      } catch (const std::exception& e) {
        shared.claim();
        shared.fail(e.what());
      }
      connected.count_down();
      go.wait();
      if (client) client_loop(*client, shared, stop_at, latencies[i]);
    });
  connected.wait();
  start = Clock::now();
  if (bounds.seconds > 0)
    stop_at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(bounds.seconds));
  const double cpu_at_start = cpu_seconds_so_far();
  go.count_down();
  for (std::thread& t : threads) t.join();

  LoadResult result;
  result.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.cpu_seconds = cpu_seconds_so_far() - cpu_at_start;
  result.failed = shared.failed();
  result.first_failure = shared.first_failure();
  for (const std::vector<double>& l : latencies)
    result.latencies_ms.insert(result.latencies_ms.end(), l.begin(), l.end());
  result.answered = static_cast<int64_t>(result.latencies_ms.size());
  return result;
}

}  // namespace kiln::loadgen
